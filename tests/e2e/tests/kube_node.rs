//! The go layer end to end on a REAL node: `pkgrun layer deploy/helmfiles/27-package-go.yaml`
//! against the test kube-apiserver plus [`KubeNode`] (containerd, kubelet, controller-manager,
//! scheduler). Nothing is played by the test: the registry Deployment becomes Available through
//! the Deployment controller and the kubelet, `helm test` creates the runner Job, the Job
//! controller, the scheduler and the kubelet run its pod from the runner image (built by
//! `pkgrun images build` on the images suite's Docker engine and imported into containerd), and
//! pkgrun inside publishes to the registry and smokes (the runner init container), and the
//! state-push container writes `go-packages-state` with the chart's projected ServiceAccount
//! token.
//!
//! What is not production's, named (the cluster setup is `pkgrun_e2e::go_layer`, shared with
//! the `tiltfile` suite):
//! * `helmfile` is the STAND-IN `helmfile-standin` (src/bin): helmfile cannot be installed
//!   here (see that file); it runs the same `helm upgrade --install` per selected release.
//! * The base images are the images suite's STAND-IN bases (no image registry is reachable).
//! * The registry Deployment runs the real go-registry (the workspace's binary) in a STAND-IN
//!   image (the go stand-in base plus that binary; the project ships no registry image), with
//!   `hostNetwork` on the node's bridge address: there is no kube-proxy, so a Service's
//!   ClusterIP would not route; the runner reaches it at that address through its Secret. Its
//!   upstream is the go command's own GOPROXY, as in the other Go suites.
//!
//! The runner image, chart and values are the repository's as they are: image
//! `registry.local/ameide/package-publisher-go:dev`, pull policy `IfNotPresent` (the image is
//! present on the node).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams};
use pkgrun_e2e::charts::ChartWorkspace;
use pkgrun_e2e::go::EXAMPLE_PRIVATE_PREFIX;
use pkgrun_e2e::go_layer::{cluster, prepare_namespace, text, Cluster, BROKEN_TAG};
use pkgrun_e2e::kube_node::NODE_NAME;
use pkgrun_e2e::{copy_tree, example_monorepo, workspace_bin};

/// The go layer in a namespace of its own: its registry Deployment (not yet Available), the
/// runner's Secret, and the layer file with the test's namespace (and extra inline values).
struct Layer {
    namespace: String,
    helmfile: PathBuf,
    registry_url: String,
}

impl Layer {
    fn new(cluster: &Cluster, extra_values: &str) -> Result<Layer> {
        let server = cluster.server;
        let namespace = server.namespace("node-go")?;
        let registry_url = prepare_namespace(server, &namespace)?;

        let helmfiles = ChartWorkspace::shared().deploy.join("helmfiles");
        let original = std::fs::read_to_string(helmfiles.join("27-package-go.yaml"))?;
        let selector = "      - helmLayerSelector: \"language=go\"\n";
        ensure!(
            original.contains("    namespace: packages\n") && original.contains(selector),
            "{original}"
        );
        let helmfile = helmfiles.join(format!("27-package-go-{namespace}.yaml"));
        std::fs::write(
            &helmfile,
            original
                .replace(
                    "    namespace: packages\n",
                    &format!("    namespace: {namespace}\n"),
                )
                .replace(selector, &format!("{selector}{extra_values}")),
        )?;
        Ok(Layer {
            namespace,
            helmfile,
            registry_url,
        })
    }

    /// `pkgrun layer` with the helmfile stand-in and the real helm on PATH, the admin identity.
    fn run(&self, cluster: &Cluster) -> Result<Output> {
        let path = cluster.layer_path()?;
        Ok(Command::new(workspace_bin("pkgrun"))
            .envs(ChartWorkspace::shared().helm_homes())
            .env("KUBECONFIG", cluster.server.admin_kubeconfig())
            .env("NO_COLOR", "1")
            .env("PATH", path)
            .env_remove("PKGRUN_NAMESPACE")
            .args(["layer", "--poll-interval", "0.5", "--wait-timeout", "180"])
            .arg(&self.helmfile)
            .output()?)
    }

    /// The registry pod's log (through the API and the kubelet), for failure messages.
    fn registry_log(&self, cluster: &Cluster) -> String {
        let server = cluster.server;
        let pods = Api::<Pod>::namespaced(server.client(), &self.namespace);
        let logs = server.block_on(async {
            let mut text = String::new();
            for pod in pods
                .list(&ListParams::default().labels("app=go-registry"))
                .await?
                .items
            {
                let name = pod.metadata.name.unwrap_or_default();
                text.push_str(&pods.logs(&name, &Default::default()).await?);
            }
            anyhow::Ok(text)
        });
        logs.unwrap_or_else(|e| format!("(no registry log: {e:#})"))
    }

    fn configmap(&self, cluster: &Cluster) -> Result<Option<ConfigMap>> {
        cluster
            .server
            .configmap(&self.namespace, "go-packages-state")
    }

    /// The runner Job's pods (`job-name=package-go-runner`).
    fn runner_pods(&self, cluster: &Cluster) -> Result<Vec<Pod>> {
        let server = cluster.server;
        Ok(server
            .block_on(
                Api::<Pod>::namespaced(server.client(), &self.namespace)
                    .list(&ListParams::default().labels("job-name=package-go-runner")),
            )?
            .items)
    }
}

