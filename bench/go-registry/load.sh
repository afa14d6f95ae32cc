#!/usr/bin/env bash
# Load benchmark (not a test): go-registry under many concurrent GOPROXY clients, with and
# without a mix of hostile slow clients, in the same run.
#
# Phase "plain": wrk with CLIENTS connections (default 200) for DURATION seconds, rotating
# over list, .info, .mod and .zip of an uploaded 1 MB module.
# Phase "slow mix": the same wrk load while slow.py holds SLOW silent/half-header sockets
# and SLOW_UPLOADS stalled uploads open (each reconnects when the server closes it).
# Reported per phase: requests/s, p50/p99 latency, non-2xx answers and socket errors (the
# goal: zero), and the registry's RSS sampled every second (start, peak, end).
#
# Output: a markdown table on stdout (paste into docs/go-registry.md), logs on stderr.
# Env: CLIENTS (200), DURATION (30), THREADS (2), SLOW (100), SLOW_UPLOADS (20),
#      GO_REGISTRY_BIN (default: release build into CARGO_TARGET_DIR, default target/bench),
#      REGISTRY_ARGS (extra flags for go-registry).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
export LOG_PREFIX="packages:go-registry-load"

CLIENTS="${CLIENTS:-200}"
DURATION="${DURATION:-30}"
THREADS="${THREADS:-2}"
SLOW="${SLOW:-100}"
SLOW_UPLOADS="${SLOW_UPLOADS:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target/bench}"

command -v wrk >/dev/null || { log_fail "wrk is required (apt-get install -y wrk)"; exit 2; }
command -v python3 >/dev/null || { log_fail "python3 is required"; exit 2; }

if [[ -n "${GO_REGISTRY_BIN:-}" ]]; then
  bin="$GO_REGISTRY_BIN"
else
  run_step "cargo build --release -p go-registry" -- cargo build --release -q -p go-registry
  bin="$CARGO_TARGET_DIR/release/go-registry"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() {
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log_fail "$1 did not answer"; return 1
}

root="$work/storage/modules"
mkdir -p "$root"
token="load-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port="$(free_port)"
# shellcheck disable=SC2086
GO_REGISTRY_TOKEN="$token" "$bin" --listen "127.0.0.1:$port" --storage "$root" --upstream off \
  --log warn ${REGISTRY_ARGS:-} 2>"$work/registry.log" &
reg_pid=$!
pids+=("$reg_pid")
reg="http://127.0.0.1:$port"
wait_http "$reg/healthz"

mod="load.test.example/m"
version="v1.0.0"
python3 "$here/make_module.py" "$mod" "$version" 1048576 "$work/mk"
# The token goes in a 0600 header file, never in curl's argv (visible in ps).
(umask 077 && printf 'Authorization: Bearer %s\n' "$token" >"$work/auth.header")
code=$(curl -sS -o "$work/upload.out" -w '%{http_code}' -H "@$work/auth.header" \
  -F "module=$mod" -F "version=$version" -F "info=@$work/mk/info.json" \
  -F "mod=@$work/mk/go.mod" -F "zip=@$work/mk/source.zip" "$reg/upload")
[[ "$code" == 201 ]] || { log_fail "upload failed ($code): $(cat "$work/upload.out")"; exit 1; }

cat >"$work/rotate.lua" <<LUA
local paths = {"/$mod/@v/list", "/$mod/@v/$version.info", "/$mod/@v/$version.mod", "/$mod/@v/$version.zip"}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA

# rss_sampler <pid> <file>: VmRSS in KiB every second until killed.
rss_sampler() {
  while kill -0 "$1" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$1/status" >>"$2" 2>/dev/null || true
    sleep 1
  done
}

to_ms() {
  python3 -c 'import sys,re
v=sys.argv[1]; m=re.match(r"([0-9.]+)(us|ms|s|m)$", v)
n,u=float(m.group(1)),m.group(2)
print("%.2f" % (n/1000 if u=="us" else n if u=="ms" else n*1000 if u=="s" else n*60000))' "$1"
}

# phase <label>: runs wrk, prints one table row.
phase() {
  local label="$1" rssf="$work/rss-$1" out
  rss_sampler "$reg_pid" "$rssf" &
  local sampler=$!
  out="$(wrk -t"$THREADS" -c"$CLIENTS" -d"${DURATION}s" --timeout 30s --latency -s "$work/rotate.lua" "$reg")"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  local rps p50 p99 non2xx sockerr
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  sockerr="$(grep -E 'Socket errors' <<<"$out" | sed 's/^ *Socket errors: *//' || true)"
  local mem
  mem="$(python3 -c 'import sys
v=[int(x) for x in open(sys.argv[1]).read().split()]
print("%.1f / %.1f / %.1f" % (v[0]/1024, max(v)/1024, v[-1]/1024))' "$rssf")"
  echo "| $label | $CLIENTS | $rps | $p50 | $p99 | ${non2xx:-0} | ${sockerr:-none} | $mem |"
}

echo "| phase | clients | req/s | p50 ms | p99 ms | non-2xx | socket errors | RSS MiB start / peak / end |"
echo "|---|---:|---:|---:|---:|---:|---|---|"
log_step "plain load: $CLIENTS clients for ${DURATION}s"
phase plain
log_step "slow mix: $CLIENTS clients + $SLOW slow sockets + $SLOW_UPLOADS stalled uploads"
SLOW_TOKEN="$token" python3 "$here/slow.py" "127.0.0.1" "$port" "$SLOW" "$SLOW_UPLOADS" "$((DURATION + 5))" \
  >"$work/slow.out" 2>&1 &
slow_pid=$!
pids+=("$slow_pid")
sleep 2
phase "slow mix"
wait "$slow_pid" || true
phase "plain again" >"$work/again.row"
cat "$work/again.row"
echo
echo "Slow clients: $(tail -1 "$work/slow.out")"
echo "wrk: ${THREADS} threads, ${CLIENTS} connections, ${DURATION}s per phase, rotating list/.info/.mod/.zip (1 MB); $(nproc) CPUs shared by client and server; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); registry flags: ${REGISTRY_ARGS:-defaults}."
