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
//! What is not production's, named:
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
use std::sync::OnceLock;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, ListParams, PostParams};
use pkgrun_e2e::charts::ChartWorkspace;
use pkgrun_e2e::docker::{DockerEngine, StandinBase};
use pkgrun_e2e::go::{go_env_upstream, EXAMPLE_PRIVATE_PREFIX, TEST_GIT_SHA};
use pkgrun_e2e::kube_node::{KubeNode, GATEWAY, NODE_NAME};
use pkgrun_e2e::paths::target_tmp_dir;
use pkgrun_e2e::{copy_tree, example_monorepo, repo_root, tools_dir, workspace_bin, KubeApiServer};

const RUNNER_IMAGE: &str = "registry.local/ameide/package-publisher-go";
/// The tag of a runner whose pkgrun.toml names a smoke symbol that does not exist.
const BROKEN_TAG: &str = "smoke-broken";
const REGISTRY_IMAGE: &str = "pkgrun-e2e/go-registry-standin:dev";
const REGISTRY_TOKEN: &str = "node-suite-upload-token";

struct Cluster {
    server: &'static KubeApiServer,
    node: KubeNode,
    standin_bin: tempfile::TempDir,
}

/// The API server and node of this test binary, with the images imported (once).
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| start().unwrap_or_else(|e| panic!("the test cluster: {e:#}")))
}

fn start() -> Result<Cluster> {
    let server = KubeApiServer::shared();
    let engine = DockerEngine::start_or_reuse()?;
    let base = StandinBase::for_lang("go")?;
    base.import(&engine)?;
    build_runner_images(&engine, &base)?;
    build_registry_image(&engine, &base)?;
    let node = KubeNode::start(server)?;
    for image in [
        format!("{RUNNER_IMAGE}:dev"),
        format!("{RUNNER_IMAGE}:{BROKEN_TAG}"),
        REGISTRY_IMAGE.to_string(),
    ] {
        node.import_image(&engine, &image)?;
    }
    // A dockerd the engine started stops here: a static is never dropped.
    drop(engine);
    let standin_bin = tempfile::tempdir()?;
    std::os::unix::fs::symlink(
        workspace_bin("helmfile-standin"),
        standin_bin.path().join("helmfile"),
    )?;
    Ok(Cluster {
        server,
        node,
        standin_bin,
    })
}

/// The static pkgrun the images carry (scripts/test.sh builds it).
fn musl_pkgrun() -> Result<PathBuf> {
    let bin = target_tmp_dir()?
        .parent()
        .context("target dir")?
        .join("x86_64-unknown-linux-musl/release/pkgrun");
    ensure!(
        bin.is_file(),
        "the static pkgrun {} is missing: run `cargo build --release --target x86_64-unknown-linux-musl -p pkgrun` (scripts/test.sh does)",
        bin.display()
    );
    Ok(bin)
}

/// `pkgrun images build go` of the example monorepo (tag `dev`), and of a copy whose Go
/// smoke check names a symbol that does not exist (tag [`BROKEN_TAG`]).
fn build_runner_images(engine: &DockerEngine, base: &StandinBase) -> Result<()> {
    let work = target_tmp_dir()?.join("kube-node-images");
    let broken = work.join("broken-monorepo");
    let _ = std::fs::remove_dir_all(&broken);
    copy_tree(&example_monorepo(), &broken)?;
    let toml = std::fs::read_to_string(broken.join("pkgrun.toml"))?;
    ensure!(toml.contains("symbol = \"NewClient\""), "{toml}");
    std::fs::write(
        broken.join("pkgrun.toml"),
        toml.replace(
            "symbol = \"NewClient\"",
            "symbol = \"NoSuchSymbolAnywhere\"",
        ),
    )?;
    for (ws, tag) in [(example_monorepo(), "dev"), (broken, BROKEN_TAG)] {
        let out = Command::new(workspace_bin("pkgrun"))
            .current_dir(&ws)
            .arg("--config")
            .arg(ws.join("pkgrun.toml"))
            .args(["images", "build", "--tag", tag, "--network", "host"])
            .arg("--repo")
            .arg(repo_root())
            .arg("--work-dir")
            .arg(work.join(tag))
            .arg("--pkgrun-bin")
            .arg(musl_pkgrun()?)
            .arg("--base")
            .arg(format!("go={}", base.image))
            .arg("go")
            .env("DOCKER_HOST", engine.host())
            .env("DOCKER_BUILDKIT", "0")
            .env("NO_COLOR", "1")
            .output()?;
        ensure!(out.status.success(), "images build {tag}: {}", text(&out));
    }
    Ok(())
}

