#!/usr/bin/env bash
# Installs pinned tools into ${PKGRUN_TOOLS_DIR:-<repo>/.tools}. Each install-<tool>.sh
# is idempotent, so a second run only checks what is already there.
#
#   install-all.sh              every tool (the test command, scripts/test.sh)
#   install-all.sh TOOL…        only these, e.g. `install-all.sh devpi verdaccio`
#   install-all.sh --main-job   what scripts/main-job.sh needs: the registries it starts
#                               (devpi, Verdaccio) and the build tools pkgrun calls (uv,
#                               pnpm) — not helm, the test kube-apiserver or other tools
#                               only the test suites use
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PKGRUN_TOOLS_DIR="${PKGRUN_TOOLS_DIR:-$(cd "$here/../.." && pwd)/.tools}"
mkdir -p "$PKGRUN_TOOLS_DIR/bin"

MAIN_JOB_TOOLS=(devpi verdaccio python-tools node-tools)

if [ "${1:-}" = "--main-job" ]; then
  set -- "${MAIN_JOB_TOOLS[@]}"
fi
if [ $# -eq 0 ]; then
  for script in "$here"/install-*.sh; do
    name="$(basename "$script" .sh)"
    [ "$name" = install-all ] || set -- "$@" "${name#install-}"
  done
fi

for tool in "$@"; do
  script="$here/install-$tool.sh"
  if [ ! -f "$script" ]; then
    echo "error: no installer for '$tool' (expected $script)" >&2
    exit 2
  fi
  start=$(date +%s)
  if ! bash "$script"; then
    echo "error: install-$tool failed; see its output above" >&2
    exit 1
  fi
  echo "[packages:tools] $(date -u +%Y-%m-%dT%H:%M:%SZ) ok   install-$tool (took $(( $(date +%s) - start )).0s)" >&2
done
