#!/usr/bin/env bash
# Builds pkgrun's test node (tests/kube-node: kubelet, kube-controller-manager and
# kube-scheduler of the pinned k8s.io/kubernetes release, one multi-call binary) and the pod
# sandbox's pause program into ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/kube-node, with the launcher
# <tools>/bin/kube-node. The Kubernetes node suite (tests/e2e/tests/kube_node.rs) starts them
# through pkgrun_e2e::KubeNode, next to the test kube-apiserver (install-kube-apiserver.sh)
# and Debian's containerd (install-node-runtime.sh).
#
# Like kube-apiserver, these cannot be `go install`ed (k8s.io/kubernetes has replace
# directives): the module pins the release with the same replace block as tests/kube-apiserver.
# Modules come from the proxy in `go env GOPROXY` (no host is named here).
#
# Cost on the project's 2-core machines (README "Kubernetes tests"): see build-times.log next
# to the binary; the built binary is kept and only rebuilt when its inputs change: the stamp is
# a SHA-256 over go.mod, go.sum, the Go sources, node.sh, this script and `go version`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
module_dir="$repo_root/tests/kube-node"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/kube-node"
binary="$dest/kube-node"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || { log_fail "install-kube-node: the go command is required"; exit 2; }

mkdir -p "$dest" "$tools/bin"
# One install at a time per tools directory (two test runs may share it).
exec 9>"$dest/.lock"
flock 9

inputs_digest="$(
  cd "$module_dir"
  { cat go.mod go.sum ./*.go pause/*.go node.sh "$repo_root/scripts/tools/install-kube-node.sh"; "$go_bin" version; } | sha256sum | cut -c1-16
)"
stamp="$dest/.installed-$inputs_digest"

if [[ -f "$stamp" && -x "$binary" && -x "$dest/pause" && -L "$tools/bin/kube-node" && -x "$dest/node.sh" ]]; then
  log_info "kube-node (kubelet, kube-controller-manager, kube-scheduler; inputs $inputs_digest) already built in $dest"
  exit 0
fi

# A failed build must not leave the previous binary to be used as if it were current.
rm -f "$dest"/.installed-* "$binary" "$dest/pause" "$tools/bin/kube-node"
k8s_version="$(cd "$module_dir" && GOWORK=off GOFLAGS=-mod=readonly "$go_bin" list -m -f '{{.Version}}' k8s.io/kubernetes)"
log_step "go build tests/kube-node (k8s.io/kubernetes $k8s_version; a cold build takes ~12 min)"
start=$(date +%s)
if ! (cd "$module_dir" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 "$go_bin" build -trimpath \
  -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version" -o "$binary.new" . &&
  GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 "$go_bin" build -trimpath \
    -ldflags "-s -w" -o "$dest/pause.new" ./pause) >"$dest/build.log" 2>&1; then
  while IFS= read -r line; do log_info "| $line"; done <"$dest/build.log"
  log_fail "building the test node (tests/kube-node) failed"
  exit 1
fi
took=$(( $(date +%s) - start ))
mv -f "$dest/pause.new" "$dest/pause"
mv -f "$binary.new" "$binary"
# The supervisor that runs the node (containerd + the three components) goes with them.
install -m 0755 "$module_dir/node.sh" "$dest/node.sh"
ln -sfn "../kube-node/kube-node" "$tools/bin/kube-node"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) built in ${took}s (inputs $inputs_digest, $("$go_bin" version))" >>"$dest/build-times.log"
touch "$stamp"
log_ok "kube-node $k8s_version built in ${took}s: $tools/bin/kube-node"
