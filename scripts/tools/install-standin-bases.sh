#!/usr/bin/env bash
# Builds the STAND-IN base images for the runner-image suite (tests/e2e/tests/images.rs),
# as root-filesystem tarballs the suite `docker import`s. No image registry is reachable
# from the project's machines, so the real bases the Dockerfiles default to
# (golang:<v>-alpine, astral/uv:python<v>-bookworm-slim, node:<v>-slim) cannot be pulled;
# these stand in for them in tests only. Every Dockerfile line after FROM is exactly what
# production runs.
#
#   go      Debian bookworm minbase + the machine's own Go toolchain (`go env GOROOT`)
#           at /usr/local/go (the real base is Alpine; see images/README in the README
#           section "Runner images" for why the Dockerfile lines work on both)
#   python  Debian bookworm minbase + Debian's python3, python3-venv and python3-pip (the
#           python:<v>-slim images under the uv image carry pip) + uv from PyPI
#           (pip's configured index) at /usr/local/bin/uv
#   ts      Debian bookworm minbase + the machine's own Node.js, npm and corepack at
#           /usr/local (the layout of the node:<v>-slim images)
#
# The Debian root comes from debootstrap with the mirror apt is configured with (read from
# /etc/apt/sources.list*, never written here). Output:
#   <tools>/standin-bases/<recipe>/<lang>.tar      root filesystem
#   <tools>/standin-bases/<recipe>/<lang>.changes  one `docker import --change` per line
#   <tools>/standin-bases/current -> <recipe>
# <recipe> is a hash of this script, the mirror and the toolchain versions, so a change of
# any of them rebuilds; otherwise a second run only checks the files (cold: 4.5–5 min
# measured on a 2-core machine, see the README; a check of current files takes seconds).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
base_dir="$tools/standin-bases"
SUITE="bookworm"
UV_VERSION="0.13.9"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

# The first Debian mirror that serves $SUITE in the machine's apt sources (deb822 or
# one-line format).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      /^$/ { if (ok && uri != "") { print uri; exit } ok = 0; uri = "" }
      END { if (ok && uri != "") print uri }' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' "$f" | sed 's/\[.*\]//'
  done
}

mirror="$(debian_mirror | head -n1)"
[[ -n "$mirror" ]] || { log_fail "no apt source serving Debian $SUITE in /etc/apt/sources.list*: configure one, debootstrap needs a mirror"; exit 2; }
for cmd in debootstrap go node npm python3; do
  command -v "$cmd" >/dev/null || { log_fail "install-standin-bases: $cmd is required (run install-docker-engine.sh for debootstrap)"; exit 2; }
done
[[ "$(id -u)" == 0 ]] || { log_fail "install-standin-bases: debootstrap and chroot need root"; exit 2; }

goroot="$(go env GOROOT)"
node_bin="$(readlink -f "$(command -v node)")"
node_modules="$(npm root -g)"
recipe="$( { cat "${BASH_SOURCE[0]}"; echo "$mirror $SUITE"; go env GOVERSION; "$node_bin" --version; npm --version; echo "uv $UV_VERSION"; } | sha256sum | cut -c1-16)"
out="$base_dir/$recipe"

if [[ -f "$out/.complete" ]]; then
  ln -sfn "$recipe" "$base_dir/current"
  log_info "stand-in bases already built in $out"
  exit 0
fi

rm -rf "$out" && mkdir -p "$out"
work="$(mktemp -d "$base_dir/.work-XXXXXX")"
trap 'rm -rf "$work"' EXIT

log_step "debootstrap --variant=minbase $SUITE (mirror from the apt sources)"
debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; log_fail "debootstrap failed"; exit 1; }
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*

pack() { # <lang> <root dir>
  tar -C "$2" --numeric-owner -cf "$out/$1.tar" .
}

log_step "go stand-in: $(go env GOVERSION) from $goroot"
cp -a "$work/root" "$work/go"
mkdir -p "$work/go/usr/local"
cp -a "$goroot" "$work/go/usr/local/go"
pack go "$work/go"
printf '%s\n' 'ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  'ENV GOTOOLCHAIN=local' 'ENV CGO_ENABLED=0' >"$out/go.changes"

log_step "python stand-in: Debian python3 + pip + uv $UV_VERSION"
cp -a "$work/root" "$work/python"
cp /etc/resolv.conf "$work/python/etc/resolv.conf"
chroot "$work/python" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*' >"$work/python.log" 2>&1 ||
  { tail -n 30 "$work/python.log" >&2; log_fail "apt-get install python3 in the python stand-in failed"; exit 1; }
: >"$work/python/etc/resolv.conf"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/uv" "uv==$UV_VERSION"
python3 -m zipfile -e "$work"/uv/uv-*.whl "$work/uv/x"
install -m 0755 "$work"/uv/x/uv-*.data/scripts/uv "$work/python/usr/local/bin/uv"
pack python "$work/python"
printf '%s\n' 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' >"$out/python.changes"

log_step "ts stand-in: Node.js $("$node_bin" --version), npm $(npm --version), corepack"
cp -a "$work/root" "$work/ts"
mkdir -p "$work/ts/usr/local/bin" "$work/ts/usr/local/lib/node_modules"
install -m 0755 "$node_bin" "$work/ts/usr/local/bin/node"
cp -a "$node_modules/npm" "$node_modules/corepack" "$work/ts/usr/local/lib/node_modules/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/ts/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/ts/usr/local/bin/npx"
ln -s ../lib/node_modules/corepack/dist/corepack.js "$work/ts/usr/local/bin/corepack"
pack ts "$work/ts"
printf '%s\n' 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' >"$out/ts.changes"

touch "$out/.complete"
ln -sfn "$recipe" "$base_dir/current"
find "$base_dir" -mindepth 1 -maxdepth 1 -type d -name '????????????????' ! -name "$recipe" -exec rm -rf {} +
log_ok "stand-in bases in $out: $(cd "$out" && du -h ./*.tar | awk '{printf "%s %s  ", $2, $1}')"
