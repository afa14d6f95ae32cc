#!/usr/bin/env bash
# The test node's supervisor (started by pkgrun_e2e::KubeNode, tests/e2e/src/kube_node.rs):
# runs Debian's containerd with a private config, root, state and socket under $NODE_DIR,
# then kube-controller-manager, kube-scheduler and the kubelet (the multi-call binary of
# install-kube-node.sh) against the test kube-apiserver, prints `READY` on stdout, and keeps
# them running until its standard input reaches end of file or it gets SIGTERM/SIGINT. Then it
# tears everything down: every container and pod sandbox of its containerd (tasks killed,
# containers deleted), containerd and its shims, every mount under $NODE_DIR, the bridge and
# the service address — a CI machine is reused, nothing may be left behind.
#
# Network: pods get an address on the bridge $NODE_BRIDGE ($NODE_GATEWAY/24, CNI bridge +
# host-local). The node's own address is $NODE_GATEWAY (the kubelet serves there; a kubelet
# refuses a loopback node IP). $SERVICE_IP (the `kubernetes` Service's ClusterIP, which the
# kubelet puts into every pod as KUBERNETES_SERVICE_HOST) is added to lo, so a pod's traffic
# to it is delivered to this host, where the harness forwards it to the loopback API server.
# There is no kube-proxy: that forward is the harness's.
#
# Inputs (environment): NODE_DIR (an empty directory, short path: sockets live in it;
# removed at the end), NODE_LOG_DIR (the components' logs, kept),
# NODE_NAME, NODE_BRIDGE, NODE_GATEWAY, SERVICE_IP, KUBECONFIG_FILE (the admin kubeconfig),
# ROOT_CA_FILE (the API server's serving CA, published to pods as kube-root-ca.crt),
# KUBE_NODE (the multi-call binary), PAUSE_BIN (the static pause program built with it),
# NODE_LOCK (optional; default /tmp/pkgrun-kube-node.lock; the components do not inherit it).
#
# The components run in sessions of their own (setsid): a signal to this script's process group
# reaches only this script, whose teardown then stops them in order.
set -euo pipefail

: "${NODE_DIR:?}" "${NODE_LOG_DIR:?}" "${NODE_NAME:?}" "${NODE_BRIDGE:?}" "${NODE_GATEWAY:?}" "${SERVICE_IP:?}"
: "${KUBECONFIG_FILE:?}" "${ROOT_CA_FILE:?}" "${KUBE_NODE:?}" "${PAUSE_BIN:?}"

# One node per machine (a fixed bridge and service address), held until the teardown ends:
# a previous node still tearing down would otherwise remove this one's bridge and address.
NODE_LOCK="${NODE_LOCK:-/tmp/pkgrun-kube-node.lock}"
exec 8>"$NODE_LOCK"
flock -w 900 8 || { echo "node: $NODE_LOCK still held after 900s by another node" >&2; exit 1; }

sock="$NODE_DIR/containerd.sock"
pids=()

log() { echo "node: $*" >&2; }

ctr_() { ctr --address "$sock" -n k8s.io "$@"; }

teardown() {
  trap - EXIT TERM INT
  # Best effort to the end, whatever got started before a failure.
  set +eu
  log "teardown"
  # The kubelet first, so it does not restart what is removed below.
  for pid in "${pids[@]:1}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]:1}"; do wait "$pid" 2>/dev/null; done
  local ids=()
  if [[ -S "$sock" ]]; then
    mapfile -t ids < <(ctr_ containers ls -q 2>/dev/null)
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$task" >/dev/null 2>&1; done
    sleep 0.5
    for task in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$task" >/dev/null 2>&1; done
    for c in "${ids[@]}"; do ctr_ containers delete "$c" >/dev/null 2>&1; done
  fi
  kill "${pids[0]}" 2>/dev/null
  wait "${pids[0]}" 2>/dev/null
  # Shims outlive containerd by design; ours are the ones started with our socket.
  for pid in $(pgrep -f -- "-address $sock" || true); do kill -9 "$pid" 2>/dev/null; done
  # Deepest first: token tmpfs, shm, rootfs overlays, network namespaces.
  findmnt -rn -o TARGET | grep -F "$NODE_DIR/" | sort -r | while read -r target; do
    umount -l "$target" 2>/dev/null
  done
  # What lives outside $NODE_DIR by the plugins' and runc's design: the CNI result cache
  # (libcni's, keyed by network name and sandbox id) and each container's cgroup.
  rm -f /var/lib/cni/results/pkgrun-node-* 2>/dev/null
  for id in "${ids[@]}"; do
    rm -f /var/lib/cni/results/*-"$id"-* 2>/dev/null
    rmdir /sys/fs/cgroup/*/k8s.io/"$id" 2>/dev/null
  done
  ip link del "$NODE_BRIDGE" 2>/dev/null
  ip addr del "$SERVICE_IP/32" dev lo 2>/dev/null
  rm -rf "$NODE_DIR"
  log "stopped"
}
# The sandbox image: no image registry is reachable, so a `docker save`-format archive of one
# layer holding the static pause program, FROM scratch, written here and imported.
pause_image() {
  local work="$NODE_DIR/pause-image" layer_sha config_sha
  mkdir -p "$work/rootfs" "$work/layer"
  install -m 0755 "$PAUSE_BIN" "$work/rootfs/pause"
  tar -C "$work/rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/layer/layer.tar" pause
  layer_sha="$(sha256sum "$work/layer/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$layer_sha" >"$work/config.json"
  config_sha="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  mv "$work/config.json" "$work/$config_sha.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer/layer.tar"]}]' "$config_sha" "$PAUSE_IMAGE" >"$work/manifest.json"
  tar -C "$work" -cf "$NODE_DIR/pause.tar" manifest.json "$config_sha.json" layer/layer.tar
}

