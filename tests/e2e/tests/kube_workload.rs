//! What `pkgrun layer` asks the API (pkgrun_kube::workload), as a library against objects in
//! the real kube-apiserver whose status the test sets (no controllers run here): waiting for a
//! Deployment that does not exist yet, stopping at once on 403, Jobs by label oldest first,
//! each Job outcome from its conditions, and pod logs by label through the API server (served
//! by its fake kubelet). The whole command: tests/kube_layer.rs.

use std::time::Duration;

use anyhow::{ensure, Result};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use pkgrun_core::ExitStatus;
use pkgrun_e2e::kube_apiserver::JOB_BACKOFF_MESSAGE;
use pkgrun_e2e::KubeApiServer;
use pkgrun_kube::workload::{JobOutcome, Wait};
use pkgrun_kube::KubeError;

fn create_job(server: &KubeApiServer, ns: &str, name: &str, instance: &str) -> Result<()> {
    let job: Job = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "app.kubernetes.io/instance": instance } },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{ "name": "runner", "image": "registry.local/runner:dev" }]
            }}
        }
    }))?;
    server.block_on(
        Api::<Job>::namespaced(server.client(), ns).create(&PostParams::default(), &job),
    )?;
    Ok(())
}

#[test]
fn a_missing_deployment_is_waited_for_and_a_403_stops_the_wait_at_once() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("workload-wait")?;
    let wait = Wait {
        timeout: Duration::from_millis(600),
        interval: Duration::from_millis(100),
    };
    let mut polls = 0;
    let err = server
        .admin_kube()?
        .wait_deployment_available(&ns, "nope", wait, &mut |_| polls += 1)
        .expect_err("never appears");
    ensure!(matches!(err, KubeError::Timeout { .. }), "{err:?}");
    ensure!(err.to_string().contains("does not exist yet"), "{err}");
    ensure!(err.read_exit_status() == ExitStatus::Unreachable);
    ensure!(polls >= 2, "it kept polling: {polls}");

    // A service account with no rights: the API's 403 ends the wait on the first poll.
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    server.service_account_kubeconfig(&ns, "default", &kubeconfig)?;
    let weak = server.kube(&kubeconfig)?;
    let long = Wait {
        timeout: Duration::from_secs(30),
        interval: Duration::from_millis(100),
    };
    let started = std::time::Instant::now();
    let err = weak
        .wait_deployment_available(&ns, "go-registry", long, &mut |_| {})
        .expect_err("forbidden");
    ensure!(
        matches!(err, KubeError::Forbidden { verb: "get", .. }),
        "{err:?}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "stopped at once"
    );
    Ok(())
}

#[test]
fn job_outcomes_and_pod_logs_come_from_the_api() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("workload-jobs")?;
    let kube = server.admin_kube()?;
    create_job(server, &ns, "package-go-runner", "package-go")?;
    create_job(server, &ns, "package-ts-runner", "package-ts")?;
    create_job(server, &ns, "package-python-runner", "package-python")?;
    // Creation timestamps have whole seconds: a later Job whose name sorts first.
    std::thread::sleep(Duration::from_millis(1100));
    create_job(server, &ns, "a-package-go-rerun", "package-go")?;
    server.fail_job(&ns, "package-go-runner")?;
    server.complete_job(&ns, "package-ts-runner")?;
    server.add_job_pod(
        &ns,
        "package-go-runner",
        "package-go-runner-abcde",
        4,
        "line one\nline two\n",
    )?;
    server.add_job_pod(&ns, "other", "unrelated", 0, "not mine\n")?;

    ensure!(
        kube.jobs(&ns, "app.kubernetes.io/instance=package-go")?
            == ["package-go-runner", "a-package-go-rerun"],
        "oldest first"
    );
    ensure!(
        kube.job_outcome(&ns, "package-go-runner")?
            == JobOutcome::Failed {
                reason: "BackoffLimitExceeded".into(),
                message: JOB_BACKOFF_MESSAGE.into()
            }
    );
    ensure!(kube.job_outcome(&ns, "package-ts-runner")? == JobOutcome::Succeeded);
    ensure!(kube.job_outcome(&ns, "package-python-runner")? == JobOutcome::Running);

    let logs = kube.pod_logs(&ns, "job-name=package-go-runner")?;
    ensure!(logs.len() == 1, "{logs:?}");
    ensure!(logs[0].pod == "package-go-runner-abcde");
    ensure!(logs[0].container == "runner");
    ensure!(logs[0].exit_code == Some(4));
    ensure!(logs[0].log == "line one\nline two\n", "{:?}", logs[0].log);
    // A passed runner: the init container's log, then the state-push container's (which
    // had not started in the failed pod above, so it has no log there).
    let logs = kube.pod_logs(&ns, "job-name=other")?;
    let seen: Vec<_> = logs
        .iter()
        .map(|l| (l.container.as_str(), l.exit_code, l.log.as_str()))
        .collect();
    ensure!(
        seen == [
            ("runner", Some(0), "not mine\n"),
            (
                "state-push",
                Some(0),
                pkgrun_e2e::kube_apiserver::STATE_PUSH_LOG
            )
        ],
        "{seen:?}"
    );
    Ok(())
}
