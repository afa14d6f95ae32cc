#!/usr/bin/env bash
# Installs a pinned pnpm (used by the TS runner and the example workspace) into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/node-tools with a launcher in <tools>/bin/pnpm.
# pnpm 10.x still supports Node.js 20 (11.x needs Node.js 22).
# Idempotent: a second run with the same pin only checks the stamp file and exits.
set -euo pipefail

PNPM_VERSION="10.34.9"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/node-tools"
stamp="$dest/.installed-pnpm-$PNPM_VERSION"

if [[ -f "$stamp" && -x "$tools/bin/pnpm" ]]; then
  echo "pnpm $PNPM_VERSION already installed in $dest"
  exit 0
fi

command -v npm >/dev/null || { echo "install-node-tools: npm is required (Node.js 20+)" >&2; exit 2; }

mkdir -p "$dest" "$tools/bin"
cat >"$dest/package.json" <<JSON
{
  "name": "pkgrun-tools-node",
  "private": true,
  "description": "Pinned Node.js tools for pkgrun (installed by scripts/tools/install-node-tools.sh)",
  "dependencies": { "pnpm": "$PNPM_VERSION" }
}
JSON
(cd "$dest" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)

cat >"$tools/bin/pnpm" <<SH
#!/usr/bin/env bash
exec "$dest/node_modules/.bin/pnpm" "\$@"
SH
chmod +x "$tools/bin/pnpm"
[[ "$("$tools/bin/pnpm" --version)" == "$PNPM_VERSION" ]]
touch "$stamp"
echo "pnpm $PNPM_VERSION installed in $dest"