PAUSE_IMAGE="pkgrun.test/pause:$(sha256sum "$PAUSE_BIN" | cut -c1-12)"
trap teardown EXIT
trap 'exit 0' TERM INT

# The network first: the kubelet's node IP must exist when it starts. With the lock held no
# other node is alive, so a bridge or address still there is a killed node's: removed.
ip link del "$NODE_BRIDGE" 2>/dev/null || true
ip addr del "$SERVICE_IP/32" dev lo 2>/dev/null || true
ip link add "$NODE_BRIDGE" type bridge
ip addr add "$NODE_GATEWAY/24" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
ip addr add "$SERVICE_IP/32" dev lo

subnet="${NODE_GATEWAY%.*}.0/24"
mkdir -p "$NODE_DIR/cni" "$NODE_DIR/kubelet" "$NODE_DIR/container-logs" "$NODE_LOG_DIR"
cat >"$NODE_DIR/cni/10-pkgrun.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pkgrun-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$NODE_DIR/cni-ipam", "ranges": [[{ "subnet": "$subnet", "gateway": "$NODE_GATEWAY" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "loopback" }
  ]
}
EOF

# Debian's containerd 1.6: everything private to $NODE_DIR. restrict_oom_score_adj: this
# machine's kernel refuses negative oom_score_adj, and runc would fail every sandbox.
cat >"$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd-root"
state = "$NODE_DIR/containerd-state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$NODE_DIR/containerd-ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
EOF
setsid containerd --config "$NODE_DIR/containerd.toml" 8>&- >"$NODE_LOG_DIR/containerd.log" 2>&1 &
pids=($!)
for _ in $(seq 100); do [[ -S "$sock" ]] && ctr --address "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
pause_image
ctr_ images import "$NODE_DIR/pause.tar" >/dev/null

cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1, which recent kubelets refuse unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
address: $NODE_GATEWAY
port: 0
readOnlyPort: 0
# Pod logs stay under the node's directory (the default is /var/log/pods).
podLogsDir: $NODE_DIR/pod-logs
healthzPort: 0
# One flat cgroup per pod under the runtime's parent: nothing of the host's hierarchy
# (no kubepods QoS tree) is created, so nothing is left behind.
cgroupsPerQOS: false
enforceNodeAllocatable: []
# The apiserver proxies pod logs here with no client certificate of its own.
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization:
  mode: AlwaysAllow
# Imported images are never garbage-collected, and a busy disk does not evict test pods.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { "memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%" }
# No cluster DNS here: pods get the host's resolver (a hostNetwork registry pod resolves its
# upstream with it; the runner uses addresses only).
resolvConf: /etc/resolv.conf
serializeImagePulls: false
EOF
setsid "$KUBE_NODE" kube-controller-manager --kubeconfig="$KUBECONFIG_FILE" --leader-elect=false \
  --secure-port=0 --root-ca-file="$ROOT_CA_FILE" --use-service-account-credentials=false \
  --controllers=node-lifecycle-controller,job-controller,deployment-controller,replicaset-controller,serviceaccount-controller,root-ca-certificate-publisher-controller,garbage-collector-controller,ttl-after-finished-controller \
  8>&- >"$NODE_LOG_DIR/kube-controller-manager.log" 2>&1 &
pids+=($!)
setsid "$KUBE_NODE" kube-scheduler --kubeconfig="$KUBECONFIG_FILE" --leader-elect=false --secure-port=0 \
  8>&- >"$NODE_LOG_DIR/kube-scheduler.log" 2>&1 &
pids+=($!)
# The kubelet's /var/log/containers symlinks, moved here too (see tests/kube-node/main.go).
PKGRUN_KUBELET_CONTAINER_LOGS_DIR="$NODE_DIR/container-logs" \
  setsid "$KUBE_NODE" kubelet --config="$NODE_DIR/kubelet.yaml" --kubeconfig="$KUBECONFIG_FILE" \
  --root-dir="$NODE_DIR/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_GATEWAY" \
  8>&- >"$NODE_LOG_DIR/kubelet.log" 2>&1 &
pids=("${pids[0]}" "$!" "${pids[@]:1}")

echo READY
# Until the parent closes our stdin (it exited, however) or signals us.
while read -r _; do :; done
