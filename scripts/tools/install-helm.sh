#!/usr/bin/env bash
# Installs a pinned Helm v3 (helm.sh/helm/v3/cmd/helm) into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/helm/bin with a launcher <tools>/bin/helm.
# Used by the chart suite (tests/e2e/tests/charts.rs: helm lint, helm template,
# helm dependency build) and by helmfile / `pkgrun layer` against a cluster.
#
# Built with `go install <module>/cmd/helm@<version>` through the Go module proxy
# configured in `go env` (no host is named here); Helm's go.mod has no replace
# directives, so go install works. Verified here on 2026-11-27 with v3.22.0.
# The first build takes several minutes (client-go); later runs only check the stamp.
#
# Idempotent: a second run with the same pin checks the stamp file and exits.
set -euo pipefail

HELM_VERSION="v3.22.0"
HELM_MODULE="helm.sh/helm/v3"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/helm"
stamp="$dest/.installed-$HELM_VERSION"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

if [[ -f "$stamp" && -x "$dest/bin/helm" && -L "$tools/bin/helm" ]]; then
  log_info "helm $HELM_VERSION already installed in $dest"
  exit 0
fi

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || { log_fail "install-helm: the go command is required"; exit 2; }

mkdir -p "$dest/bin" "$tools/bin"
rm -f "$dest"/.installed-*
log_step "go install $HELM_MODULE/cmd/helm@$HELM_VERSION"
# -ldflags stamps the version `helm version` prints (a plain go install reports the
# module's default version string instead).
if ! GOBIN="$dest/bin" GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 "$go_bin" install \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "$HELM_MODULE/cmd/helm@$HELM_VERSION" 2>"$dest/install.log"; then
  while IFS= read -r line; do log_info "| $line"; done <"$dest/install.log"
  log_fail "go install $HELM_MODULE/cmd/helm@$HELM_VERSION failed"
  exit 1
fi
ln -sfn "../helm/bin/helm" "$tools/bin/helm"
reported="$("$tools/bin/helm" version --template '{{.Version}}')"
if [[ "$reported" != "$HELM_VERSION" ]]; then
  log_fail "installed helm reports $reported, expected $HELM_VERSION"
  exit 1
fi
touch "$stamp"
log_ok "helm $HELM_VERSION installed: $tools/bin/helm"
