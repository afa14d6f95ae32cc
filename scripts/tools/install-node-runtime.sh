#!/usr/bin/env bash
# Installs the container runtime of the test node (tests/e2e/src/kube_node.rs): Debian's
# containerd (1.6, CRI plugin built in), runc and containernetworking-plugins (the CNI
# bridge, host-local and loopback plugins in /usr/lib/cni). The kubelet, controller-manager
# and scheduler are built from source by install-kube-node.sh.
#
# Packages come from the apt sources the machine is configured with (no host is named here).
# Nothing is started or configured system-wide: the harness runs its own containerd with its
# own config, root, state and socket under a temporary directory, and stops it afterwards.
#
# Idempotent: the stamp <tools>/node-runtime/.installed-<sha of this script> is written once
# every command is present; a later run checks the commands and exits.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
dest="$tools/node-runtime"
stamp="$dest/.installed-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"

# shellcheck source=../lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
LOG_PREFIX="${LOG_PREFIX:-packages:tools}"
export LOG_PREFIX

have_all() {
  command -v containerd >/dev/null && command -v ctr >/dev/null && command -v runc >/dev/null &&
    command -v containerd-shim-runc-v2 >/dev/null &&
    [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]]
}

if [[ -f "$stamp" ]] && have_all; then
  log_info "containerd, runc and the CNI plugins already installed (stamp $stamp)"
  exit 0
fi

if ! have_all; then
  [[ "$(id -u)" == 0 ]] || { log_fail "install-node-runtime: installing containerd, runc and containernetworking-plugins needs root (apt-get)"; exit 2; }
  log_step "apt-get install containerd runc containernetworking-plugins"
  mkdir -p "$tools"
  apt-get update -qq >"$tools/apt-update.log" 2>&1 || { cat "$tools/apt-update.log" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    containerd runc containernetworking-plugins >&2
fi
have_all || { log_fail "install-node-runtime: containerd, ctr, runc, containerd-shim-runc-v2 or /usr/lib/cni/{bridge,host-local,loopback} still missing after the install"; exit 1; }
mkdir -p "$dest"
rm -f "$dest"/.installed-*
touch "$stamp"
log_ok "node runtime installed: $(containerd --version | cut -d' ' -f2-3), $(runc --version | head -1), CNI plugins in /usr/lib/cni"
