#!/usr/bin/env bash
# Benchmark (not a test): GOPROXY read throughput and latency of go-registry vs. Athens
# serving the same disk storage, on loopback, in the same run.
#
# For each endpoint (list, .info, .mod, .zip of a 1 MB and a 20 MB module) runs `wrk`
# (DURATION seconds, CONNECTIONS connections, THREADS threads) against each server and
# reports requests/s, p50 and p99 latency, then each server's peak RSS (VmHWM). Release
# build of go-registry. Servers, all on the same storage root:
#   * go-registry (standalone mode, upstream off);
#   * Athens from scripts/tools/install-athens.sh (disk storage, offline), when installed;
#   * go-baseline (gobaseline/, NOT Athens): a bare Go net/http server reading the same
#     layout the way Athens' disk storage does, as a reference point when Athens is missing.
# Ratios are go-registry's req/s and p99 divided by each other server's.
#
# Output: a markdown table on stdout (paste into docs/go-registry.md), logs on stderr.
# The machine is shared (other builds may run), so each endpoint is measured in ROUNDS
# rounds that alternate the servers, and the median of each figure is reported.
# Env: DURATION (default 10), CONNECTIONS (default 16), THREADS (default 1), ROUNDS (default 3),
#      PKGRUN_TOOLS_DIR, CARGO_TARGET_DIR (default <repo>/target/bench).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
export LOG_PREFIX="packages:go-registry-bench"

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-1}"
ROUNDS="${ROUNDS:-3}"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target/bench}"

command -v wrk >/dev/null || { log_fail "wrk is required (apt-get install -y wrk)"; exit 2; }
command -v python3 >/dev/null || { log_fail "python3 is required"; exit 2; }

run_step "cargo build --release -p go-registry" -- cargo build --release -q -p go-registry
bin="$CARGO_TARGET_DIR/release/go-registry"

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
token="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port="$(free_port)"
GO_REGISTRY_TOKEN="$token" "$bin" --listen "127.0.0.1:$port" --storage "$root" --upstream off \
  --log warn 2>"$work/registry.log" &
reg_pid=$!
pids+=("$reg_pid")
reg="http://127.0.0.1:$port"
wait_http "$reg/healthz"

small="bench.test.example/small"
large="bench.test.example/large"
version="v1.0.0"
for spec in "$small:1048576" "$large:20971520"; do
  mod="${spec%%:*}"; size="${spec##*:}"
  python3 "$here/make_module.py" "$mod" "$version" "$size" "$work/mk/$mod"
  code=$(curl -sS -o "$work/upload.out" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -F "module=$mod" -F "version=$version" -F "info=@$work/mk/$mod/info.json" \
    -F "mod=@$work/mk/$mod/go.mod" -F "zip=@$work/mk/$mod/source.zip" "$reg/upload")
  [[ "$code" == 201 ]] || { log_fail "upload of $mod failed ($code): $(cat "$work/upload.out")"; exit 1; }
  log_info "uploaded $mod@$version ($(stat -c %s "$work/mk/$mod/source.zip") bytes)"
done

athens=""
athens_pid=""
if [[ -x "$tools/bin/athens" ]]; then
  aport="$(free_port)"
  ATHENS_STORAGE_TYPE=disk ATHENS_DISK_STORAGE_ROOT="$root" ATHENS_PORT="127.0.0.1:$aport" \
  ATHENS_NETWORK_MODE=offline ATHENS_DOWNLOAD_MODE=none ATHENS_GO_BINARY_ENV_VARS="GOPROXY=off" \
  ATHENS_LOG_LEVEL=error GO_ENV=production "$tools/bin/athens" >"$work/athens.log" 2>&1 &
  athens_pid=$!
  pids+=("$athens_pid")
  athens="http://127.0.0.1:$aport"
  wait_http "$athens/healthz"
  log_info "athens running at $athens"
