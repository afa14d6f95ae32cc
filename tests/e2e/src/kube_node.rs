//! A real node for the test kube-apiserver: Debian's containerd (runc, CNI bridge) and the
//! kubelet, kube-controller-manager (node lifecycle, Job, Deployment, ReplicaSet,
//! ServiceAccount, root CA publisher, garbage collector, TTL-after-finished) and kube-scheduler
//! of the pinned Kubernetes release, so Deployments become Available and Jobs run their pods by
//! themselves. `scripts/tools/install-kube-node.sh` builds the components and the supervisor
//! `node.sh` (tests/kube-node); `install-node-runtime.sh` installs containerd.
//!
//! * [`KubeNode::start`] runs the supervisor against a [`KubeApiServer`], waits for its
//!   `READY` line and for the Node to be Ready, and cordons the server's FAKE kubelet node so
//!   nothing is scheduled there.
//! * Pods live on the bridge network [`GATEWAY`]/24. There is no kube-proxy: a pod's traffic to
//!   the `kubernetes` Service ([`SERVICE_IP`]:443, what the kubelet puts into
//!   KUBERNETES_SERVICE_HOST/PORT) is forwarded here to the loopback API server, and
//!   [`KubeNode::expose`] puts a loopback server at an address pods reach.
//! * Images come from the Docker engine of the images suite: [`KubeNode::import_image`]
//!   (`docker save` + `ctr -n k8s.io images import`), so no registry pull is needed.
//! * One node per machine at a time (a fixed bridge and service address): the supervisor holds
//!   an exclusive lock on [`LOCK_FILE`] from before it creates anything until its teardown has
//!   ended, so a node waits for the previous one (of another test process) to be gone.
//! * Stopping: closing the supervisor's stdin (on drop, or when the test process exits however
//!   it exits) or SIGTERM makes it remove every container, mount, process, the bridge and the
//!   address it created; [`KubeNode::stop`] waits for that.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};

use crate::docker::DockerEngine;
use crate::forwarder::TcpForwarder;
use crate::kube_apiserver::{KubeApiServer, FAKE_KUBELET_NODE};
use crate::paths::{target_tmp_dir, tools_dir};
use crate::process::{ok, ChildGuard};

/// The Node's name.
pub const NODE_NAME: &str = "pkgrun-node";
/// The node's address on the pod bridge: the kubelet serves here, and pods reach the host
/// here ([`KubeNode::expose`]).
pub const GATEWAY: &str = "10.85.0.1";
/// The `kubernetes` Service's ClusterIP in the test API server (its service range 10.0.0.0/16).
pub const SERVICE_IP: &str = "10.0.0.1";
/// The bridge the node creates (and removes).
pub const BRIDGE: &str = "pkgrun0";
/// Held exclusively by a node's supervisor from start to the end of its teardown.
pub const LOCK_FILE: &str = "/tmp/pkgrun-kube-node.lock";

/// A running node (see the module documentation).
pub struct KubeNode {
    guard: Mutex<ChildGuard>,
    stdin: Mutex<Option<ChildStdin>>,
    dir: PathBuf,
    log_dir: PathBuf,
    forwards: Mutex<Vec<TcpForwarder>>,
}

/// The installed pieces, or what to run to install them.
struct Installed {
    kube_node: PathBuf,
    pause: PathBuf,
    supervisor: PathBuf,
    root_ca: PathBuf,
}

fn installed() -> Result<Installed> {
    let dir = tools_dir().join("kube-node");
    let [kube_node, pause, supervisor] = ["kube-node", "pause", "node.sh"].map(|f| dir.join(f));
    for file in [&kube_node, &pause, &supervisor] {
        ensure!(
            file.is_file(),
            "{} is missing: run scripts/tools/install-kube-node.sh (or set PKGRUN_TOOLS_DIR to where it installed)",
            file.display()
        );
    }
    for command in ["containerd", "ctr", "runc"] {
        ensure!(
            which(command),
            "{command} is not on PATH: run scripts/tools/install-node-runtime.sh"
        );
    }
    Ok(Installed {
        kube_node,
        pause,
        supervisor,
        root_ca: serving_ca()?,
    })
}

