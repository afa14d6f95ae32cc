#!/usr/bin/env bash
# Installs pinned Python build tooling into a venv ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/pytools:
# uv and build (used by the Python runner to build wheels/sdists with the project's own
# backend) and pytest (the example SDKs' unit tests). Launchers: <tools>/bin/uv,
# <tools>/bin/pyproject-build; <tools>/pytools/bin/python has `build` and `pytest` importable.
# pip uses its own configured index; no index host is named here.
# Idempotent: a second run with the same pins only checks the stamp file and exits.
set -euo pipefail

UV_VERSION="0.13.9"
BUILD_VERSION="1.6.1"
PYTEST_VERSION="9.2.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/pytools"
stamp="$dest/.installed-uv-$UV_VERSION-build-$BUILD_VERSION-pytest-$PYTEST_VERSION"
python="${PYTHON:-python3}"

if [[ -f "$stamp" && -x "$tools/bin/uv" && -x "$tools/bin/pyproject-build" ]]; then
  echo "uv $UV_VERSION / build $BUILD_VERSION / pytest $PYTEST_VERSION already installed in $dest"
  exit 0
fi

mkdir -p "$tools/bin"
rm -rf "$dest"
"$python" -m venv "$dest"
"$dest/bin/python" -m pip install --quiet \
  "uv==$UV_VERSION" "build==$BUILD_VERSION" "pytest==$PYTEST_VERSION"

ln -sfn "$dest/bin/uv" "$tools/bin/uv"
ln -sfn "$dest/bin/pyproject-build" "$tools/bin/pyproject-build"
[[ "$("$tools/bin/uv" --version)" == "uv $UV_VERSION"* ]]
touch "$stamp"
echo "uv $UV_VERSION / build $BUILD_VERSION / pytest $PYTEST_VERSION installed in $dest"
