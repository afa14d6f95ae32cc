//! The package layers end to end on a REAL node: `pkgrun layer deploy/helmfiles/<layer>.yaml`
//! for layer 26 (ts, Verdaccio), 27 (go, go-registry) and 28 (python, devpi) against the test
//! kube-apiserver plus [`KubeNode`] (containerd, kubelet, controller-manager, scheduler).
//! Nothing is played by the test: the registry Deployment becomes Available through the
//! Deployment controller and the kubelet, `helm test` creates the runner Job, the Job
//! controller, the scheduler and the kubelet run its pod from the runner image (built by
//! `pkgrun images build` on the images suite's Docker engine and imported into containerd),
//! pkgrun inside publishes the example packages to the registry pod and smokes them (the
//! runner init container), and the state-push container writes `<lang>-packages-state` with
//! the chart's projected ServiceAccount token.
//!
//! What is not production's, named (the cluster setup is `pkgrun_e2e::node_layers`, shared
//! with the `tiltfile` suite):
//! * `helmfile` is the STAND-IN `helmfile-standin` (src/bin): helmfile cannot be installed
//!   here (see that file); it runs the same `helm upgrade --install` per selected release.
//! * The base images are the images suite's STAND-IN bases (no image registry is reachable).
//! * The registry Deployments run the real registries of the loopback suites in STAND-IN
//!   images (the project ships no registry image): go-registry (the workspace's binary) on the
//!   go stand-in base, the pinned Verdaccio on the ts (Node.js) stand-in base, the pinned
//!   devpi-server on the python stand-in base. They use `hostNetwork` on the node's bridge
//!   address: there is no kube-proxy, so a Service's ClusterIP would not route; the runner
//!   reaches them at that address through its Secret. Their upstreams are the machine's own,
//!   as in the loopback suites. The in-cluster Verdaccio starts with the user database and
//!   server secret of a loopback Verdaccio that signed the user up, so its token is known
//!   before the pod exists (the runner's Secret must be there before helm test).
//!
//! The runner images, charts and values are the repository's as they are: image
//! `registry.local/ameide/package-publisher-<lang>:dev`, pull policy `IfNotPresent` (the image
//! is present on the node).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams};
use pkgrun_e2e::charts::ChartWorkspace;
use pkgrun_e2e::kube_node::NODE_NAME;
use pkgrun_e2e::node_layers::{cluster, text, Cluster, Lang, BROKEN_TAG};
use pkgrun_e2e::{copy_tree, example_monorepo, workspace_bin};

/// One layer at a time: a runner build and a registry start each keep the machine's two
/// cores busy, and the registry wait of `pkgrun layer` is bounded.
static ONE_LAYER_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A layer in a namespace of its own: its registry Deployment (not yet Available), the
/// runner's Secret, and the layer file with the test's namespace (and extra inline values).
struct Layer {
    lang: Lang,
    namespace: String,
    helmfile: PathBuf,
    registry_url: String,
}

