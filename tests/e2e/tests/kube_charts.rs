//! The charts installed into the real kube-apiserver (pkgrun_e2e::KubeApiServer) with the
//! pinned helm: `helm install` and `helm upgrade` of package-go, package-python and
//! package-ts pass the API server's own validation and admission, create the ServiceAccount,
//! Role and RoleBinding, and `helm test` creates the runner Job with the spec pkgrun needs.
//! No kubelet runs the Job: the test records its end through the status subresource, as the
//! Job controller would, and helm's verdict follows it.

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::Api;
use pkgrun_e2e::charts::{ChartWorkspace, CHARTS};
use pkgrun_e2e::process::{output, ChildGuard, Run};
use pkgrun_e2e::KubeApiServer;
use serde_json::Value;

const STATE_MOUNT: &str = "/workspace/tmp/tilt-packages";

fn helm(server: &KubeApiServer) -> Command {
    ChartWorkspace::shared().helm_for(&server.admin_kubeconfig())
}

fn run(cmd: &mut Command) -> Result<(bool, String)> {
    let run = Run::from(output(cmd)?);
    Ok((run.code == 0, format!("{}{}", run.stdout, run.stderr)))
}

/// `helm test <release>` while the test plays the Job controller; the helm process is
/// stopped with the guard if the test fails before it ends.
fn helm_test_ending_as(
    server: &KubeApiServer,
    ns: &str,
    release: &str,
    succeeded: bool,
) -> Result<(bool, String, Value)> {
    let job_name = format!("{release}-runner");
    let previous = server.job_uid(ns, &job_name)?;
    let log = tempfile::NamedTempFile::new()?;
    let mut helm_test = ChildGuard::spawn_logged(
        "helm test",
        helm(server).args(["test", release, "-n", ns, "--timeout", "120s"]),
        log.path(),
    )?;
    let job = server.wait_for_job(ns, &job_name, previous.as_deref(), Duration::from_secs(60))?;
    if succeeded {
        server.complete_job(ns, &job_name)?;
    } else {
        server.fail_job(ns, &job_name)?;
    }
    let status = helm_test.wait()?;
    Ok((
        status.success(),
        helm_test.log(),
        serde_json::to_value(job)?,
    ))
}

fn install_and_upgrade(chart: &str, lang: &str) -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = ChartWorkspace::shared();
    let ns = server.namespace(&format!("chart-{lang}"))?;
    let dir = ws.chart_dir(chart);

    let (ok, out) = run(helm(server).args(["install", chart]).arg(&dir).args([
        "-n",
        &ns,
        "--set",
        "image.tag=dev",
        "--wait",
        "--timeout",
        "60s",
    ]))?;
    ensure!(ok, "helm install {chart}:\n{out}");

    // What the chart created, read back from the API server.
    let sa_name = format!("{chart}-runner");
    let state_cm = format!("{lang}-packages-state");
    let sa =
        server.block_on(Api::<ServiceAccount>::namespaced(server.client(), &ns).get(&sa_name))?;
    ensure!(
        sa.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/instance"))
            == Some(&chart.to_string())
    );
    let role_name = format!("{chart}-state-writer");
    let role = server.block_on(Api::<Role>::namespaced(server.client(), &ns).get(&role_name))?;
    let rules = role.rules.unwrap_or_default();
    ensure!(rules.len() == 1, "one rule: {rules:?}");
    ensure!(rules[0].resources.as_deref() == Some(&["configmaps".to_string()][..]));
    ensure!(rules[0].resource_names.as_deref() == Some(&[state_cm.clone()][..]));
    let mut verbs = rules[0].verbs.clone();
    verbs.sort();
    ensure!(verbs == ["create", "get", "patch"], "{verbs:?}");
    let binding =
        server.block_on(Api::<RoleBinding>::namespaced(server.client(), &ns).get(&role_name))?;
    let subjects = binding.subjects.unwrap_or_default();
    ensure!(
        subjects.len() == 1
            && subjects[0].kind == "ServiceAccount"
            && subjects[0].name == sa_name
            && subjects[0].namespace.as_deref() == Some(ns.as_str()),
        "{subjects:?}"
    );
    ensure!(binding.role_ref.kind == "Role" && binding.role_ref.name == role_name);

    // An upgrade with changed values is accepted too and takes effect in the next Job.
    let (ok, out) = run(helm(server).args(["upgrade", chart]).arg(&dir).args([
        "-n",
        &ns,
        "--set",
        "image.tag=1.2.3",
        "--set",
        "job.activeDeadlineSeconds=600",
        "--set-string",
        "job.env.VERBOSE=1",
        "--wait",
        "--timeout",
        "60s",
    ]))?;
    ensure!(ok, "helm upgrade {chart}:\n{out}");
    ensure!(out.contains("REVISION: 2"), "{out}");

    // helm test creates the runner Job; its verdict follows the Job's conditions.
    let (ok, out, job) = helm_test_ending_as(server, &ns, chart, true)?;
    ensure!(ok && out.contains("Phase:          Succeeded"), "{out}");
    check_job(&job, chart, lang, &ns)?;
    admitted_pod_mounts_a_token_only_for_state_push(server, &job, &ns)?;
    let (ok, out, _) = helm_test_ending_as(server, &ns, chart, false)?;
    ensure!(!ok, "helm test must fail with the Job: {out}");
    ensure!(
        out.contains(&format!("job {chart}-runner failed: BackoffLimitExceeded")),
        "{out}"
    );

    let (ok, out) = run(helm(server).args(["uninstall", chart, "-n", &ns]))?;
    ensure!(ok, "helm uninstall:\n{out}");
    ensure!(
        server
            .block_on(Api::<Role>::namespaced(server.client(), &ns).get_opt(&role_name))?
            .is_none(),
        "the Role goes with the release"
    );
    Ok(())
}