/// `pkgrun state sync go` into a fresh workspace; the files it wrote.
fn state_sync(cluster: &Cluster, namespace: &str, dir: &Path) -> Result<Output> {
    Ok(Command::new(workspace_bin("pkgrun"))
        .current_dir(dir)
        .env("KUBECONFIG", cluster.server.admin_kubeconfig())
        .env("PKGRUN_NAMESPACE", namespace)
        .env("NO_COLOR", "1")
        .args(["state", "sync", "go"])
        .output()?)
}

#[test]
fn go_layer_runs_its_runner_job_on_the_node_and_the_state_syncs_back() -> Result<()> {
    let cluster = cluster();
    let layer = Layer::new(cluster, "")?;
    let out = layer.run(cluster)?;
    let all = text(&out);
    ensure!(
        out.status.success(),
        "pkgrun layer failed:\n{all}\nregistry pod:\n{}\nnode:\n{}",
        layer.registry_log(cluster),
        cluster.node.logs()
    );

    // The pod's own log, prefixed by the layer: pkgrun inside published and smoked.
    for needle in [
        "[packages:go-layer]",
        "| [packages:go-publish]",
        "| [packages:go-smoke]",
        "consumer check go.packages.dev.ameide.io/ameide-sdk-go",
    ] {
        ensure!(
            all.lines()
                .any(|l| l.starts_with("[packages:go-layer]") && l.contains(needle)),
            "no [packages:go-layer] line with {needle:?}:\n{all}"
        );
    }
    // Run by the real node, not played: the pod was scheduled there and succeeded.
    let pods = layer.runner_pods(cluster)?;
    ensure!(pods.len() == 1, "{} runner pods", pods.len());
    let pod = &pods[0];
    ensure!(pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(NODE_NAME));
    ensure!(pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"));

    // The registry pod holds what was published (a pseudo-version: `@latest`, not `@v/list`).
    let list = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()?
        .get(format!(
            "{}/{EXAMPLE_PRIVATE_PREFIX}/ameide-sdk-go/@latest",
            layer.registry_url
        ))
        .send()?
        .text()?;
    ensure!(
        list.contains("-0123456789ab\""),
        "registry @latest: {list:?}"
    );

    // The ConfigMap the runner wrote through its ServiceAccount, synced back byte for byte.
    let configmap = layer
        .configmap(cluster)?
        .context("go-packages-state missing")?;
    let data = configmap.data.context("go-packages-state has no data")?;
    ensure!(!data.is_empty());
    let ws = tempfile::tempdir()?;
    copy_tree(&example_monorepo(), ws.path())?;
    let _ = std::fs::remove_dir_all(ws.path().join("tmp/tilt-packages"));
    let sync = state_sync(cluster, &layer.namespace, ws.path())?;
    ensure!(sync.status.success(), "state sync: {}", text(&sync));
    for (key, value) in &data {
        let file = ws.path().join("tmp/tilt-packages").join(key);
        let synced =
            std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
        ensure!(&synced == value, "{key} differs from the ConfigMap");
    }

    // Again, with nothing deleted by hand: helm's before-hook-creation replaces the Job.
    let first_job = job_uid(cluster, &layer.namespace)?;
    let again = layer.run(cluster)?;
    ensure!(again.status.success(), "second run:\n{}", text(&again));
    ensure!(
        job_uid(cluster, &layer.namespace)? != first_job,
        "the Job was not recreated"
    );
    Ok(())
}

fn job_uid(cluster: &Cluster, namespace: &str) -> Result<String> {
    let server = cluster.server;
    server
        .block_on(Api::<Job>::namespaced(server.client(), namespace).get("package-go-runner"))?
        .metadata
        .uid
        .context("Job uid")
}

#[test]
fn a_failing_smoke_in_the_pod_exits_4_with_its_log_and_leaves_the_configmap() -> Result<()> {
    let cluster = cluster();
    let layer = Layer::new(
        cluster,
        &format!("      - image:\n          tag: {BROKEN_TAG}\n"),
    )?;
    let server = cluster.server;
    let previous: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "go-packages-state" },
        "data": { "go-version": "v0.0.0-previous\n" }
    }))?;
    server.block_on(
        Api::<ConfigMap>::namespaced(server.client(), &layer.namespace)
            .create(&PostParams::default(), &previous),
    )?;

    let out = layer.run(cluster)?;
    let all = text(&out);
    ensure!(
        out.status.code() == Some(4),
        "exit {:?}:\n{all}",
        out.status.code()
    );
    ensure!(
        all.lines().any(|l| l.starts_with("[packages:go-layer]")
            && l.contains("| [packages:go-smoke]")
            && l.contains("NoSuchSymbolAnywhere")),
        "the pod's own log (the missing symbol) is not shown:\n{all}"
    );
    let pods = layer.runner_pods(cluster)?;
    ensure!(pods
        .iter()
        .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")));
    let after = layer.configmap(cluster)?.context("go-packages-state")?;
    ensure!(
        after.data == previous.data,
        "the ConfigMap changed: {:?}",
        after.data
    );
    Ok(())
}
