#!/usr/bin/env bash
# Installs what the runner-image suite (tests/e2e/tests/images.rs) and `pkgrun images
# build` need on a fresh Debian machine: the Docker engine (Debian's docker.io: dockerd,
# containerd, runc, the docker client), debootstrap (for the stand-in bases, see
# install-standin-bases.sh), musl-tools and the Rust target x86_64-unknown-linux-musl
# (the static pkgrun the images carry).
#
# Packages come from the apt sources the machine is configured with (no host is named
# here); the Rust target from rustup's configured distribution server.
# The engine is NOT started here: the suite starts its own dockerd on its own data root
# and socket when none answers, and stops it afterwards.
#
# Idempotent: the stamp <tools>/docker-engine/.installed-<sha of this script> is written
# once everything is present; a later run checks the commands and exits.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/docker-engine"
recipe_sha="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
stamp="$dest/.installed-$recipe_sha"
MUSL_TARGET="x86_64-unknown-linux-musl"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

have_all() {
  command -v dockerd >/dev/null && command -v docker >/dev/null &&
    command -v debootstrap >/dev/null && command -v musl-gcc >/dev/null &&
    rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET"
}

if [[ -f "$stamp" ]] && have_all; then
  log_info "docker engine, debootstrap, musl target already installed (stamp $stamp)"
  exit 0
fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
if ((${#missing[@]})); then
  [[ "$(id -u)" == 0 ]] || { log_fail "install-docker-engine: installing ${missing[*]} needs root (apt-get)"; exit 2; }
  log_step "apt-get install ${missing[*]}"
  apt-get update -qq >"$tools/apt-update.log" 2>&1 || { cat "$tools/apt-update.log" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# Debian's docker.io ships the client as `docker`; a machine may already have another
# client on PATH, which talks to the same API.
command -v docker >/dev/null || { log_fail "no docker client on PATH after installing docker.io"; exit 1; }
if ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
  log_step "rustup target add $MUSL_TARGET"
  rustup target add "$MUSL_TARGET" >&2
fi
have_all || { log_fail "install-docker-engine: something is still missing after the install"; exit 1; }
mkdir -p "$dest"
rm -f "$dest"/.installed-*
touch "$stamp"
log_ok "docker engine $(dockerd --version | cut -d, -f1 | sed 's/Docker version //'), debootstrap, $MUSL_TARGET installed"
