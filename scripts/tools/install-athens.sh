#!/usr/bin/env bash
# Installs a pinned Athens Go module proxy (github.com/gomods/athens/cmd/proxy) into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/athens/bin with a launcher <tools>/bin/athens.
# go-registry's upload-only mode writes into a disk storage root that this Athens serves;
# its tests and benchmark start it on loopback (see docs/go-registry.md).
#
# The module comes through `go install` from the Go module proxy configured in `go env`
# (no host is named here). Athens' go.mod has no replace directives, so `go install
# <module>/cmd/proxy@<version>` works where the proxy serves the module.
#
# KNOWN LIMIT (2026-11-27): the Go module proxy reachable from the project's machines refuses
# github.com/gomods/athens (403 "This module version is not available", for its version list
# and every version asked for), so this pin could not be built or verified here. Athens is
# therefore OPTIONAL: when the install fails this script warns and exits 0, and the
# Athens-backed tests report themselves as skipped. Set PKGRUN_REQUIRE_ATHENS=1 to make a
# failed install an error (exit 1).
#
# Idempotent: a second run with the same pin only checks the stamp file.
set -euo pipefail

# Newest Athens release (the athens-proxy chart's appVersion); unverified here, see above.
ATHENS_VERSION="v0.19.2"
ATHENS_MODULE="github.com/gomods/athens"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/athens"
stamp="$dest/.installed-$ATHENS_VERSION"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

if [[ -f "$stamp" && -x "$dest/bin/proxy" && -L "$tools/bin/athens" ]]; then
  log_info "athens $ATHENS_VERSION already installed in $dest"
  exit 0
fi

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || { log_fail "install-athens: the go command is required"; exit 2; }

mkdir -p "$dest/bin" "$tools/bin"
log_step "go install $ATHENS_MODULE/cmd/proxy@$ATHENS_VERSION"
if GOBIN="$dest/bin" GOFLAGS=-mod=mod GOWORK=off "$go_bin" install "$ATHENS_MODULE/cmd/proxy@$ATHENS_VERSION" 2>"$dest/install.log"; then
  ln -sfn "../athens/bin/proxy" "$tools/bin/athens"
  touch "$stamp"
  log_ok "athens $ATHENS_VERSION installed: $tools/bin/athens"
  exit 0
fi

while IFS= read -r line; do log_info "| $line"; done <"$dest/install.log"
if [[ "${PKGRUN_REQUIRE_ATHENS:-}" == "1" ]]; then
  log_fail "athens $ATHENS_VERSION could not be installed (PKGRUN_REQUIRE_ATHENS=1)"
  exit 1
fi
log_warn "athens $ATHENS_VERSION could not be installed (the module proxy refused it); Athens-backed tests will be skipped"
exit 0
