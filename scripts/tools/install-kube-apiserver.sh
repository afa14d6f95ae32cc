#!/usr/bin/env bash
# Builds pkgrun's test Kubernetes API server (tests/kube-apiserver: the real kube-apiserver of
# the pinned k8s.io/kubernetes release with an embedded etcd) into
# ${PKGRUN_TOOLS_DIR:-<repo>/.tools}/kube-apiserver, with a launcher <tools>/bin/kube-apiserver-test.
# The Kubernetes suites (tests/e2e/tests/kube_*.rs) start it on loopback through
# pkgrun_e2e::KubeApiServer.
#
# kube-apiserver cannot be `go install`ed (k8s.io/kubernetes has replace directives), so the
# module in tests/kube-apiserver pins the release with its own replace block and is built
# with `go test -c`. Modules come from the proxy in `go env GOPROXY` (no host is named here).
#
# Cost, measured on the project's 2-core machines (README "Kubernetes tests"): a cold build
# takes ~6 min wall (~10 min of CPU), 2.4 GB of memory at its peak and ~2.8 GB of Go build
# cache; a warm rebuild 10-30 s. So the built binary is kept and only rebuilt when its inputs
# change: the stamp is a SHA-256 over go.mod, go.sum, the Go sources, this script and `go version`.
#
# -trimpath keeps the build cache's absolute paths out of the binary; the serving-certificate
# fixtures StartTestServer reads from its own source directory are therefore copied next to
# the binary (src/), where serve_test.go points it (TEST_SRCDIR), so the binary does not
# depend on the module cache it was built from.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
module_dir="$repo_root/tests/kube-apiserver"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/kube-apiserver"
binary="$dest/kube-apiserver.test"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || { log_fail "install-kube-apiserver: the go command is required"; exit 2; }

mkdir -p "$dest" "$tools/bin"
# One install at a time per tools directory (two test runs may share it).
exec 9>"$dest/.lock"
flock 9

k8s_version="$(cd "$module_dir" && GOWORK=off GOFLAGS=-mod=readonly "$go_bin" list -m -f '{{.Version}}' k8s.io/kubernetes)" || {
  log_fail "install-kube-apiserver: cannot read the k8s.io/kubernetes requirement of $module_dir/go.mod"
  exit 1
}
# StartTestServer's fixtures, at the path a -trimpath build resolves them to.
fixtures_rel="k8s.io/kubernetes@$k8s_version/cmd/kube-apiserver/app/testing/testdata"

inputs_digest="$(
  cd "$module_dir"
  { cat go.mod go.sum ./*.go "$repo_root/scripts/tools/install-kube-apiserver.sh"; "$go_bin" version; } | sha256sum | cut -c1-16
)"
stamp="$dest/.installed-$inputs_digest"

if [[ -f "$stamp" && -x "$binary" && -L "$tools/bin/kube-apiserver-test" && -d "$dest/src/$fixtures_rel" ]]; then
  log_info "kube-apiserver $k8s_version (test server, inputs $inputs_digest) already built in $dest"
  exit 0
fi

# A failed build must not leave the previous binary to be used as if it were current.
rm -f "$dest"/.installed-* "$binary" "$tools/bin/kube-apiserver-test"
log_step "go test -c tests/kube-apiserver (k8s.io/kubernetes $k8s_version; a cold build takes ~6 min)"
start=$(date +%s)
if ! (cd "$module_dir" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 "$go_bin" test -c -trimpath \
  -ldflags "-s -w" -o "$binary.new" .) >"$dest/build.log" 2>&1; then
  while IFS= read -r line; do log_info "| $line"; done <"$dest/build.log"
  log_fail "building the test kube-apiserver failed"
  exit 1
fi
took=$(( $(date +%s) - start ))

upstream_dir="$(cd "$module_dir" && GOWORK=off "$go_bin" list -m -f '{{.Dir}}' k8s.io/kubernetes)"
rm -rf "$dest/src"
mkdir -p "$dest/src/$fixtures_rel"
cp "$upstream_dir/cmd/kube-apiserver/app/testing/testdata/"*.crt \
  "$upstream_dir/cmd/kube-apiserver/app/testing/testdata/"*.key "$dest/src/$fixtures_rel/"
chmod -R u+rw "$dest/src"

mv -f "$binary.new" "$binary"
ln -sfn "../kube-apiserver/kube-apiserver.test" "$tools/bin/kube-apiserver-test"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) built in ${took}s (inputs $inputs_digest, $("$go_bin" version))" >>"$dest/build-times.log"
touch "$stamp"
log_ok "kube-apiserver $k8s_version test server built in ${took}s: $tools/bin/kube-apiserver-test"
