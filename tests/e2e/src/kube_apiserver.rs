//! The real Kubernetes API server of the Kubernetes suites: the `kube-apiserver-test` binary
//! that `scripts/tools/install-kube-apiserver.sh` builds from `tests/kube-apiserver` (the
//! pinned k8s.io/kubernetes release's kube-apiserver with an embedded etcd, RBAC
//! authorization, on loopback), started and stopped from Rust.
//!
//! * [`KubeApiServer::start`] spawns it with its own directory, waits for its `READY <url>`
//!   line and then for `/readyz`, and connects an admin client (the server's loopback identity,
//!   group `system:masters`) from the kubeconfig the server wrote.
//! * [`KubeApiServer::shared`] is one server per test binary (a few seconds and ~300 MB
//!   each): tests keep apart by working in their own [`KubeApiServer::namespace`].
//! * The server stops when its standard input closes: on drop of a started server, and for
//!   the shared one when the test process exits, however it exits.
//!
//! What does not run here: no kubelet, scheduler or controllers (the kube_node suites add a real
//! node with [`crate::kube_node::KubeNode`]). So a new namespace gets its
//! `default` ServiceAccount from [`KubeApiServer::namespace`] (the controller-manager's job),
//! status is whatever a test writes to the status subresource, and pod logs come from the
//! server's FAKE kubelet (the Node [`FAKE_KUBELET_NODE`], logs written with
//! [`KubeApiServer::set_pod_log`]); the API server itself proxies them, as it would to a
//! real kubelet.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::paths::tools_bin;
use crate::process::ChildGuard;

/// The Node whose pods' logs the server's fake kubelet serves; give a Pod
/// `spec.nodeName` = this to make its log readable through the API.
/// What [`KubeApiServer::add_job_pod`]'s `state-push` container printed after a passed runner.
pub const STATE_PUSH_LOG: &str =
    "[packages:go-state] 2026-11-27T22:10:09Z ok   apply state to configmaps\n";

pub const FAKE_KUBELET_NODE: &str = "pkgrun-fake-kubelet";

/// The Job controller's message for `Complete` (see [`KubeApiServer::complete_job`]).
pub const JOB_COMPLETE_MESSAGE: &str = "Reached expected number of succeeded pods";
/// The Job controller's message for `Failed` with `BackoffLimitExceeded`.
pub const JOB_BACKOFF_MESSAGE: &str = "Job has reached the specified backoff limit";

/// The directory variable of the server binary (tests/kube-apiserver/serve_test.go).
const DIR_ENV: &str = "PKGRUN_KUBE_APISERVER_DIR";

/// A running kube-apiserver on loopback.
pub struct KubeApiServer {
    url: String,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    guard: Mutex<ChildGuard>,
    /// Closing it (drop) tells the server to shut down.
    stdin: Mutex<Option<ChildStdin>>,
}

