#!/usr/bin/env bash
# Installs the pinned chart validation tools into a venv
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/chart-tools, with a launcher
# <tools>/bin/kubernetes-validate.
#
# kubernetes-validate validates rendered manifests against the Kubernetes OpenAPI
# schemas it ships inside the package (v1.25 ... v1.37 at 1.37.0), so the chart suite
# (tests/e2e/tests/charts.rs) validates offline. pip uses its own configured index; no
# index host is named here.
#
# helmfile is NOT installed here: every helmfile release's go.mod (v0.167.1, v1.8.0 —
# the versions the Go module proxy lists here) has replace directives, so
# `go install github.com/helmfile/helmfile@<v>` refuses it (checked 2026-11-27). See
# docs/charts.md "helmfile".
#
# Idempotent: a second run with the same pins only checks the stamp file and exits.
set -euo pipefail

KUBERNETES_VALIDATE_VERSION="1.37.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/chart-tools"
stamp="$dest/.installed-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
python="${PYTHON:-python3}"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

if [[ -f "$stamp" && -x "$dest/bin/kubernetes-validate" && -L "$tools/bin/kubernetes-validate" ]]; then
  log_info "kubernetes-validate $KUBERNETES_VALIDATE_VERSION already installed in $dest"
  exit 0
fi

mkdir -p "$tools/bin"
rm -rf "$dest"
log_step "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
"$python" -m venv "$dest"
if ! "$dest/bin/python" -m pip install --quiet --disable-pip-version-check \
  "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" 2>"$dest/install.log"; then
  while IFS= read -r line; do log_info "| $line"; done <"$dest/install.log"
  log_fail "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
  exit 1
fi
ln -sfn "../chart-tools/bin/kubernetes-validate" "$tools/bin/kubernetes-validate"
reported="$("$tools/bin/kubernetes-validate" --version 2>&1)"
if [[ "$reported" != *"$KUBERNETES_VALIDATE_VERSION"* ]]; then
  log_fail "installed kubernetes-validate reports '$reported', expected $KUBERNETES_VALIDATE_VERSION"
  exit 1
fi
touch "$stamp"
log_ok "kubernetes-validate $KUBERNETES_VALIDATE_VERSION installed: $tools/bin/kubernetes-validate"