else
  log_warn "athens not installed ($tools/bin/athens): measuring go-registry only"
fi

# go-baseline: stdlib only, built from bench/go-registry/gobaseline.
(cd "$here/gobaseline" && GOWORK=off GOFLAGS=-mod=mod go build -o "$work/gobaseline" .)
bport="$(free_port)"
"$work/gobaseline" -root "$root" -listen "127.0.0.1:$bport" 2>"$work/gobaseline.log" &
base_pid=$!
pids+=("$base_pid")
base="http://127.0.0.1:$bport"
wait_http "$base/healthz"

# to_ms <wrk latency like 1.23ms / 850.00us / 1.02s>
to_ms() {
  python3 -c 'import sys,re
v=sys.argv[1]; m=re.match(r"([0-9.]+)(us|ms|s|m)$", v)
n,u=float(m.group(1)),m.group(2)
print("%.2f" % (n/1000 if u=="us" else n if u=="ms" else n*1000 if u=="s" else n*60000))' "$1"
}

# bench <url> -> "rps p50ms p99ms"
bench() {
  local out
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s --latency "$1")"
  local rps p50 p99 errs
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errs="$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)"
  [[ -z "$errs" ]] || log_warn "$1: $errs"
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

declare -A paths=(
  [list]="/$small/@v/list"
  [info]="/$small/@v/$version.info"
  [mod]="/$small/@v/$version.mod"
  [zip-1MB]="/$small/@v/$version.zip"
  [zip-20MB]="/$large/@v/$version.zip"
)
order=(list info mod zip-1MB zip-20MB)

echo "| endpoint | server | req/s | p50 ms | p99 ms | go-registry req/s ÷ this | go-registry p99 ÷ this |"
echo "|---|---|---:|---:|---:|---:|---:|"
servers=("go-registry=$reg")
[[ -n "$athens" ]] && servers+=("Athens=$athens")
servers+=("go-baseline (not Athens)=$base")
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
for name in "${order[@]}"; do
  path="${paths[$name]}"
  log_step "wrk $name ($ROUNDS rounds)"
  declare -A all_rps=() all_p50=() all_p99=()
  for _ in $(seq 1 "$ROUNDS"); do
    for entry in "${servers[@]}"; do
      label="${entry%%=*}"; url="${entry#*=}"
      read -r rps p50 p99 < <(bench "$url$path")
      all_rps[$label]+="$rps "; all_p50[$label]+="$p50 "; all_p99[$label]+="$p99 "
    done
  done
  r_rps=""; r_p99=""
  for entry in "${servers[@]}"; do
    label="${entry%%=*}"
    # shellcheck disable=SC2086
    rps="$(median ${all_rps[$label]})"; p50="$(median ${all_p50[$label]})"; p99="$(median ${all_p99[$label]})"
    if [[ -z "$r_rps" ]]; then r_rps="$rps"; r_p99="$p99"; fi
    ratio="$(python3 -c "print('%.2fx' % ($r_rps/$rps))")"
    p99r="$(python3 -c "print('%.2f' % ($r_p99/$p99))")"
    echo "| $name | $label | $rps | $p50 | $p99 | $ratio | $p99r |"
  done
  unset all_rps all_p50 all_p99
  log_ok "wrk $name ($ROUNDS rounds)"
done
[[ -n "$athens" ]] || echo "| (all) | Athens | not run: not installed (see install-athens.sh) | | | | |"

rss() { awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
echo
echo "Peak RSS (VmHWM): go-registry $(rss "$reg_pid")$( [[ -n "$athens_pid" ]] && echo ", Athens $(rss "$athens_pid")" ), go-baseline $(rss "$base_pid")."
echo "wrk: ${THREADS} thread(s), ${CONNECTIONS} connections, ${DURATION}s per run, median of ${ROUNDS} alternating rounds per endpoint and server; $(nproc) CPUs shared by client and servers; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
