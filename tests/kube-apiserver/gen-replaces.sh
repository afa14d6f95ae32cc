#!/usr/bin/env bash
# Rewrites go.mod for a Kubernetes release: `require k8s.io/kubernetes <v1.X.Y>` plus one
# replace line per staging module that k8s.io/kubernetes' own go.mod points at ./staging,
# mapped to the published `v0.X.Y` of the same release. Usage: ./gen-replaces.sh v1.37.2
# (then `go mod tidy`). The module proxy comes from `go env GOPROXY`.
set -euo pipefail
cd "$(dirname "$0")"
version="${1:?usage: gen-replaces.sh v1.X.Y}"
[[ "$version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "error: $version is not a v1.X.Y release" >&2; exit 2; }
staging="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
upstream_mod="$(GOFLAGS=-mod=mod GOWORK=off go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
[[ -f "$upstream_mod" ]] || { echo "error: could not download k8s.io/kubernetes@$version" >&2; exit 1; }
go_directive="$(sed -n 's/^go \(.*\)$/\1/p' "$upstream_mod")"
{
  sed -n '1,/^module /p' go.mod
  printf '\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$go_directive" "$version"
  sed -n 's#^\s*\(k8s\.io/[^ ]*\) => \./staging/.*#\t\1 => \1 '"$staging"'#p' "$upstream_mod"
  printf ')\n'
} > go.mod.new
mv go.mod.new go.mod
echo "go.mod now pins k8s.io/kubernetes $version (staging modules at $staging); run: go mod tidy" >&2
