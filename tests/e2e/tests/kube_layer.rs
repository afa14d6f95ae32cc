//! `pkgrun layer` against real objects in the real kube-apiserver, with the real helm: the
//! layer file is the repository's `deploy/helmfiles/27-package-go.yaml` (namespace changed to
//! the test's), the registry Deployment and the runner Job's end are set through the API by
//! the test (no controllers run here), and the Job's pod log is served by the API server from
//! its fake kubelet.
//!
//! `helmfile` itself is a FAKE: every version the module proxy here lists has replace
//! directives, so it cannot be installed. The stub records its argv and does what
//! `helmfile -l language=go sync` does for this layer's one release: `helm upgrade --install`
//! of the chart with the layer's values files, with the real helm.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use pkgrun_e2e::charts::ChartWorkspace;
use pkgrun_e2e::kube_apiserver::JOB_BACKOFF_MESSAGE;
use pkgrun_e2e::process::{ChildGuard, Run};
use pkgrun_e2e::{tools_dir, workspace_bin, KubeApiServer};

const RELEASE: &str = "package-go";
const JOB: &str = "package-go-runner";

struct Layer {
    _tmp: tempfile::TempDir,
    namespace: String,
    helmfile: PathBuf,
    bin: PathBuf,
}

impl Layer {
    /// The go layer in a namespace of its own, its registry Deployment not yet Available.
    fn new(server: &KubeApiServer) -> Result<Layer> {
        let namespace = server.namespace("layer")?;
        let ws = ChartWorkspace::shared();
        let helmfiles = ws.deploy.join("helmfiles");
        let original = std::fs::read_to_string(helmfiles.join("27-package-go.yaml"))?;
        ensure!(original.contains("    namespace: packages\n"), "{original}");
        let helmfile = helmfiles.join(format!("27-package-go-{namespace}.yaml"));
        std::fs::write(
            &helmfile,
            original.replace(
                "    namespace: packages\n",
                &format!("    namespace: {namespace}\n"),
            ),
        )?;

        let tmp = tempfile::tempdir()?;
        let bin = tmp.path().join("fake-bin");
        std::fs::create_dir_all(&bin)?;
        let script = format!(
            "#!/bin/sh\n# FAKE helmfile for tests: records argv, then syncs this layer's one release with the real helm.\necho \"helmfile $*\" >> \"{bin}/argv.log\"\nexec helm upgrade --install {RELEASE} \"{chart}\" -n {namespace} -f \"{chart}/values.yaml\" -f \"{common}\" --set helmLayerSelector=language=go --wait --timeout 60s\n",
            bin = bin.display(),
            chart = ws.chart_dir("package-go").display(),
            common = helmfiles.join("values/package-runner-common.yaml").display(),
        );
        let path = bin.join("helmfile");
        std::fs::write(&path, script)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;

        let registry: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "go-registry" },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "go-registry" } },
                "template": {
                    "metadata": { "labels": { "app": "go-registry" } },
                    "spec": { "containers": [{ "name": "registry", "image": "registry.local/go-registry:dev" }] }
                }
            }
        }))?;
        server
            .block_on(
                Api::<Deployment>::namespaced(server.client(), &namespace)
                    .create(&PostParams::default(), &registry),
            )
            .context("create the registry Deployment")?;
        server.set_deployment_available(&namespace, "go-registry", false)?;
        Ok(Layer {
            _tmp: tmp,
            namespace,
            helmfile,
            bin,
        })
    }

    /// `pkgrun layer` with the FAKE helmfile and the real helm on PATH, the admin kubeconfig.
    fn pkgrun(&self, server: &KubeApiServer, args: &[&str]) -> Command {
        let path = std::env::join_paths(
            [self.bin.clone(), tools_dir().join("bin")]
                .into_iter()
                .chain(std::env::split_paths(
                    &std::env::var_os("PATH").unwrap_or_default(),
                )),
        )
        .expect("PATH");
        let mut cmd = Command::new(workspace_bin("pkgrun"));
        cmd.envs(ChartWorkspace::shared().helm_homes())
            .env("KUBECONFIG", server.admin_kubeconfig())
            .env("NO_COLOR", "1")
            .env("PATH", path)
            .env_remove("PKGRUN_NAMESPACE")
            .args(["layer", "--poll-interval", "0.2"])
            .args(args)
            .arg(&self.helmfile);
        cmd
    }

    fn argv(&self) -> Option<String> {
        std::fs::read_to_string(self.bin.join("argv.log")).ok()
    }
}