impl Layer {
    fn new(cluster: &Cluster, lang: Lang, extra_values: &str) -> Result<Layer> {
        let server = cluster.server;
        let namespace = server.namespace(&format!("node-{}", lang.name()))?;
        let registry_url = cluster.prepare_namespace(lang, &namespace)?;

        let helmfiles = ChartWorkspace::shared().deploy.join("helmfiles");
        let original = std::fs::read_to_string(helmfiles.join(lang.helmfile()))?;
        let selector = format!("      - helmLayerSelector: \"language={}\"\n", lang.name());
        ensure!(
            original.contains("    namespace: packages\n") && original.contains(&selector),
            "{original}"
        );
        let helmfile = helmfiles.join(format!("{}-{namespace}.yaml", lang.helmfile()));
        std::fs::write(
            &helmfile,
            original
                .replace(
                    "    namespace: packages\n",
                    &format!("    namespace: {namespace}\n"),
                )
                .replace(&selector, &format!("{selector}{extra_values}")),
        )?;
        Ok(Layer {
            lang,
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
        let labels = format!("app={}", self.lang.registry_deployment());
        let logs = server.block_on(async {
            let mut text = String::new();
            for pod in pods
                .list(&ListParams::default().labels(&labels))
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
            .configmap(&self.namespace, &self.lang.configmap())
    }

    /// The runner Job's pods (`job-name=package-<lang>-runner`).
    fn runner_pods(&self, cluster: &Cluster) -> Result<Vec<Pod>> {
        let server = cluster.server;
        let labels = format!("job-name={}", self.lang.job());
        Ok(server
            .block_on(
                Api::<Pod>::namespaced(server.client(), &self.namespace)
                    .list(&ListParams::default().labels(&labels)),
            )?
            .items)
    }
}

/// `pkgrun state sync <lang>` into `dir`.
fn state_sync(cluster: &Cluster, lang: Lang, namespace: &str, dir: &Path) -> Result<Output> {
    Ok(Command::new(workspace_bin("pkgrun"))
        .current_dir(dir)
        .env("KUBECONFIG", cluster.server.admin_kubeconfig())
        .env("PKGRUN_NAMESPACE", namespace)
        .env("NO_COLOR", "1")
        .args(["state", "sync", lang.name()])
        .output()?)
}

/// `pkgrun layer` of `lang` on the node, end to end (see the module docs); the layer, for
/// what a test checks further.
fn layer_runs_on_the_node_and_its_state_syncs_back(lang: Lang) -> Result<Layer> {
    let _one = ONE_LAYER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let cluster = cluster();
    let layer = Layer::new(cluster, lang, "")?;
    let out = layer.run(cluster)?;
    let all = text(&out);
    ensure!(
        out.status.success(),
        "pkgrun layer failed:\n{all}\nregistry pod:\n{}\nnode:\n{}",
        layer.registry_log(cluster),
        cluster.node.logs()
    );

    // The pod's own log, prefixed by the layer: pkgrun inside published and smoked.
    let scope = lang.layer_scope();
    let name = lang.name();
    for needle in [
        scope.clone(),
        format!("| [packages:{name}-publish]"),
        format!("| [packages:{name}-smoke]"),
        format!("consumer check {}", lang.sdk_package()),
    ] {
        ensure!(
            all.lines()
                .any(|l| l.starts_with(&scope) && l.contains(&needle)),
            "no {scope} line with {needle:?}:\n{all}"
        );
    }
    // Run by the real node, not played: the pod was scheduled there and succeeded.
    let pods = layer.runner_pods(cluster)?;
    ensure!(pods.len() == 1, "{} runner pods", pods.len());
    let pod = &pods[0];
    ensure!(pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(NODE_NAME));
    ensure!(pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"));

    // The ConfigMap the runner wrote through its ServiceAccount, synced back byte for byte.
    let configmap = layer
        .configmap(cluster)?
        .with_context(|| format!("{} missing", lang.configmap()))?;
    let data = configmap.data.context("the state ConfigMap has no data")?;
    ensure!(!data.is_empty());
    let ws = tempfile::tempdir()?;
    copy_tree(&example_monorepo(), ws.path())?;
    let _ = std::fs::remove_dir_all(ws.path().join("tmp/tilt-packages"));
    let sync = state_sync(cluster, lang, &layer.namespace, ws.path())?;
    ensure!(sync.status.success(), "state sync: {}", text(&sync));
    for (key, value) in &data {
        let file = ws.path().join("tmp/tilt-packages").join(key);
        let synced =
            std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
        ensure!(&synced == value, "{key} differs from the ConfigMap");
    }

    // The registry pod serves every version the state records.
    let http = reqwest::blocking::Client::builder().no_proxy().build()?;
    let docs: Vec<serde_json::Value> = data
        .iter()
        .filter(|(key, _)| key.ends_with(".json"))
        .map(|(_, value)| serde_json::from_str(value))
        .collect::<Result<_, _>>()?;
    ensure!(docs.len() == 2, "{} state documents", docs.len());
    for doc in docs {
        let (package, version) = (doc["package"].as_str(), doc["version"].as_str());
        let (package, version) = package.zip(version).context("package and version")?;
        let url = lang.version_page(&layer.registry_url, package, version);
        let page = http.get(&url).send()?.error_for_status()?.text()?;
        ensure!(
            page.contains(version),
            "{url} does not name {version}: {page}"
        );
    }
    Ok(layer)
}

#[test]
fn ts_layer_runs_its_runner_job_on_the_node_and_the_state_syncs_back() -> Result<()> {
    layer_runs_on_the_node_and_its_state_syncs_back(Lang::Ts).map(drop)
}

#[test]
fn python_layer_runs_its_runner_job_on_the_node_and_the_state_syncs_back() -> Result<()> {
    layer_runs_on_the_node_and_its_state_syncs_back(Lang::Python).map(drop)
}

#[test]
fn go_layer_runs_its_runner_job_on_the_node_and_the_state_syncs_back_and_reruns() -> Result<()> {
    let layer = layer_runs_on_the_node_and_its_state_syncs_back(Lang::Go)?;
    let cluster = cluster();
    // What was published carries the test's source revision (a pseudo-version).
    let version = cluster
        .server
        .configmap(&layer.namespace, &Lang::Go.configmap())?
        .and_then(|c| c.data?.get("go-version").cloned())
        .context("go-version")?;
    ensure!(version.contains("-0123456789ab"), "go-version {version:?}");

    // Again, with nothing deleted by hand: helm's before-hook-creation replaces the Job.
    let _one = ONE_LAYER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
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
        .block_on(Api::<Job>::namespaced(server.client(), namespace).get(&Lang::Go.job()))?
        .metadata
        .uid
        .context("Job uid")
}

#[test]
fn a_failing_smoke_in_the_pod_exits_4_with_its_log_and_leaves_the_configmap() -> Result<()> {
    let _one = ONE_LAYER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let cluster = cluster();
    let layer = Layer::new(
        cluster,
        Lang::Go,
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