/// The Job as the API server stored it (defaults applied), against what the runner needs.
fn check_job(job: &Value, chart: &str, lang: &str, ns: &str) -> Result<()> {
    let annotations = &job["metadata"]["annotations"];
    ensure!(annotations["helm.sh/hook"] == "test", "{annotations}");
    ensure!(annotations["helm.sh/hook-delete-policy"] == "before-hook-creation");
    ensure!(job["metadata"]["namespace"] == ns);
    ensure!(job["metadata"]["labels"]["app.kubernetes.io/instance"] == chart);
    let spec = &job["spec"];
    ensure!(spec["backoffLimit"] == 0, "{spec}");
    ensure!(
        spec["activeDeadlineSeconds"] == 600,
        "the upgraded value: {spec}"
    );
    let pod = &spec["template"]["spec"];
    ensure!(pod["serviceAccountName"] == format!("{chart}-runner"));
    ensure!(pod["restartPolicy"] == "Never");
    ensure!(pod["automountServiceAccountToken"] == false, "{pod}");
    let only = |list: &str| -> Result<&Value> {
        let items = pod[list].as_array().with_context(|| list.to_string())?;
        ensure!(items.len() == 1, "{list}: {items:?}");
        Ok(&items[0])
    };
    let c = only("initContainers")?;
    ensure!(c["name"] == "runner");
    ensure!(
        c["image"] == format!("registry.local/ameide/package-publisher-{lang}:1.2.3"),
        "{}",
        c["image"]
    );
    ensure!(c["command"] == serde_json::json!(["pkgrun"]));
    ensure!(
        c["args"] == serde_json::json!(["run", lang]),
        "{}",
        c["args"]
    );
    ensure!(
        c["envFrom"]
            == serde_json::json!([{ "secretRef": { "name": format!("packages-{lang}-env") } }]),
        "{}",
        c["envFrom"]
    );
    let env_of = |c: &Value, name: &str| {
        c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == name)
            .cloned()
    };
    ensure!(env_of(c, "VERBOSE").map(|e| e["value"].clone()) == Some("1".into()));
    ensure!(
        env_of(c, "PKGRUN_CONFIGMAP").is_none(),
        "the runner writes no ConfigMap"
    );
    let mounts = c["volumeMounts"].as_array().context("mounts")?;
    let state_mount = mounts
        .iter()
        .find(|m| m["mountPath"] == STATE_MOUNT)
        .context("the state directory mount")?;
    let volumes = pod["volumes"].as_array().context("volumes")?;
    let state_volume = volumes
        .iter()
        .find(|v| v["name"] == state_mount["name"])
        .context("the state volume")?;
    ensure!(state_volume["emptyDir"].is_object(), "{state_volume}");
    ensure!(c["securityContext"]["readOnlyRootFilesystem"] == true);

    let push = only("containers")?;
    ensure!(push["name"] == "state-push");
    ensure!(push["args"] == serde_json::json!(["state", "push", lang]));
    ensure!(
        env_of(push, "PKGRUN_CONFIGMAP").map(|e| e["value"].clone())
            == Some(format!("{lang}-packages-state").into())
    );
    ensure!(
        env_of(push, "PKGRUN_NAMESPACE")
            .is_some_and(|e| e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"),
        "{push}"
    );
    Ok(())
}

/// What the API server's ServiceAccount admission makes of the runner Job's pod template
/// (the pod the Job controller would create): the runner gets no token volume at all, the
/// state-push container only its projected, short-lived one. With the chart's old
/// `automountServiceAccountToken: true`, admission would have mounted a token into every
/// container, init containers included.
fn admitted_pod_mounts_a_token_only_for_state_push(
    server: &KubeApiServer,
    job: &Value,
    ns: &str,
) -> Result<()> {
    let mut pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "admission-check" },
        "spec": job["spec"]["template"]["spec"].clone(),
    }))?;
    pod.metadata.namespace = Some(ns.to_string());
    let api = Api::<k8s_openapi::api::core::v1::Pod>::namespaced(server.client(), ns);
    let admitted = server.block_on(api.create(&Default::default(), &pod))?;
    let admitted = serde_json::to_value(&admitted)?;
    server.block_on(api.delete("admission-check", &Default::default()))?;
    let spec = &admitted["spec"];
    let token_volumes: Vec<&str> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| {
            v["projected"]["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s.get("serviceAccountToken").is_some())
        })
        .filter_map(|v| v["name"].as_str())
        .collect();
    ensure!(token_volumes.len() == 1, "one token volume: {spec}");
    let mounts_token = |c: &Value| {
        c["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| token_volumes.contains(&m["name"].as_str().unwrap_or_default()))
    };
    let runner = &spec["initContainers"][0];
    let push = &spec["containers"][0];
    ensure!(
        runner["name"] == "runner" && !mounts_token(runner),
        "runner holds a token: {runner}"
    );
    ensure!(
        push["name"] == "state-push" && mounts_token(push),
        "state-push has no token: {push}"
    );
    Ok(())
}

#[test]
fn package_go_installs_upgrades_and_its_test_job_follows_the_job_status() -> Result<()> {
    install_and_upgrade("package-go", "go")
}

#[test]
fn package_python_installs_upgrades_and_its_test_job_follows_the_job_status() -> Result<()> {
    install_and_upgrade("package-python", "python")
}

#[test]
fn package_ts_installs_upgrades_and_its_test_job_follows_the_job_status() -> Result<()> {
    install_and_upgrade("package-ts", "ts")
}

#[test]
fn every_chart_is_covered() {
    let covered = ["package-go", "package-python", "package-ts"];
    assert_eq!(
        CHARTS.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        covered,
        "a new chart needs its install test here"
    );
}
