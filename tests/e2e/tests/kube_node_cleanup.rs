//! The test node leaves nothing behind (a CI machine is reused): after a pod with a
//! projected ServiceAccount token (a tmpfs mount), an emptyDir and its own network namespace
//! ran on it, stopping the node — by SIGTERM to its supervisor, and by closing the
//! supervisor's stdin (what happens when a test process exits, however it exits) — removes
//! every process, container, mount, cgroup, the bridge, the service address and its directory.
//!
//! Its own test binary: one node runs per machine at a time (pkgrun_e2e::kube_node::LOCK_FILE),
//! and kube_node.rs keeps one for its whole run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use pkgrun_e2e::kube_node::{KubeNode, BRIDGE, NODE_NAME, SERVICE_IP};
use pkgrun_e2e::{tools_dir, KubeApiServer};
use sha2::{Digest, Sha256};

/// The sandbox image node.sh imports, used as a container image too (it is on the node).
fn pause_image() -> Result<String> {
    let bin = std::fs::read(tools_dir().join("kube-node/pause"))?;
    Ok(format!(
        "pkgrun.test/pause:{}",
        &hex::encode(Sha256::digest(&bin))[..12]
    ))
}

/// A pod on the node with a token volume and an emptyDir, Running; its container ids.
fn run_pod(server: &KubeApiServer, node: &KubeNode) -> Result<Vec<String>> {
    let namespace = server.namespace("cleanup")?;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "holder" },
        "spec": {
            "containers": [{
                "name": "holder", "image": pause_image()?, "imagePullPolicy": "Never",
                "volumeMounts": [{ "name": "scratch", "mountPath": "/scratch" }]
            }],
            "volumes": [{ "name": "scratch", "emptyDir": {} }]
        }
    }))?;
    let pods = Api::<Pod>::namespaced(server.client(), &namespace);
    server.block_on(pods.create(&PostParams::default(), &pod))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pod = server.block_on(pods.get("holder"))?;
        let status = pod.status.unwrap_or_default();
        if status.phase.as_deref() == Some("Running") {
            ensure!(pod.spec.and_then(|s| s.node_name).as_deref() == Some(NODE_NAME));
            break;
        }
        if Instant::now() >= deadline {
            bail!("pod not Running within 120s: {status:?}\n{}", node.logs());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let ids = String::from_utf8(node.ctr().args(["containers", "ls", "-q"]).output()?.stdout)?;
    let ids: Vec<String> = ids.lines().map(str::to_string).collect();
    ensure!(ids.len() >= 2, "a sandbox and a container: {ids:?}");
    Ok(ids)
}

/// What the running node has made: checked to exist first, so the absence checks mean something.
fn traces(dir: &Path, ids: &[String]) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let dir_text = dir.to_string_lossy().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    let ours = mounts.lines().filter(|l| l.contains(&dir_text)).count();
    if ours > 0 {
        found.push(format!("{ours} mounts under {dir_text}"));
    }
    for entry in std::fs::read_dir("/proc")?.filter_map(|e| e.ok()) {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let shim_of_ours = cmdline.contains("containerd-shim")
            && ids.iter().any(|id| cmdline.contains(id.as_str()));
        if cmdline.contains(&dir_text) || shim_of_ours {
            found.push(format!(
                "process {}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    if dir.exists() {
        found.push(format!("{dir_text} exists"));
    }
    if Path::new("/sys/class/net").join(BRIDGE).exists() {
        found.push(format!("bridge {BRIDGE}"));
    }
    let lo = String::from_utf8(
        std::process::Command::new("ip")
            .args(["-4", "addr", "show", "dev", "lo"])
            .output()?
            .stdout,
    )?;
    if lo.contains(&format!("{SERVICE_IP}/32")) {
        found.push(format!("{SERVICE_IP} on lo"));
    }
    for id in ids {
        if Path::new("/sys/fs/cgroup/memory/k8s.io").join(id).exists() {
            found.push(format!("cgroup k8s.io/{id}"));
        }
    }
    Ok(found)
}

fn wait_gone(node: &KubeNode) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.is_running() {
        if Instant::now() >= deadline {
            bail!(
                "the supervisor still runs 60s after SIGTERM:\n{}",
                node.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn check_stop(server: &KubeApiServer, by_sigterm: bool) -> Result<()> {
    let node = KubeNode::start(server)?;
    let ids = run_pod(server, &node)?;
    let dir = node.dir().to_path_buf();
    let before = traces(&dir, &ids)?;
    ensure!(
        before.iter().any(|t| t.contains("mounts under"))
            && before.iter().any(|t| t.contains("bridge")),
        "the running node shows no mounts or bridge: {before:?}"
    );
    if by_sigterm {
        kill(Pid::from_raw(node.pid() as i32), Signal::SIGTERM)
            .context("SIGTERM the supervisor")?;
        wait_gone(&node)?;
    } else {
        node.stop()?;
    }
    let after = traces(&dir, &ids)?;
    ensure!(
        after.is_empty(),
        "left behind after {}: {after:#?}",
        if by_sigterm { "SIGTERM" } else { "stdin EOF" }
    );
    Ok(())
}

#[test]
fn the_node_leaves_nothing_behind_on_sigterm_and_on_stdin_eof() -> Result<()> {
    let server = KubeApiServer::start()?;
    check_stop(&server, true)?;
    check_stop(&server, false)?;
    Ok(())
}
