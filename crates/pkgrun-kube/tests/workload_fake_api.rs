//! The API side of `pkgrun layer` (Deployment wait, Job outcome, pod logs) against
//! the FAKE API server in `fake_api/` (loopback; stands in for issue 8's real one).

mod fake_api;

use std::time::Duration;

use fake_api::FakeApi;
use pkgrun_core::ExitStatus;
use pkgrun_kube::workload::{JobOutcome, Wait};
use pkgrun_kube::{Kube, KubeError};

fn kube(fake: &FakeApi) -> Kube {
    let mut config = kube::Config::new(fake.url().parse().unwrap());
    config.default_namespace = "ameide".into();
    Kube::from_config(config).unwrap()
}

const FAST: Wait = Wait {
    timeout: Duration::from_secs(30),
    interval: Duration::from_millis(10),
};

#[test]
fn fake_api_deployment_becomes_available_after_polls() {
    let fake = FakeApi::start();
    fake.add_deployment("registries", "go-registry", 3);
    let mut lines = Vec::new();
    kube(&fake)
        .wait_deployment_available("registries", "go-registry", FAST, &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
    assert_eq!(fake.deployment_reads("registries", "go-registry"), 4);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains("registries/go-registry") && lines[0].contains("Available=False"),
        "{lines:?}"
    );
}

#[test]
fn fake_api_deployment_wait_times_out_clearly() {
    let fake = FakeApi::start();
    fake.add_deployment("registries", "go-registry", u32::MAX);
    let wait = Wait {
        timeout: Duration::from_millis(300),
        interval: Duration::from_millis(20),
    };
    let err = kube(&fake)
        .wait_deployment_available("registries", "go-registry", wait, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, KubeError::Timeout { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("deployments registries/go-registry")
            && text.contains("MinimumReplicasUnavailable"),
        "{text}"
    );
    assert_eq!(err.read_exit_status(), ExitStatus::Unreachable);
    assert!(fake.deployment_reads("registries", "go-registry") >= 2);
}

#[test]
fn fake_api_missing_deployment_is_waited_for_and_forbidden_stops_at_once() {
    let fake = FakeApi::start();
    let wait = Wait {
        timeout: Duration::from_millis(100),
        interval: Duration::from_millis(20),
    };
    let err = kube(&fake)
        .wait_deployment_available("registries", "nope", wait, &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("does not exist yet"), "{err}");
    fake.forbid_namespace("locked");
    let err = kube(&fake)
        .wait_deployment_available("locked", "x", FAST, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, KubeError::Forbidden { .. }), "{err:?}");
}

#[test]
fn fake_api_job_outcome_and_pod_logs_by_label() {
    let fake = FakeApi::start();
    fake.add_job(
        "ameide",
        "package-go-test",
        &[("app.kubernetes.io/instance", "package-go")],
        &[(
            "Failed",
            "True",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )],
    );
    fake.add_job(
        "ameide",
        "package-ts-test",
        &[("app.kubernetes.io/instance", "package-ts")],
        &[("Complete", "True", "", "")],
    );
    fake.add_pod(
        "ameide",
        "package-go-test-abcde",
        &[("job-name", "package-go-test")],
        Some(4),
        "line one\nline two\n",
    );
    fake.add_pod(
        "ameide",
        "unrelated",
        &[("job-name", "other")],
        Some(0),
        "not mine\n",
    );
    let kube = kube(&fake);
    assert_eq!(
        kube.jobs("ameide", "app.kubernetes.io/instance=package-go")
            .unwrap(),
        ["package-go-test"]
    );
    assert_eq!(
        kube.job_outcome("ameide", "package-go-test").unwrap(),
        JobOutcome::Failed {
            reason: "BackoffLimitExceeded".into(),
            message: "Job has reached the specified backoff limit".into()
        }
    );
    assert_eq!(
        kube.job_outcome("ameide", "package-ts-test").unwrap(),
        JobOutcome::Succeeded
    );
    let logs = kube.pod_logs("ameide", "job-name=package-go-test").unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].pod, "package-go-test-abcde");
    assert_eq!(logs[0].exit_code, Some(4));
    assert_eq!(logs[0].log, "line one\nline two\n");
}
