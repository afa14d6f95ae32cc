//! The go layer's test cluster, shared by the suites that run it on the real node
//! (`kube_node`, `tiltfile`): the test kube-apiserver and [`KubeNode`] with the go runner
//! images (`pkgrun images build` on the images suite's Docker engine) and the STAND-IN
//! registry image imported, the helmfile STAND-IN on a PATH of its own, and the registry
//! Deployment and runner Secret a namespace needs before `pkgrun layer`.
//!
//! What is not production's (named in the suites too): `helmfile` is `helmfile-standin`
//! (src/bin); the base images are the images suite's STAND-IN bases; the registry Deployment
//! runs the real go-registry in a STAND-IN image (the go stand-in base plus that binary) with
//! `hostNetwork` on the node's bridge address (no kube-proxy, so a ClusterIP would not route).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::docker::{DockerEngine, StandinBase};
use crate::go::{go_env_upstream, EXAMPLE_PRIVATE_PREFIX, TEST_GIT_SHA};
use crate::kube_node::{KubeNode, GATEWAY};
use crate::paths::target_tmp_dir;
use crate::{copy_tree, example_monorepo, repo_root, tools_dir, workspace_bin, KubeApiServer};

/// The go runner image the chart's values name (tag `dev`).
pub const RUNNER_IMAGE: &str = "registry.local/ameide/package-publisher-go";
/// The tag of a runner whose pkgrun.toml names a smoke symbol that does not exist.
pub const BROKEN_TAG: &str = "smoke-broken";
/// The STAND-IN registry image: the go stand-in base plus the workspace's go-registry.
pub const REGISTRY_IMAGE: &str = "pkgrun-e2e/go-registry-standin:dev";
/// The registry's upload token (its Secret and the runner's).
pub const REGISTRY_TOKEN: &str = "node-suite-upload-token";

/// The API server and the real node with the go layer's images imported.
pub struct Cluster {
    pub server: &'static KubeApiServer,
    pub node: KubeNode,
    /// `helmfile` -> the helmfile STAND-IN.
    pub standin_bin: tempfile::TempDir,
}

/// The API server and node of this test binary, with the images imported (once).
pub fn cluster() -> &'static Cluster {
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

/// A command's stdout and stderr, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A port free on the node's bridge address.
pub fn gateway_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(format!("{GATEWAY}:0"))?
        .local_addr()?
        .port())
}

impl Cluster {
    /// PATH for `pkgrun layer`: the helmfile stand-in, the pinned tools (helm), then PATH.
    pub fn layer_path(&self) -> Result<OsString> {
        Ok(std::env::join_paths(
            [
                self.standin_bin.path().to_path_buf(),
                tools_dir().join("bin"),
            ]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
        )?)
    }
}

/// The runner's Secret `packages-go-env` (the go layer's environment contract) in `namespace`.
pub fn create_runner_secret(
    server: &KubeApiServer,
    namespace: &str,
    registry_url: &str,
) -> Result<()> {
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
        Api::<Secret>::namespaced(server.client(), namespace)
            .create(&PostParams::default(), &secret),
    )?;
    Ok(())
}

/// The registry Deployment (not yet Available) and the runner's Secret in `namespace`; the
/// registry's URL as pods reach it.
pub fn prepare_namespace(server: &KubeApiServer, namespace: &str) -> Result<String> {
    let port = gateway_port()?;
    let registry_url = format!("http://{GATEWAY}:{port}");
    create_registry(server, namespace, port)?;
    create_runner_secret(server, namespace, &registry_url)?;
    Ok(registry_url)
}

/// The registry Deployment: the real go-registry in the STAND-IN image, on the node's bridge
/// address, storage in an emptyDir, the upload token from a Secret file, the host's CA bundle.
pub fn create_registry(server: &KubeApiServer, namespace: &str, port: u16) -> Result<()> {
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
