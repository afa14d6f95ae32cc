#!/usr/bin/env bash
# Installs every pinned tool the test suite and the main job need, into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}. Each install-<tool>.sh is idempotent, so a
# second run only checks what is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PKGRUN_TOOLS_DIR="${PKGRUN_TOOLS_DIR:-$(cd "$here/../.." && pwd)/.tools}"
mkdir -p "$PKGRUN_TOOLS_DIR/bin"
for script in "$here"/install-*.sh; do
  [ "$script" = "$here/install-all.sh" ] && continue
  name="$(basename "$script" .sh)"
  start=$(date +%s)
  if ! bash "$script"; then
    echo "error: $name failed; see its output above" >&2
    exit 1
  fi
  echo "[packages:tools] $(date -u +%Y-%m-%dT%H:%M:%SZ) ok   $name (took $(( $(date +%s) - start )).0s)" >&2
done
