#!/usr/bin/env bash
# Installs a pinned Verdaccio (npm registry used by the TS end-to-end tests) into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/verdaccio with a launcher in <tools>/bin/verdaccio.
#
# Why a package.json and not `npm install verdaccio`: Verdaccio 6.8.x is the newest release
# that runs on Node.js 20, and its verdaccio-audit dependency asks for the `node-fetch@cjs`
# dist-tag, which the configured npm registry does not serve here; an override to a fixed
# node-fetch release makes the install resolvable (see shared NOTES.md).
# Idempotent: a second run with the same pin only checks the stamp file and exits.
# npm uses its own configured registry; no registry host is named here.
set -euo pipefail

VERDACCIO_VERSION="6.8.0"
NODE_FETCH_OVERRIDE="2.7.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/verdaccio"
stamp="$dest/.installed-$VERDACCIO_VERSION"

if [[ -f "$stamp" && -x "$dest/node_modules/.bin/verdaccio" && -x "$tools/bin/verdaccio" ]]; then
  echo "verdaccio $VERDACCIO_VERSION already installed in $dest"
  exit 0
fi

command -v npm >/dev/null || { echo "install-verdaccio: npm is required (Node.js 20+)" >&2; exit 2; }

mkdir -p "$dest" "$tools/bin"
cat >"$dest/package.json" <<JSON
{
  "name": "pkgrun-tools-verdaccio",
  "private": true,
  "description": "Pinned Verdaccio for pkgrun's end-to-end tests (installed by scripts/tools/install-verdaccio.sh)",
  "dependencies": { "verdaccio": "$VERDACCIO_VERSION" },
  "overrides": { "node-fetch": "$NODE_FETCH_OVERRIDE" }
}
JSON
# No lock file: it would record the registry host of this machine.
(cd "$dest" && npm install --no-audit --no-fund --no-package-lock --omit=dev --loglevel=error)

cat >"$tools/bin/verdaccio" <<SH
#!/usr/bin/env bash
exec "$dest/node_modules/.bin/verdaccio" "\$@"
SH
chmod +x "$tools/bin/verdaccio"
"$tools/bin/verdaccio" --version >/dev/null
touch "$stamp"
echo "verdaccio $VERDACCIO_VERSION installed in $dest"