/// The STAND-IN registry image: the go stand-in base plus the workspace's go-registry.
fn build_registry_image(engine: &DockerEngine, base: &StandinBase) -> Result<()> {
    let context = tempfile::tempdir_in(target_tmp_dir()?)?;
    std::fs::copy(
        workspace_bin("go-registry"),
        context.path().join("go-registry"),
    )?;
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "# STAND-IN registry image for the node suite (tests/e2e/tests/kube_node.rs)\nFROM {}\nCOPY go-registry /usr/local/bin/go-registry\nENTRYPOINT [\"/usr/local/bin/go-registry\"]\n",
            base.image
        ),
    )?;
    let out = engine
        .docker()
        .args(["build", "--network", "host", "-t", REGISTRY_IMAGE])
        .arg(context.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()?;
    ensure!(
        out.status.success(),
        "build {REGISTRY_IMAGE}: {}",
        text(&out)
    );
    Ok(())
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A port free on the node's bridge address.
fn gateway_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(format!("{GATEWAY}:0"))?
        .local_addr()?
        .port())
}

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
        let port = gateway_port()?;
        let registry_url = format!("http://{GATEWAY}:{port}");
        create_registry(server, &namespace, port)?;
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "packages-go-env" },
            "stringData": {
                "GO_REGISTRY_URL": registry_url,
                "GO_REGISTRY_TOKEN": REGISTRY_TOKEN,
                "GONOSUMDB": EXAMPLE_PRIVATE_PREFIX,
                "GOSUMDB": "off",
                "SOURCE_GIT_SHA": TEST_GIT_SHA,
            }
        }))?;
        server.block_on(
            Api::<Secret>::namespaced(server.client(), &namespace)
                .create(&PostParams::default(), &secret),
        )?;

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
        let path = std::env::join_paths(
            [
                cluster.standin_bin.path().to_path_buf(),
                tools_dir().join("bin"),
            ]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
        )?;
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

/// The registry Deployment: the real go-registry in the STAND-IN image, on the node's bridge
/// address, storage in an emptyDir, the upload token from a Secret file, the host's CA bundle.
fn create_registry(server: &KubeApiServer, namespace: &str, port: u16) -> Result<()> {
    let token: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "go-registry-token" },
        "stringData": { "tokens": format!("{REGISTRY_TOKEN}\n") }
    }))?;
    server.block_on(
        Api::<Secret>::namespaced(server.client(), namespace)
            .create(&PostParams::default(), &token),
    )?;
    let listen = format!("{GATEWAY}:{port}");
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "go-registry" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "go-registry" } },
            "template": {
                "metadata": { "labels": { "app": "go-registry" } },
                "spec": {
                    "hostNetwork": true,
                    "dnsPolicy": "Default",
                    "containers": [{
                        "name": "registry",
                        "image": REGISTRY_IMAGE,
                        "imagePullPolicy": "Never",
                        "args": ["--listen", listen, "--storage", "/data/storage",
                                 "--token-file", "/token/tokens", "--upstream", go_env_upstream()?],
                        "readinessProbe": { "tcpSocket": { "host": GATEWAY, "port": port }, "periodSeconds": 1 },
                        "volumeMounts": [
                            { "name": "data", "mountPath": "/data" },
                            { "name": "token", "mountPath": "/token", "readOnly": true },
                            { "name": "host-ca", "mountPath": "/etc/ssl/certs/ca-certificates.crt", "readOnly": true }
                        ]
                    }],
                    "volumes": [
                        { "name": "data", "emptyDir": {} },
                        { "name": "token", "secret": { "secretName": "go-registry-token" } },
                        // The machine's own trust store: its route to the upstream presents a
                        // certificate only that store knows (the stand-in base's does not).
                        { "name": "host-ca", "hostPath": { "path": "/etc/ssl/certs/ca-certificates.crt", "type": "File" } }
                    ]
                }
            }
        }
    }))?;
    server
        .block_on(
            Api::<Deployment>::namespaced(server.client(), namespace)
                .create(&PostParams::default(), &deployment),
        )
        .context("create the registry Deployment")?;
    Ok(())
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