/// Runs `pkgrun layer` while the test plays the controllers on this thread: once pkgrun
/// reports that it is waiting, the registry becomes Available; once `helm test` has created
/// the Job, it gets a pod with `exit_code` and `log`, then ends accordingly. The returned
/// `stderr` holds pkgrun's stdout and stderr together.
fn run_layer(
    server: &KubeApiServer,
    layer: &Layer,
    mut cmd: Command,
    exit_code: i32,
    log: &str,
) -> Result<Run> {
    let output = tempfile::NamedTempFile::new()?;
    let mut pkgrun = ChildGuard::spawn_logged("pkgrun layer", &mut cmd, output.path())?;
    let ns = &layer.namespace;
    let played = (|| -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pkgrun.log().contains("waiting for deployment") {
            ensure!(pkgrun.is_running(), "pkgrun layer ended before it waited");
            ensure!(Instant::now() < deadline, "pkgrun layer never waited");
            std::thread::sleep(Duration::from_millis(50));
        }
        server.set_deployment_available(ns, "go-registry", true)?;
        server.wait_for_job(ns, JOB, None, Duration::from_secs(60))?;
        server.add_job_pod(ns, JOB, &format!("{JOB}-x7k2p"), exit_code, log)?;
        if exit_code == 0 {
            server.complete_job(ns, JOB)
        } else {
            server.fail_job(ns, JOB)
        }
    })();
    if let Err(e) = played {
        let so_far = pkgrun.log();
        pkgrun.stop();
        anyhow::bail!("{e:#}\n--- pkgrun layer's output so far\n{so_far}");
    }
    let status = pkgrun.wait()?;
    Ok(Run {
        code: status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: pkgrun.log(),
    })
}

#[test]
fn a_failed_runner_job_ends_the_layer_with_its_exit_code_and_its_pod_log() -> Result<()> {
    let server = KubeApiServer::shared();
    let layer = Layer::new(server)?;
    let cmd = layer.pkgrun(server, &[]);
    let out = run_layer(
        server,
        &layer,
        cmd,
        4,
        "[packages:go-smoke] 2026-11-27T22:10:05Z fail consumer check\nsecond line\r\n",
    )?;
    let err = &out.stderr;
    ensure!(out.code == 4, "the runner's smoke exit code:\n{err}");
    ensure!(
        err.contains(&format!(
            "waiting for deployment {}/go-registry: Available=False (0/1 ready, MinimumReplicasUnavailable)",
            layer.namespace
        )),
        "the wait saw the Deployment's real status:\n{err}"
    );
    ensure!(
        layer.argv()
            == Some(format!(
                "helmfile -f {} -l language=go sync\n",
                layer.helmfile.display()
            )),
        "{:?}",
        layer.argv()
    );
    let lines: Vec<&str> = err.lines().collect();
    ensure!(
        lines.iter().any(|l| l.starts_with("[packages:go-layer] ")
            && l.ends_with(" info | [packages:go-smoke] 2026-11-27T22:10:05Z fail consumer check")),
        "the pod log, harvested through the API:\n{err}"
    );
    ensure!(
        lines
            .iter()
            .any(|l| l.starts_with("[packages:go-layer] ") && l.ends_with(" info | second line")),
        "{err}"
    );
    ensure!(
        err.contains(&format!(
            "job {}/{JOB} failed: BackoffLimitExceeded: {JOB_BACKOFF_MESSAGE} (runner exit code 4)",
            layer.namespace
        )),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_completed_runner_job_passes_the_layer_and_its_log_is_shown() -> Result<()> {
    let server = KubeApiServer::shared();
    let layer = Layer::new(server)?;
    let cmd = layer.pkgrun(server, &[]);
    let out = run_layer(server, &layer, cmd, 0, "all good\n")?;
    ensure!(out.code == 0, "{}", out.stderr);
    ensure!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("[packages:go-layer] ") && l.ends_with(" info | all good")),
        "{}",
        out.stderr
    );
    Ok(())
}

#[test]
fn a_registry_that_never_becomes_available_is_exit_5_before_helmfile_runs() -> Result<()> {
    let server = KubeApiServer::shared();
    let layer = Layer::new(server)?;
    let out = layer
        .pkgrun(server, &["--wait-timeout", "1"])
        .output()
        .context("run pkgrun layer")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(5), "{err}");
    ensure!(
        err.contains(&format!(
            "timed out after 1.0s waiting for deployments {}/go-registry to become Available; last seen: Available=False",
            layer.namespace
        )),
        "{err}"
    );
    ensure!(layer.argv().is_none(), "helmfile must not run");
    Ok(())
}

#[test]
fn without_helmfile_on_path_the_layer_is_exit_2_and_touches_nothing() -> Result<()> {
    let server = KubeApiServer::shared();
    let layer = Layer::new(server)?;
    let out = layer
        .pkgrun(server, &[])
        .env("PATH", layer.bin.join("empty"))
        .output()
        .context("run pkgrun layer")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(2), "{err}");
    ensure!(err.contains("helmfile and helm not found on PATH"), "{err}");
    ensure!(
        server.job_uid(&layer.namespace, JOB)?.is_none() && layer.argv().is_none(),
        "nothing was run"
    );
    Ok(())
}
