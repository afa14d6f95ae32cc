#!/usr/bin/env bash
# Installs pinned devpi-server and devpi-client (PyPI registry used by the Python end-to-end
# tests) into a venv ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/devpi, with launchers
# <tools>/bin/devpi-server, <tools>/bin/devpi-init and <tools>/bin/devpi.
# pip uses its own configured index; no index host is named here.
# Idempotent: a second run with the same pins only checks the stamp file and exits.
set -euo pipefail

DEVPI_SERVER_VERSION="6.20.3"
DEVPI_CLIENT_VERSION="7.3.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/devpi"
stamp="$dest/.installed-server-$DEVPI_SERVER_VERSION-client-$DEVPI_CLIENT_VERSION"
python="${PYTHON:-python3}"

if [[ -f "$stamp" && -x "$tools/bin/devpi-server" && -x "$tools/bin/devpi-init" && -x "$tools/bin/devpi" ]]; then
  echo "devpi-server $DEVPI_SERVER_VERSION / devpi-client $DEVPI_CLIENT_VERSION already installed in $dest"
  exit 0
fi

mkdir -p "$tools/bin"
rm -rf "$dest"
"$python" -m venv "$dest"
"$dest/bin/python" -m pip install --quiet \
  "devpi-server==$DEVPI_SERVER_VERSION" "devpi-client==$DEVPI_CLIENT_VERSION"

for exe in devpi-server devpi-init devpi; do
  ln -sfn "$dest/bin/$exe" "$tools/bin/$exe"
done
"$tools/bin/devpi-server" --version >/dev/null
touch "$stamp"
echo "devpi-server $DEVPI_SERVER_VERSION / devpi-client $DEVPI_CLIENT_VERSION installed in $dest"