/// The test API server's serving certificate (its fixture, valid for 127.0.0.1, 10.0.0.1 and
/// kubernetes.default.svc, self-signed): pods trust it through kube-root-ca.crt.
fn serving_ca() -> Result<PathBuf> {
    let src = tools_dir().join("kube-apiserver/src/k8s.io");
    let found = std::fs::read_dir(&src)
        .with_context(|| {
            format!(
                "{}: run scripts/tools/install-kube-apiserver.sh",
                src.display()
            )
        })?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("cmd/kube-apiserver/app/testing/testdata"))
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "crt"));
    found.with_context(|| format!("no serving certificate fixture under {}", src.display()))
}

fn which(command: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|d| d.join(command).is_file()))
        .unwrap_or(false)
}

impl KubeNode {
    /// Starts the node against `server` (its supervisor waits for another node to be gone first).
    pub fn start(server: &KubeApiServer) -> Result<KubeNode> {
        let parts = installed()?;
        // Short: containerd's sockets live in it. The supervisor removes it.
        let dir = tempfile::Builder::new()
            .prefix("pkgrun-node-")
            .tempdir_in("/tmp")?
            .keep();
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let log_dir = target_tmp_dir()?.join(format!(
            "kube-node-logs-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&log_dir)?;
        let mut cmd = Command::new("bash");
        cmd.arg(&parts.supervisor)
            .env("NODE_DIR", &dir)
            .env("NODE_LOG_DIR", &log_dir)
            .env("NODE_NAME", NODE_NAME)
            .env("NODE_BRIDGE", BRIDGE)
            .env("NODE_GATEWAY", GATEWAY)
            .env("SERVICE_IP", SERVICE_IP)
            .env("KUBECONFIG_FILE", server.admin_kubeconfig())
            .env("ROOT_CA_FILE", &parts.root_ca)
            .env("KUBE_NODE", &parts.kube_node)
            .env("PAUSE_BIN", &parts.pause)
            .env("NODE_LOCK", LOCK_FILE)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(log_dir.join("node.log"))?);
        let mut guard = ChildGuard::spawn("kube-node", &mut cmd)
            .with_context(|| format!("start {}", parts.supervisor.display()))?;
        let stdin = guard.take_stdin();
        let stdout = guard.take_stdout().context("the supervisor's stdout")?;
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "READY" {
                    let _ = ready_tx.send(());
                }
            }
        });
        let node = KubeNode {
            guard: Mutex::new(guard),
            stdin: Mutex::new(stdin),
            dir,
            log_dir,
            forwards: Mutex::new(Vec::new()),
        };
        // Up to a few minutes: another test process's node may still be tearing down.
        if ready_rx.recv_timeout(Duration::from_secs(300)).is_err() {
            bail!("the test node did not report READY within 300s (is another node holding {LOCK_FILE}?); its logs:\n{}", node.logs());
        }
        let api_port = server
            .url()
            .rsplit(':')
            .next()
            .context("the API server's port")?;
        let api = TcpForwarder::start_on(
            &format!("{SERVICE_IP}:443"),
            &format!("127.0.0.1:{api_port}"),
        )
        .with_context(|| format!("forward {SERVICE_IP}:443 to the API server"))?;
        node.forwards.lock().expect("forwards").push(api);
        cordon(server, FAKE_KUBELET_NODE)?;
        node.wait_ready(server, Duration::from_secs(120))?;
        Ok(node)
    }

    fn wait_ready(&self, server: &KubeApiServer, timeout: Duration) -> Result<()> {
        let nodes = Api::<Node>::all(server.client());
        let deadline = Instant::now() + timeout;
        loop {
            let node = server.block_on(nodes.get_opt(NODE_NAME))?;
            let ready = node
                .as_ref()
                .and_then(|n| n.status.as_ref()?.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            // The kubelet registers the Node with the not-ready taint; the node-lifecycle
            // controller removes it once the Node is Ready. Until then nothing schedules.
            let untainted = node
                .as_ref()
                .and_then(|n| n.spec.as_ref()?.taints.as_ref())
                .is_none_or(|t| t.is_empty());
            if ready && untainted {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "node {NODE_NAME} not Ready and untainted within {timeout:?}; logs:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The URL a pod uses for the loopback server at `loopback_url` (`http://127.0.0.1:<port>…`):
    /// the same port on [`GATEWAY`], forwarded to it while the node runs.
    pub fn expose(&self, loopback_url: &str) -> Result<String> {
        let rest = loopback_url
            .strip_prefix("http://127.0.0.1:")
            .with_context(|| format!("{loopback_url} is not http://127.0.0.1:<port>…"))?;
        let port = rest.split('/').next().unwrap_or(rest);
        let forward =
            TcpForwarder::start_on(&format!("{GATEWAY}:{port}"), &format!("127.0.0.1:{port}"))
                .with_context(|| format!("forward {GATEWAY}:{port} to 127.0.0.1:{port}"))?;
        self.forwards.lock().expect("forwards").push(forward);
        Ok(format!("http://{GATEWAY}:{rest}"))
    }

    /// Copies `image` from `engine` into the node's containerd (namespace k8s.io, where the
    /// kubelet looks): `docker save`, then `ctr images import`.
    pub fn import_image(&self, engine: &DockerEngine, image: &str) -> Result<()> {
        let tar = tempfile::Builder::new()
            .prefix("node-image-")
            .suffix(".tar")
            .tempfile_in(target_tmp_dir()?)?;
        engine.save(image, tar.path())?;
        ok(self.ctr().args(["images", "import"]).arg(tar.path()))
            .with_context(|| format!("ctr images import {image}"))?;
        Ok(())
    }

    /// `ctr` on the node's containerd, namespace k8s.io.
    pub fn ctr(&self) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.dir.join("containerd.sock"))
            .args(["-n", "k8s.io"]);
        cmd
    }

    /// The node's private directory (removed when it stops).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last lines of every component's log.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in [
            "node",
            "containerd",
            "kubelet",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            let text = std::fs::read_to_string(self.log_dir.join(format!("{name}.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "--- {name} ---\n{}\n",
                lines[lines.len().saturating_sub(20)..].join("\n")
            ));
        }
        out
    }

    /// The supervisor's process id (SIGTERM it to stop the node as a CI runner would).
    pub fn pid(&self) -> u32 {
        self.guard.lock().expect("guard").pid()
    }

    /// Whether the supervisor still runs.
    pub fn is_running(&self) -> bool {
        self.guard.lock().expect("guard").is_running()
    }

    /// Stops the node (also on drop): closes the supervisor's stdin and waits up to 60 s for
    /// its teardown, then stops what is left of its process group.
    pub fn stop(&self) -> Result<()> {
        for mut forward in self.forwards.lock().expect("forwards").drain(..) {
            forward.shutdown();
        }
        drop(self.stdin.lock().expect("stdin").take());
        let mut guard = self.guard.lock().expect("guard");
        let deadline = Instant::now() + Duration::from_secs(60);
        while guard.is_running() {
            if Instant::now() >= deadline {
                guard.stop();
                bail!(
                    "the test node still ran 60s after its stdin closed; logs:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        guard.stop();
        Ok(())
    }
}

impl Drop for KubeNode {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Marks `node` unschedulable (as `kubectl cordon`).
fn cordon(server: &KubeApiServer, node: &str) -> Result<()> {
    let patch = serde_json::json!({ "spec": { "unschedulable": true } });
    server
        .block_on(Api::<Node>::all(server.client()).patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        ))
        .with_context(|| format!("cordon node {node}"))?;
    Ok(())
}