impl KubeApiServer {
    /// Starts a server of its own (prefer [`KubeApiServer::shared`]).
    pub fn start() -> Result<KubeApiServer> {
        let binary = tools_bin("kube-apiserver-test");
        let dir = tempfile::Builder::new()
            .prefix("pkgrun-kube-apiserver-")
            .tempdir()?;
        let log = std::fs::File::create(dir.path().join("server.log"))?;
        let mut cmd = Command::new(&binary);
        cmd.args(["-test.run", "^TestServe$", "-test.timeout", "0"])
            .env(DIR_ENV, dir.path())
            // The shared server's TempDir is never dropped; the server cleans up instead.
            .env("PKGRUN_KUBE_APISERVER_REMOVE_DIR", "1")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut guard = ChildGuard::spawn("kube-apiserver", &mut cmd)
            .with_context(|| format!("start {}", binary.display()))?;
        let stdin = guard.take_stdin();
        let stdout = guard.take_stdout().context("the server's stdout")?;

        // The READY line, then keep draining so the server never blocks on a full pipe.
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(url.trim().to_string());
                }
            }
        });
        let server_log = dir.path().join("server.log");
        let url = match ready_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => url,
            Err(_) => bail!(
                "kube-apiserver did not report READY within 120s{}; its log:\n{}",
                if guard.is_running() {
                    ""
                } else {
                    " (it exited)"
                },
                tail(&server_log)
            ),
        };

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let kubeconfig = dir.path().join("admin.kubeconfig");
        let config = runtime.block_on(config_from(&kubeconfig))?;
        let client = {
            let _guard = runtime.enter();
            kube::Client::try_from(config)?
        };
        let server = KubeApiServer {
            url,
            dir,
            runtime,
            client,
            guard: Mutex::new(guard),
            stdin: Mutex::new(stdin),
        };
        server.wait_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    /// The server of this test binary, started on first use.
    pub fn shared() -> &'static KubeApiServer {
        static SHARED: OnceLock<KubeApiServer> = OnceLock::new();
        SHARED.get_or_init(|| {
            KubeApiServer::start().unwrap_or_else(|e| panic!("the test kube-apiserver: {e:#}"))
        })
    }

    fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let request = http::Request::get("/readyz").body(Vec::new())?;
            let last = match self.block_on(self.client.request_text(request)) {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                Ok(body) => body,
                Err(e) => e.to_string(),
            };
            if std::time::Instant::now() >= deadline {
                bail!(
                    "kube-apiserver /readyz not ok within {timeout:?} (last: {last}); its log:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The admin kubeconfig (`tls-server-name` set: the loopback certificate's name).
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    /// The admin client (runs on [`KubeApiServer::block_on`]'s runtime).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Runs `future` on the server's client runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A `kube::Config` for a kubeconfig file (for `pkgrun_kube::Kube::from_config`).
    pub fn config(&self, kubeconfig: &Path) -> Result<kube::Config> {
        self.block_on(config_from(kubeconfig))
    }

    /// pkgrun's own client (`pkgrun_kube::Kube`) with the admin identity.
    pub fn admin_kube(&self) -> Result<pkgrun_kube::Kube> {
        self.kube(&self.admin_kubeconfig())
    }

    /// pkgrun's own client with the identity of `kubeconfig`.
    pub fn kube(&self, kubeconfig: &Path) -> Result<pkgrun_kube::Kube> {
        Ok(pkgrun_kube::Kube::from_config(self.config(kubeconfig)?)?)
    }

    /// ConfigMap `namespace/name` as the admin reads it.
    pub fn configmap(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        Ok(self.block_on(Api::<ConfigMap>::namespaced(self.client(), namespace).get_opt(name))?)
    }

    /// Another tool changing ConfigMap `namespace/name` the way `kubectl edit` does: a
    /// merge-patch Update of `data` under field manager `manager`.
    pub fn edit_configmap(
        &self,
        namespace: &str,
        name: &str,
        manager: &str,
        data: &[(&str, &str)],
    ) -> Result<()> {
        let data: std::collections::BTreeMap<_, _> = data.iter().copied().collect();
        let params = PatchParams {
            field_manager: Some(manager.into()),
            ..Default::default()
        };
        self.block_on(
            Api::<ConfigMap>::namespaced(self.client(), namespace).patch(
                name,
                &params,
                &Patch::Merge(serde_json::json!({ "data": data })),
            ),
        )
        .with_context(|| format!("edit configmap {namespace}/{name} as {manager}"))?;
        Ok(())
    }

    /// Mints a token for ServiceAccount `namespace/name` and writes a kubeconfig with it at
    /// `path` (default namespace `namespace`).
    pub fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
        path: &Path,
    ) -> Result<()> {
        let token = self.service_account_token(namespace, name)?;
        self.write_kubeconfig(path, &token, namespace)
    }

    /// The last lines of the server's log, for failure messages.
    fn log_tail(&self) -> String {
        tail(&self.dir.path().join("server.log"))
    }

    /// Creates a namespace `<prefix>-<n>` unique in this process, with the `default`
    /// ServiceAccount the controller-manager would add (Pods cannot be created without it).
    pub fn namespace(&self, prefix: &str) -> Result<String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let namespace: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": { "name": name }
        }))?;
        let sa: ServiceAccount = serde_json::from_value(serde_json::json!({
            "metadata": { "name": "default" }
        }))?;
        self.block_on(async {
            Api::<Namespace>::all(self.client())
                .create(&PostParams::default(), &namespace)
                .await?;
            // With the test node's controller-manager running, its ServiceAccount controller
            // may have created it first.
            match Api::<ServiceAccount>::namespaced(self.client(), &name)
                .create(&PostParams::default(), &sa)
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            anyhow::Ok(())
        })
        .with_context(|| format!("create namespace {name}"))?;
        Ok(name)
    }

    /// A token for ServiceAccount `namespace/name`, minted with the TokenRequest API (one
    /// hour), as the kubelet projects it into a pod.
    fn service_account_token(&self, namespace: &str, name: &str) -> Result<String> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: Vec::new(),
                expiration_seconds: Some(3600),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer: TokenRequest = self
            .block_on(
                Api::<ServiceAccount>::namespaced(self.client(), namespace).create_subresource(
                    "token",
                    name,
                    &PostParams::default(),
                    &request,
                ),
            )
            .with_context(|| format!("mint a token for serviceaccount {namespace}/{name}"))?;
        answer
            .status
            .map(|s| s.token)
            .context("TokenRequest answered without a token")
    }

    /// Writes a kubeconfig at `path` for this server with bearer `token` and default
    /// namespace `namespace`: what a pod with that service account would use.
    fn write_kubeconfig(&self, path: &Path, token: &str, namespace: &str) -> Result<()> {
        let admin = std::fs::read_to_string(self.admin_kubeconfig())?;
        let mut config: serde_yaml::Value = serde_yaml::from_str(&admin)?;
        config["users"] = serde_yaml::from_str(&format!(
            "- name: service-account\n  user:\n    token: {token}\n"
        ))?;
        config["contexts"] = serde_yaml::from_str(&format!(
            "- name: service-account\n  context:\n    cluster: pkgrun-test\n    user: service-account\n    namespace: {namespace}\n"
        ))?;
        config["current-context"] = "service-account".into();
        std::fs::write(path, serde_yaml::to_string(&config)?)?;
        Ok(())
    }

    /// Sets what the fake kubelet answers for the log of `container` in pod
    /// `namespace/pod` (the pod must be on [`FAKE_KUBELET_NODE`]).
    pub fn set_pod_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        log: &str,
    ) -> Result<()> {
        let dir = self.dir.path().join("pod-logs").join(namespace).join(pod);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{container}.log")), log)?;
        Ok(())
    }

    // ---- What the controllers and the kubelet would do, done by the test ----------------

    /// The uid of Job `namespace/name`, if it exists.
    pub fn job_uid(&self, namespace: &str, name: &str) -> Result<Option<String>> {
        let api: Api<Job> = Api::namespaced(self.client(), namespace);
        Ok(self
            .block_on(api.get_opt(name))?
            .and_then(|j| j.metadata.uid))
    }

    /// Waits until Job `namespace/name` exists with a uid other than `replaced` (a Job
    /// `helm test` creates after deleting the previous run's, before-hook-creation).
    pub fn wait_for_job(
        &self,
        namespace: &str,
        name: &str,
        replaced: Option<&str>,
        timeout: Duration,
    ) -> Result<Job> {
        let api: Api<Job> = Api::namespaced(self.client(), namespace);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(job) = self.block_on(api.get_opt(name))? {
                if job.metadata.uid.as_deref() != replaced {
                    return Ok(job);
                }
            }
            if std::time::Instant::now() >= deadline {
                bail!("job {namespace}/{name} did not appear within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends Job `namespace/name` as the Job controller records a success: `SuccessCriteriaMet`
    /// then `Complete`, reason `CompletionsReached`.
    pub fn complete_job(&self, namespace: &str, name: &str) -> Result<()> {
        self.end_job(namespace, name, true)
    }

    /// Ends Job `namespace/name` as the Job controller records a failed pod with
    /// `backoffLimit: 0`: `FailureTarget` then `Failed`, reason `BackoffLimitExceeded`.
    pub fn fail_job(&self, namespace: &str, name: &str) -> Result<()> {
        self.end_job(namespace, name, false)
    }

    fn end_job(&self, namespace: &str, name: &str, succeeded: bool) -> Result<()> {
        let (reason, message) = if succeeded {
            ("CompletionsReached", JOB_COMPLETE_MESSAGE)
        } else {
            ("BackoffLimitExceeded", JOB_BACKOFF_MESSAGE)
        };
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let condition = |kind: &str| {
            serde_json::json!({
                "type": kind, "status": "True", "lastTransitionTime": now,
                "reason": reason, "message": message,
            })
        };
        let status = if succeeded {
            serde_json::json!({
                "startTime": now, "completionTime": now, "succeeded": 1,
                "conditions": [condition("SuccessCriteriaMet"), condition("Complete")],
            })
        } else {
            serde_json::json!({
                "startTime": now, "failed": 1,
                "conditions": [condition("FailureTarget"), condition("Failed")],
            })
        };
        self.block_on(
            Api::<Job>::namespaced(self.client(), namespace).patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "status": status })),
            ),
        )
        .with_context(|| format!("set the status of job {namespace}/{name}"))?;
        Ok(())
    }

    /// The Job's pod, as the Job controller creates it (label `job-name`) from the chart's
    /// template and the kubelet reports it: on [`FAKE_KUBELET_NODE`], its init container
    /// `runner` terminated with `exit_code` having printed `log`; after a passed runner
    /// the `state-push` container terminated 0 having printed [`STATE_PUSH_LOG`], after a
    /// failed one it never started (waiting, `PodInitializing`, no log).
    pub fn add_job_pod(
        &self,
        namespace: &str,
        job: &str,
        pod: &str,
        exit_code: i32,
        log: &str,
    ) -> Result<()> {
        let api: Api<Pod> = Api::namespaced(self.client(), namespace);
        let image = "registry.local/runner:dev";
        let object: Pod = serde_json::from_value(serde_json::json!({
            "metadata": { "name": pod, "labels": { "job-name": job, "batch.kubernetes.io/job-name": job } },
            "spec": {
                "nodeName": FAKE_KUBELET_NODE,
                "restartPolicy": "Never",
                "initContainers": [{ "name": "runner", "image": image }],
                "containers": [{ "name": "state-push", "image": image }]
            }
        }))?;
        self.block_on(api.create(&PostParams::default(), &object))
            .with_context(|| format!("create pod {namespace}/{pod}"))?;
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let terminated = |name: &str, code: i32| {
            serde_json::json!({
                "name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": code, "startedAt": now, "finishedAt": now } }
            })
        };
        let state_push = if exit_code == 0 {
            terminated("state-push", 0)
        } else {
            serde_json::json!({
                "name": "state-push", "image": image, "imageID": "", "ready": false, "restartCount": 0,
                "state": { "waiting": { "reason": "PodInitializing" } }
            })
        };
        let phase = if exit_code == 0 {
            "Succeeded"
        } else {
            "Failed"
        };
        self.block_on(api.patch_status(
            pod,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": {
                "phase": phase,
                "initContainerStatuses": [terminated("runner", exit_code)],
                "containerStatuses": [state_push]
            }})),
        ))
        .with_context(|| format!("set the status of pod {namespace}/{pod}"))?;
        self.set_pod_log(namespace, pod, "runner", log)?;
        if exit_code == 0 {
            self.set_pod_log(namespace, pod, "state-push", STATE_PUSH_LOG)?;
        }
        Ok(())
    }

    /// Sets Deployment `namespace/name`'s status as the Deployment controller would:
    /// condition `Available` True (all replicas ready) or False (`MinimumReplicasUnavailable`).
    pub fn set_deployment_available(
        &self,
        namespace: &str,
        name: &str,
        available: bool,
    ) -> Result<()> {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let ready = if available { 1 } else { 0 };
        let (status, reason) = if available {
            ("True", "MinimumReplicasAvailable")
        } else {
            ("False", "MinimumReplicasUnavailable")
        };
        self.block_on(Api::<Deployment>::namespaced(self.client(), namespace).patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": {
                "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                "readyReplicas": ready, "availableReplicas": ready,
                "conditions": [{
                    "type": "Available", "status": status, "reason": reason,
                    "message": "set by the test", "lastUpdateTime": now, "lastTransitionTime": now,
                }]
            }})),
        ))
        .with_context(|| format!("set the status of deployment {namespace}/{name}"))?;
        Ok(())
    }

    /// The server's directory (kubeconfig, log, pod logs); the server removes it on exit.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Closes the server's stdin — what happens to the shared server when its test process
    /// exits — and waits up to `timeout` for it to exit on its own (no signal is sent).
    pub fn close_stdin_and_wait(&self, timeout: Duration) -> Result<()> {
        drop(self.stdin.lock().expect("stdin lock").take());
        let mut guard = self.guard.lock().expect("guard lock");
        let deadline = std::time::Instant::now() + timeout;
        while guard.is_running() {
            if std::time::Instant::now() >= deadline {
                bail!("kube-apiserver still runs {timeout:?} after its stdin closed");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops the server (also on drop): closes its stdin, and stops its process group if it
    /// has not exited within 5 s.
    pub fn stop(&self) {
        let _ = self.close_stdin_and_wait(Duration::from_secs(5));
        self.guard.lock().expect("guard lock").stop();
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn config_from(kubeconfig: &Path) -> Result<kube::Config> {
    let file = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("read {}", kubeconfig.display()))?;
    Ok(kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?)
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
