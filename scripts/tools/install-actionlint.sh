#!/usr/bin/env bash
# Installs a pinned actionlint (github.com/rhysd/actionlint/cmd/actionlint) into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/actionlint/bin with a launcher <tools>/bin/actionlint.
# The CI example suite (tests/e2e/tests/ci_example.rs) lints the example GitHub Actions
# workflow with it.
#
# Built with `go install` through the Go module proxy configured in `go env` (no host is
# named here); actionlint's go.mod has no replace directives.
# Idempotent: a second run with the same pin checks the stamp file and exits.
set -euo pipefail

ACTIONLINT_VERSION="v1.7.12"
ACTIONLINT_MODULE="github.com/rhysd/actionlint"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/actionlint"
stamp="$dest/.installed-$ACTIONLINT_VERSION"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

if [[ -f "$stamp" && -x "$dest/bin/actionlint" && -L "$tools/bin/actionlint" ]]; then
  log_info "actionlint $ACTIONLINT_VERSION already installed in $dest"
  exit 0
fi

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || { log_fail "install-actionlint: the go command is required"; exit 2; }

mkdir -p "$dest/bin" "$tools/bin"
rm -f "$dest"/.installed-*
log_step "go install $ACTIONLINT_MODULE/cmd/actionlint@$ACTIONLINT_VERSION"
if ! GOBIN="$dest/bin" GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 "$go_bin" install \
  "$ACTIONLINT_MODULE/cmd/actionlint@$ACTIONLINT_VERSION" 2>"$dest/install.log"; then
  while IFS= read -r line; do log_info "| $line"; done <"$dest/install.log"
  log_fail "go install $ACTIONLINT_MODULE/cmd/actionlint@$ACTIONLINT_VERSION failed"
  exit 1
fi
ln -sfn "../actionlint/bin/actionlint" "$tools/bin/actionlint"
"$tools/bin/actionlint" -version >/dev/null
touch "$stamp"
log_ok "actionlint $ACTIONLINT_VERSION installed: $tools/bin/actionlint"
