//! The Helm charts under `deploy/` (docs/charts.md): the `package-runner` library chart and
//! the `package-go`, `package-python` and `package-ts` application charts built on it, and
//! the helmfile layers 26/27/28 that install them.
//!
//! Everything runs the real, pinned tools (`scripts/tools/install-helm.sh`,
//! `scripts/tools/install-chart-tools.sh`) offline: `helm dependency build` (file://
//! dependency on the library chart), `helm lint --strict` and `helm template` with each
//! chart's `ci/*-values.yaml`, and `kubernetes-validate` against the Kubernetes schemas it
//! ships. The rendered objects are then parsed and checked one template at a time.
//!
//! The charts are copied to a scratch directory before `helm dependency build`, so the suite
//! never writes generated files (`charts/*.tgz`, `Chart.lock`) into the repository.
//!
//! No cluster is involved: what a cluster would do with the objects (the Job running, the
//! ConfigMap written) is the Kubernetes API suites' business.

use anyhow::{bail, ensure, Context, Result};
use pkgrun_e2e::charts::{ChartWorkspace, CHARTS};
use pkgrun_e2e::process::{ok, output};
use pkgrun_e2e::{repo_root, tools_bin};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The helmfile layers and the chart/language of their single release.
const LAYERS: &[(&str, &str, &str)] = &[
    ("26-package-npm.yaml", "package-ts", "ts"),
    ("27-package-go.yaml", "package-go", "go"),
    ("28-package-py.yaml", "package-python", "python"),
];

/// The Kubernetes versions the manifests are validated against (kubernetes-validate 1.37.0
/// ships 1.25–1.37): the oldest minor still in upstream support at the time of writing,
/// and the newest.
const KUBERNETES_VERSIONS: &[&str] = &["1.33.0", "1.37.0"];

const STATE_MOUNT: &str = "/workspace/tmp/tilt-packages";
const NAMESPACE: &str = "packages";

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

type Workspace = ChartWorkspace;

fn workspace() -> &'static Workspace {
    ChartWorkspace::shared()
}

/// `helm template` runs and their parsed output.
trait Templates {
    fn template_cmd(&self, chart: &str, ci: Option<&str>, extra: &[&str]) -> Command;
    fn render(&self, chart: &str, ci: &str, extra: &[&str]) -> Result<Rendered>;
}

impl Templates for Workspace {
    /// `helm template <chart> <chart-dir> -n packages -f ci/<ci> <extra…>` (the release is
    /// named after the chart, as in the helmfiles).
    fn template_cmd(&self, chart: &str, ci: Option<&str>, extra: &[&str]) -> Command {
        let dir = self.chart_dir(chart);
        let mut cmd = self.helm();
        cmd.args(["template", chart])
            .arg(&dir)
            .args(["--namespace", NAMESPACE]);
        if let Some(ci) = ci {
            cmd.arg("--values").arg(dir.join("ci").join(ci));
        }
        cmd.args(extra);
        cmd
    }

    /// Renders and parses every object.
    fn render(&self, chart: &str, ci: &str, extra: &[&str]) -> Result<Rendered> {
        let yaml = ok(&mut self.template_cmd(chart, Some(ci), extra))?;
        Rendered::parse(&yaml)
    }
}

/// The stderr of a command that must fail.
fn fails(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    ensure!(
        !out.status.success(),
        "{cmd:?} succeeded but should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The `ci/*-values.yaml` files of a chart, sorted.
fn ci_values(ws: &Workspace, chart: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(ws.chart_dir(chart).join("ci"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-values.yaml"))
        .collect();
    names.sort();
    ensure!(!names.is_empty(), "{chart} has no ci/*-values.yaml");
    Ok(names)
}

/// Every YAML document of a stream, as JSON values (empty documents skipped).
fn yaml_documents(yaml: &str) -> Result<Vec<Value>> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = Value::deserialize(doc).context("parse YAML")?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

fn yaml_file(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

/// The objects `helm template` printed.
struct Rendered {
    objects: Vec<Value>,
}

impl Rendered {
    fn parse(yaml: &str) -> Result<Self> {
        Ok(Self {
            objects: yaml_documents(yaml)?,
        })
    }

    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The single object of `kind`.
    fn one(&self, kind: &str) -> Result<&Value> {
        match self.of_kind(kind).as_slice() {
            [one] => Ok(one),
            other => bail!("expected exactly one {kind}, rendered {}", other.len()),
        }
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The only container of a Job's pod in `list` (`initContainers` or `containers`).
fn only_container<'a>(job: &'a Value, list: &str) -> Result<&'a Value> {
    let containers = job
        .pointer(&format!("/spec/template/spec/{list}"))
        .and_then(Value::as_array)
        .with_context(|| format!("Job has no {list}"))?;
    ensure!(
        containers.len() == 1,
        "expected one of {list}, got {}",
        containers.len()
    );
    Ok(&containers[0])
}

/// The runner of a Job: its init container (it must pass before anything else runs).
fn container(job: &Value) -> Result<&Value> {
    let runner = only_container(job, "initContainers")?;
    ensure!(
        runner["name"] == "runner",
        "init container {}",
        runner["name"]
    );
    Ok(runner)
}

/// The state-push container of a Job: its only regular container.
fn state_push(job: &Value) -> Result<&Value> {
    let push = only_container(job, "containers")?;
    ensure!(push["name"] == "state-push", "container {}", push["name"]);
    Ok(push)
}

/// The state-push container: `pkgrun state push <lang>` with the ConfigMap, the namespace
/// from the downward API, no registry credentials, the state directory read-only, and the
/// pod's only service-account token: projected, short-lived, where the automounted one
/// would be. The runner mounts no token at all.
fn check_state_push(job: &Value, lang: &str, ctx: &str) -> Result<()> {
    let push = state_push(job)?;
    ensure!(
        push["command"] == serde_json::json!(["pkgrun"])
            && push["args"] == serde_json::json!(["state", "push", lang]),
        "{ctx}: state-push runs {} {}",
        push["command"],
        push["args"]
    );
    ensure!(
        push.get("envFrom").is_none(),
        "{ctx}: state-push has envFrom"
    );
    ensure!(
        env_entry(push, "PKGRUN_CONFIGMAP").map(|e| e["value"].clone())
            == Some(Value::from(format!("{lang}-packages-state"))),
        "{ctx}: state-push PKGRUN_CONFIGMAP"
    );
    let ns = env_entry(push, "PKGRUN_NAMESPACE").context("no PKGRUN_NAMESPACE")?;
    ensure!(
        str_at(ns, "/valueFrom/fieldRef/fieldPath") == "metadata.namespace",
        "{ctx}: PKGRUN_NAMESPACE must come from the downward API: {ns}"
    );
    let mounts = push["volumeMounts"].as_array().context("no volumeMounts")?;
    let at = |path: &str| mounts.iter().find(|m| m["mountPath"] == path);
    ensure!(
        at(STATE_MOUNT).is_some_and(|m| m["readOnly"] == true),
        "{ctx}: state-push must mount the state directory read-only"
    );
    let token_mount = at(TOKEN_DIR).with_context(|| format!("{ctx}: no token at {TOKEN_DIR}"))?;
    let volumes = job
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array)
        .context("no volumes")?;
    let volume = volumes
        .iter()
        .find(|v| v["name"] == token_mount["name"])
        .context("token volume")?;
    ensure!(
        volume.pointer("/projected/sources/0/serviceAccountToken/expirationSeconds")
            == Some(&Value::from(600)),
        "{ctx}: the token must be projected and short-lived: {volume}"
    );
    let runner = container(job)?;
    let runner_mounts = runner["volumeMounts"].as_array().context("runner mounts")?;
    ensure!(
        runner_mounts
            .iter()
            .all(|m| m["name"] != token_mount["name"] && m["mountPath"] != TOKEN_DIR),
        "{ctx}: the runner mounts a token"
    );
    Ok(())
}

/// Where a pod's service-account token is read from.
const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The container's `env` entry called `name`.
fn env_entry<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

// ---------------------------------------------------------------------------------------
// Lint, template, schema validation of the rendered manifests
// ---------------------------------------------------------------------------------------

#[test]
fn helm_lint_strict_passes_for_every_chart_and_ci_values() -> Result<()> {
    let ws = workspace();
    // The library chart lints on its own (it renders nothing).
    ok(ws
        .helm()
        .args(["lint", "--strict"])
        .arg(ws.deploy.join("charts/package-runner")))?;
    for (chart, _) in CHARTS {
        for ci in ci_values(ws, chart)? {
            let dir = ws.chart_dir(chart);
            let out = ok(ws
                .helm()
                .args(["lint", "--strict", "--namespace", NAMESPACE])
                .arg("--values")
                .arg(dir.join("ci").join(&ci))
                .arg(&dir))?;
            ensure!(
                out.contains("0 chart(s) failed"),
                "{chart} with {ci}: {out}"
            );
        }
    }
    Ok(())
}

#[test]
fn rendered_manifests_are_valid_kubernetes_objects() -> Result<()> {
    let ws = workspace();
    let scratch = tempfile::tempdir()?;
    let validate = |version: &str, files: &[PathBuf]| {
        output(
            Command::new(tools_bin("kubernetes-validate"))
                .args(["--strict", "--kubernetes-version", version])
                .args(files),
        )
    };
    let mut files = Vec::new();
    for (chart, _) in CHARTS {
        for ci in ci_values(ws, chart)? {
            let yaml = ok(&mut ws.template_cmd(chart, Some(&ci), &[]))?;
            let file = scratch.path().join(format!("{chart}-{ci}"));
            std::fs::write(&file, &yaml)?;
            files.push(file);
        }
    }
    for version in KUBERNETES_VERSIONS {
        let out = validate(version, &files)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success(),
            "kubernetes-validate {version} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // Every rendered object was checked (one "<file> passed for resource" line each).
        for file in &files {
            let objects = yaml_documents(&std::fs::read_to_string(file)?)?.len();
            let name = file.display().to_string();
            let valid = stdout
                .lines()
                .filter(|l| l.contains(&format!("{name} passed for resource")))
                .count();
            ensure!(
                valid == objects && objects >= 3,
                "{name}: {objects} objects rendered, {valid} reported valid by {version}:\n{stdout}"
            );
        }
    }

    // Control: the same validator rejects a Job whose field has the wrong type and one
    // with an unknown field, so a pass above means something.
    let good = std::fs::read_to_string(&files[0])?;
    for (what, from, to) in [
        ("wrong type", "backoffLimit: 0", "backoffLimit: \"none\""),
        ("unknown field", "backoffLimit: 0", "backoffLimits: 0"),
    ] {
        ensure!(good.contains(from), "rendered Job has no `{from}`");
        let bad = scratch.path().join("bad.yaml");
        std::fs::write(&bad, good.replacen(from, to, 1))?;
        let out = validate(KUBERNETES_VERSIONS[0], std::slice::from_ref(&bad))?;
        ensure!(
            !out.status.success(),
            "kubernetes-validate accepted a Job with a {what} ({to})"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One test per template
// ---------------------------------------------------------------------------------------

/// templates/runner-job.yaml: the Helm test Job.
#[test]
fn runner_job_is_a_helm_test_hook_running_pkgrun_with_state_volume_and_secret_env() -> Result<()> {
    let ws = workspace();
    for (chart, lang) in CHARTS {
        let r = ws.render(chart, "default-values.yaml", &[])?;
        let job = r.one("Job")?;
        let ctx = format!("{chart}: Job");

        let annotations = &job["metadata"]["annotations"];
        ensure!(
            annotations["helm.sh/hook"] == "test",
            "{ctx}: hook {annotations}"
        );
        ensure!(
            annotations["helm.sh/hook-delete-policy"] == "before-hook-creation",
            "{ctx}: delete policy {annotations}"
        );
        ensure!(
            annotations["helm.sh/hook-output-log-policy"] == "hook-succeeded,hook-failed",
            "{ctx}: output log policy {annotations}"
        );
        ensure!(
            job["metadata"]["namespace"] == NAMESPACE,
            "{ctx}: namespace"
        );
        ensure!(
            job["spec"]["backoffLimit"] == 0,
            "{ctx}: backoffLimit {}",
            job["spec"]
        );
        ensure!(
            job["spec"]["activeDeadlineSeconds"] == 900,
            "{ctx}: deadline"
        );
        ensure!(job["spec"]["ttlSecondsAfterFinished"] == 3600, "{ctx}: ttl");

        let pod = &job["spec"]["template"]["spec"];
        ensure!(pod["restartPolicy"] == "Never", "{ctx}: restartPolicy");
        ensure!(
            pod["automountServiceAccountToken"] == false,
            "{ctx}: the pod must not automount a token (the runner runs third-party code)"
        );
        ensure!(
            pod["securityContext"]["runAsNonRoot"] == true,
            "{ctx}: runAsNonRoot"
        );

        let c = container(job)?;
        ensure!(
            c["image"] == format!("registry.local/ameide/package-publisher-{lang}:ci"),
            "{ctx}: image {}",
            c["image"]
        );
        ensure!(
            c["command"] == serde_json::json!(["pkgrun"]),
            "{ctx}: command {}",
            c["command"]
        );
        ensure!(
            c["args"] == serde_json::json!(["run", lang]),
            "{ctx}: args {}",
            c["args"]
        );
        ensure!(c["workingDir"] == "/workspace", "{ctx}: workingDir");

        // Credentials: only through envFrom of the existing Secret.
        ensure!(
            c["envFrom"]
                == serde_json::json!([{ "secretRef": { "name": format!("packages-{lang}-env") } }]),
            "{ctx}: envFrom {}",
            c["envFrom"]
        );
        // The runner writes the state directory only: no ConfigMap, no API access.
        let env_value = |name: &str| env_entry(c, name).map(|e| e["value"].clone());
        ensure!(
            env_entry(c, "PKGRUN_CONFIGMAP").is_none()
                && env_entry(c, "PKGRUN_NAMESPACE").is_none(),
            "{ctx}: the runner must not be pointed at the ConfigMap"
        );
        ensure!(
            env_value("PKGRUN_CONFIG") == Some(Value::from("/workspace/pkgrun.toml")),
            "{ctx}: PKGRUN_CONFIG"
        );
        check_state_push(job, lang, &ctx)?;

        // The state emptyDir at the state dir, a writable /tmp on a read-only root.
        let volumes = pod["volumes"].as_array().context("no volumes")?;
        let mounts = c["volumeMounts"].as_array().context("no volumeMounts")?;
        let mount_of = |path: &str| mounts.iter().find(|m| m["mountPath"] == path);
        for path in [STATE_MOUNT, "/tmp"] {
            let mount =
                mount_of(path).with_context(|| format!("{ctx}: nothing mounted at {path}"))?;
            let volume = volumes
                .iter()
                .find(|v| v["name"] == mount["name"])
                .with_context(|| format!("{ctx}: no volume {}", mount["name"]))?;
            ensure!(
                volume["emptyDir"].is_object(),
                "{ctx}: {path} must be an emptyDir: {volume}"
            );
            ensure!(mount["readOnly"] != true, "{ctx}: {path} mounted read-only");
        }
        let sc = &c["securityContext"];
        ensure!(
            sc["readOnlyRootFilesystem"] == true,
            "{ctx}: root filesystem writable"
        );
        ensure!(
            sc["allowPrivilegeEscalation"] == false,
            "{ctx}: privilege escalation"
        );
        ensure!(
            sc["capabilities"]["drop"] == serde_json::json!(["ALL"]),
            "{ctx}: capabilities"
        );
        ensure!(
            c["resources"]["requests"]["memory"] == "512Mi",
            "{ctx}: resources {}",
            c["resources"]
        );

        // Values reach the Job: deadline, ttl, secret name, state ConfigMap, args.
        let r = ws.render(
            chart,
            "default-values.yaml",
            &[
                "--set",
                "job.activeDeadlineSeconds=1234,envSecretName=other-env,stateConfigMap=other-state",
                "--set",
                "job.ttlSecondsAfterFinished=null,job.resources.limits.cpu=2",
                "--set-json",
                r#"job.args=["publish","--dry-run"]"#,
            ],
        )?;
        let job = r.one("Job")?;
        let c = container(job)?;
        ensure!(
            job["spec"]["activeDeadlineSeconds"] == 1234,
            "{ctx}: deadline from values"
        );
        ensure!(
            job["spec"].get("ttlSecondsAfterFinished").is_none(),
            "{ctx}: ttl null"
        );
        ensure!(
            str_at(c, "/envFrom/0/secretRef/name") == "other-env",
            "{ctx}: secret from values"
        );
        ensure!(
            env_entry(state_push(job)?, "PKGRUN_CONFIGMAP").map(|e| e["value"].clone())
                == Some("other-state".into()),
            "{ctx}: ConfigMap from values"
        );
        ensure!(
            c["args"] == serde_json::json!(["publish", "--dry-run"]),
            "{ctx}: args from values"
        );
        ensure!(
            c["resources"]["limits"]["cpu"] == 2,
            "{ctx}: resources from values"
        );
    }
    Ok(())
}

/// templates/runner-serviceaccount.yaml: the Job's identity.
#[test]
fn runner_serviceaccount_is_the_one_the_job_runs_as() -> Result<()> {
    let ws = workspace();
    for (chart, _) in CHARTS {
        let r = ws.render(chart, "default-values.yaml", &[])?;
        let sa = r.one("ServiceAccount")?;
        let job = r.one("Job")?;
        ensure!(
            sa["metadata"]["name"] == format!("{chart}-runner"),
            "{chart}: SA {sa}"
        );
        ensure!(
            sa["metadata"]["namespace"] == NAMESPACE,
            "{chart}: SA namespace"
        );
        ensure!(
            job["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"],
            "{chart}: the Job runs as another ServiceAccount"
        );

        // Bring your own: no ServiceAccount rendered, the Job runs as the named one.
        let r = ws.render(chart, "byo-serviceaccount-values.yaml", &[])?;
        ensure!(
            r.of_kind("ServiceAccount").is_empty(),
            "{chart}: SA rendered with create=false"
        );
        ensure!(
            r.one("Job")?["spec"]["template"]["spec"]["serviceAccountName"] == "packages-runner",
            "{chart}: byo ServiceAccount not used"
        );
        // ... and a missing name is refused, not defaulted.
        let err = fails(&mut ws.template_cmd(
            chart,
            Some("default-values.yaml"),
            &["--set", "serviceAccount.create=false"],
        ))?;
        ensure!(
            err.contains("serviceAccount.name is required"),
            "{chart}: unclear error: {err}"
        );
    }
    Ok(())
}

/// templates/runner-role.yaml: get, create and patch on the state ConfigMap, nothing else.
#[test]
fn runner_role_is_limited_to_the_state_configmap_by_name() -> Result<()> {
    let ws = workspace();
    for (chart, lang) in CHARTS {
        for ci in ci_values(ws, chart)? {
            let r = ws.render(chart, &ci, &[])?;
            let role = r.one("Role")?;
            let ctx = format!("{chart} ({ci})");
            // One rule: every verb, create included, carries the resource name (a rule
            // without resourceNames would reach every ConfigMap of the namespace).
            let rules = role["rules"].as_array().context("Role has no rules")?;
            ensure!(rules.len() == 1, "{ctx}: expected one rule: {rules:?}");
            let rule = &rules[0];
            ensure!(
                rule["apiGroups"] == serde_json::json!([""]),
                "{ctx}: apiGroups {rule}"
            );
            ensure!(
                rule["resources"] == serde_json::json!(["configmaps"]),
                "{ctx}: resources {rule}"
            );
            ensure!(
                rule["resourceNames"] == serde_json::json!([format!("{lang}-packages-state")]),
                "{ctx}: resourceNames {rule}"
            );
            ensure!(
                rule["verbs"] == serde_json::json!(["get", "create", "patch"]),
                "{ctx}: verbs {rule}"
            );
            ensure!(
                r.of_kind("ClusterRole").is_empty(),
                "{ctx}: ClusterRole rendered"
            );
        }

        // The resource name follows the value.
        let r = ws.render(
            chart,
            "default-values.yaml",
            &["--set", "stateConfigMap=custom-state"],
        )?;
        ensure!(
            r.one("Role")?["rules"][0]["resourceNames"] == serde_json::json!(["custom-state"]),
            "{chart}: resourceNames do not follow stateConfigMap"
        );

        // rbac.create=false: no Role, no RoleBinding.
        let r = ws.render(
            chart,
            "default-values.yaml",
            &["--set", "rbac.create=false"],
        )?;
        ensure!(
            r.of_kind("Role").is_empty() && r.of_kind("RoleBinding").is_empty(),
            "{chart}: RBAC rendered with rbac.create=false"
        );
    }
    Ok(())
}

/// templates/runner-rolebinding.yaml: the Role, bound to the Job's ServiceAccount.
#[test]
fn runner_rolebinding_binds_the_role_to_the_jobs_serviceaccount() -> Result<()> {
    let ws = workspace();
    for (chart, _) in CHARTS {
        for ci in ["default-values.yaml", "byo-serviceaccount-values.yaml"] {
            let r = ws.render(chart, ci, &[])?;
            let binding = r.one("RoleBinding")?;
            let role = r.one("Role")?;
            let job = r.one("Job")?;
            let ctx = format!("{chart} ({ci})");
            ensure!(
                binding["roleRef"]
                    == serde_json::json!({
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": role["metadata"]["name"],
                    }),
                "{ctx}: roleRef {}",
                binding["roleRef"]
            );
            let ns = &role["metadata"]["namespace"];
            ensure!(
                binding["metadata"]["namespace"] == *ns,
                "{ctx}: binding namespace"
            );
            ensure!(
                binding["subjects"]
                    == serde_json::json!([{
                        "kind": "ServiceAccount",
                        "name": job["spec"]["template"]["spec"]["serviceAccountName"],
                        "namespace": ns,
                    }]),
                "{ctx}: subjects {}",
                binding["subjects"]
            );
        }
    }
    Ok(())
}

/// templates/state-configmap.yaml: the optional, empty, kept state ConfigMap.
#[test]
fn state_configmap_is_optional_empty_and_kept() -> Result<()> {
    let ws = workspace();
    for (chart, lang) in CHARTS {
        // Off by default: the runner creates it on its first server-side apply.
        let r = ws.render(chart, "default-values.yaml", &[])?;
        ensure!(
            r.of_kind("ConfigMap").is_empty(),
            "{chart}: state ConfigMap rendered with rbac.createStateConfigMap=false"
        );

        let r = ws.render(chart, "byo-serviceaccount-values.yaml", &[])?;
        let cm = r.one("ConfigMap")?;
        ensure!(
            cm["metadata"]["name"] == format!("{lang}-packages-state"),
            "{chart}: {cm}"
        );
        ensure!(
            cm["metadata"]["namespace"] == "packages-ci",
            "{chart}: namespace"
        );
        ensure!(
            cm["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep",
            "{chart}: state ConfigMap not kept on uninstall"
        );
        // pkgrun owns the data (server-side apply); Helm must never render any.
        ensure!(
            cm.get("data").is_none() && cm.get("binaryData").is_none(),
            "{chart}: state ConfigMap renders data: {cm}"
        );
        ensure!(
            cm["metadata"]["annotations"].get("helm.sh/hook").is_none(),
            "{chart}: the state ConfigMap must be a release object, not a hook"
        );
        // The Role names the same ConfigMap.
        ensure!(
            r.one("Role")?["rules"][0]["resourceNames"][0] == cm["metadata"]["name"],
            "{chart}: the Role does not name the state ConfigMap"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Cross-template properties
// ---------------------------------------------------------------------------------------

#[test]
fn every_object_carries_the_standard_labels_and_the_job_is_found_by_label_query() -> Result<()> {
    let ws = workspace();
    for (chart, _) in CHARTS {
        for ci in ci_values(ws, chart)? {
            let r = ws.render(chart, &ci, &[])?;
            let expect_ns = if ci == "byo-serviceaccount-values.yaml" {
                "packages-ci"
            } else {
                NAMESPACE
            };
            for object in &r.objects {
                let ctx = format!(
                    "{chart} ({ci}): {} {}",
                    object["kind"], object["metadata"]["name"]
                );
                let labels = &object["metadata"]["labels"];
                ensure!(
                    labels["app.kubernetes.io/name"] == *chart,
                    "{ctx}: name label {labels}"
                );
                ensure!(
                    labels["app.kubernetes.io/instance"] == *chart,
                    "{ctx}: instance {labels}"
                );
                ensure!(
                    labels["app.kubernetes.io/managed-by"] == "Helm",
                    "{ctx}: managed-by"
                );
                ensure!(
                    labels["app.kubernetes.io/part-of"] == "pkgrun",
                    "{ctx}: part-of"
                );
                ensure!(
                    labels["helm.sh/chart"] == format!("{chart}-0.1.0"),
                    "{ctx}: chart label"
                );
                ensure!(
                    labels["app.kubernetes.io/component"].is_string(),
                    "{ctx}: component"
                );
                ensure!(
                    object["metadata"]["namespace"] == expect_ns,
                    "{ctx}: namespace"
                );
            }
            // `pkgrun layer` finds the runner's pods with this selector.
            let pod_labels = &r.one("Job")?["spec"]["template"]["metadata"]["labels"];
            for (key, value) in [
                ("app.kubernetes.io/instance", *chart),
                ("app.kubernetes.io/component", "runner"),
                ("app.kubernetes.io/name", *chart),
            ] {
                ensure!(
                    pod_labels[key] == value,
                    "{chart}: pod label {key}: {pod_labels}"
                );
            }
        }
    }
    // Labels come only from the library's helpers: no application template writes one.
    for (chart, _) in CHARTS {
        for entry in std::fs::read_dir(
            repo_root()
                .join("deploy/charts")
                .join(chart)
                .join("templates"),
        )? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path)?;
            ensure!(
                !text.contains("app.kubernetes.io/"),
                "{} writes labels itself; use the library helpers",
                path.display()
            );
        }
    }
    Ok(())
}

/// Names or values that would be credentials if they showed up in a rendered manifest.
fn looks_like_credential(name: &str, value: &str) -> bool {
    // The same name rule that keeps such variables from pkgrun's children.
    let secret_name = pkgrun_core::child_env::looks_like_credential(name);
    // A URL with user:password@ in it.
    let userinfo = value
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default().contains('@'))
        .unwrap_or(false);
    secret_name || userinfo || value.starts_with("npm_") || value.starts_with("pypi-")
}

#[test]
fn no_secret_objects_and_no_inline_credentials_in_any_rendering() -> Result<()> {
    let ws = workspace();
    for (chart, _) in CHARTS {
        for ci in ci_values(ws, chart)? {
            let r = ws.render(chart, &ci, &[])?;
            ensure!(
                r.of_kind("Secret").is_empty(),
                "{chart} ({ci}) renders a Secret"
            );
            for object in &r.objects {
                ensure!(
                    object.pointer("/data").is_none() && object.pointer("/stringData").is_none(),
                    "{chart} ({ci}): {} carries data",
                    object["kind"]
                );
            }
            let job = r.one("Job")?;
            let c = container(job)?;
            for entry in c["env"].as_array().context("no env")? {
                let name = entry["name"].as_str().unwrap_or_default();
                if let Some(value) = entry.get("value") {
                    let value = value.as_str().unwrap_or_default();
                    ensure!(
                        !looks_like_credential(name, value),
                        "{chart} ({ci}): env {name} looks like an inline credential"
                    );
                } else {
                    // Only the downward API, never a secretKeyRef picked by the chart.
                    ensure!(
                        entry.pointer("/valueFrom/fieldRef").is_some(),
                        "{chart} ({ci}): env {name} comes from {entry}"
                    );
                }
            }
            ensure!(
                state_push(job)?.get("envFrom").is_none(),
                "{chart} ({ci}): the state-push container gets no registry credentials"
            );
        }
        // The schema refuses a credential-looking name in job.env.
        for name in [
            "NPM_AUTH_TOKEN",
            "GO_REGISTRY_TOKEN",
            "AMEIDE_PYPI_PASSWORD",
        ] {
            let err = fails(&mut ws.template_cmd(
                chart,
                Some("default-values.yaml"),
                &["--set", &format!("job.env.{name}=x")],
            ))?;
            ensure!(
                err.contains("values don't meet the specifications of the schema")
                    && err.contains(&format!("/job/env/{name}")),
                "{chart}: job.env.{name} refused without naming it: {err}"
            );
        }
    }
    // No template source can render a Secret either (the library's included).
    let charts = repo_root().join("deploy/charts");
    for entry in walk(&charts)? {
        let text = std::fs::read_to_string(&entry)?;
        ensure!(
            !text.contains("kind: Secret")
                && !text.contains("secretKeyRef")
                && !text.contains("stringData"),
            "{} mentions Secret data",
            entry.display()
        );
    }
    Ok(())
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// values.schema.json
// ---------------------------------------------------------------------------------------

#[test]
fn template_fails_with_a_schema_error_when_a_required_value_is_missing_or_wrong() -> Result<()> {
    let ws = workspace();
    for (chart, _) in CHARTS {
        // No ci values: image.tag has no default and must be given.
        let err = fails(&mut ws.template_cmd(chart, None, &[]))?;
        ensure!(
            err.contains("values don't meet the specifications of the schema")
                && err.contains("image")
                && err.contains("tag"),
            "{chart}: missing image.tag not reported clearly: {err}"
        );

        for (set, words) in [
            // A required value removed (null deletes a key in Helm).
            ("stateConfigMap=null", &["stateConfigMap"][..]),
            ("envSecretName=null", &["envSecretName"][..]),
            (
                "job.activeDeadlineSeconds=null",
                &["activeDeadlineSeconds"][..],
            ),
            ("registry.deployment=null", &["deployment"][..]),
            // Wrong values.
            ("image.tag=", &["tag"][..]),
            (
                "helmLayerSelector=language=rust",
                &["helmLayerSelector"][..],
            ),
            ("stateConfigMap=Not_A_Name", &["stateConfigMap"][..]),
            (
                "job.activeDeadlineSeconds=0",
                &["activeDeadlineSeconds"][..],
            ),
            // additionalProperties: false catches typos.
            ("imageTag=dev", &["imageTag"][..]),
            ("job.activeDeadline=5", &["activeDeadline"][..]),
        ] {
            let err =
                fails(&mut ws.template_cmd(chart, Some("default-values.yaml"), &["--set", set]))?;
            ensure!(
                err.contains("values don't meet the specifications of the schema")
                    && words.iter().all(|w| err.contains(w)),
                "{chart} --set {set}: unclear error: {err}"
            );
        }
    }
    Ok(())
}

#[test]
fn the_three_charts_share_one_schema_and_language_specific_defaults() -> Result<()> {
    let root = repo_root().join("deploy/charts");
    let schema = std::fs::read_to_string(root.join("package-go/values.schema.json"))?;
    let parsed: Value = serde_json::from_str(&schema)?;
    ensure!(
        parsed["additionalProperties"] == false,
        "schema allows unknown keys"
    );
    for (chart, lang) in CHARTS {
        let dir = root.join(chart);
        ensure!(
            std::fs::read_to_string(dir.join("values.schema.json"))? == schema,
            "{chart}/values.schema.json differs from package-go's: keep the three identical"
        );
        let values = yaml_file(&dir.join("values.yaml"))?;
        let expect = [
            ("/language", lang.to_string()),
            ("/helmLayerSelector", format!("language={lang}")),
            ("/stateConfigMap", format!("{lang}-packages-state")),
            ("/envSecretName", format!("packages-{lang}-env")),
            (
                "/image/repository",
                format!("registry.local/ameide/package-publisher-{lang}"),
            ),
        ];
        for (pointer, want) in expect {
            ensure!(
                str_at(&values, pointer) == want,
                "{chart} values {pointer}: want {want}"
            );
        }
        let registry = match *lang {
            "go" => "go-registry",
            "python" => "devpi",
            _ => "verdaccio",
        };
        ensure!(
            str_at(&values, "/registry/deployment") == registry,
            "{chart}: registry"
        );
        ensure!(
            values["job"]["args"] == serde_json::json!(["run", lang]),
            "{chart}: default args"
        );
        // Every top-level value is described by the schema (kept in step).
        for key in values
            .as_object()
            .context("values.yaml is not a map")?
            .keys()
        {
            ensure!(
                parsed["properties"].get(key).is_some(),
                "{chart}: `{key}` not in the schema"
            );
        }
        // image.tag has no default on purpose (see values.yaml).
        ensure!(
            values["image"].get("tag").is_none(),
            "{chart}: image.tag has a default"
        );

        let chart_yaml = yaml_file(&dir.join("Chart.yaml"))?;
        ensure!(chart_yaml["name"] == *chart, "{chart}: Chart.yaml name");
        ensure!(
            chart_yaml["dependencies"]
                == serde_json::json!([{
                    "name": "package-runner",
                    "version": "0.1.0",
                    "repository": "file://../package-runner",
                }]),
            "{chart}: dependency {}",
            chart_yaml["dependencies"]
        );
    }
    let library = yaml_file(&root.join("package-runner/Chart.yaml"))?;
    ensure!(
        library["type"] == "library",
        "package-runner is not a library chart"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Helmfile layers
// ---------------------------------------------------------------------------------------

/// What `pkgrun layer` relies on: one release per layer whose labels match the
/// `helmLayerSelector` in its values files, the common values file, the chart's own values;
/// and helm accepts exactly those values files, in that order.
#[test]
fn helmfile_layers_select_their_release_by_label_and_render_with_their_values() -> Result<()> {
    let ws = workspace();
    let helmfiles = ws.deploy.join("helmfiles");
    for (file, chart, lang) in LAYERS {
        let layer = yaml_file(&helmfiles.join(file))?;
        let releases = layer["releases"].as_array().context("no releases")?;
        ensure!(releases.len() == 1, "{file}: expected one release");
        let release = &releases[0];
        ensure!(release["name"] == *chart, "{file}: release name");
        ensure!(
            release["chart"] == format!("../charts/{chart}"),
            "{file}: chart {}",
            release["chart"]
        );
        ensure!(
            release["labels"]["language"] == *lang,
            "{file}: label {}",
            release["labels"]
        );

        // Values files (paths relative to the helmfile) and inline maps, in order.
        let mut value_files = Vec::new();
        let mut selector = None;
        for entry in release["values"].as_array().context("no values")? {
            match entry {
                Value::String(path) => {
                    let path = helmfiles.join(path);
                    ensure!(
                        path.is_file(),
                        "{file}: values file {} missing",
                        path.display()
                    );
                    let values = yaml_file(&path)?;
                    if let Some(s) = values.get("helmLayerSelector").and_then(Value::as_str) {
                        selector = Some(s.to_string());
                    }
                    value_files.push(path);
                }
                Value::Object(map) => {
                    if let Some(s) = map.get("helmLayerSelector").and_then(Value::as_str) {
                        selector = Some(s.to_string());
                    }
                    let inline = helmfiles.join(format!(".inline-{chart}.yaml"));
                    std::fs::write(&inline, serde_yaml::to_string(map)?)?;
                    value_files.push(inline);
                }
                other => bail!("{file}: unexpected values entry {other}"),
            }
        }
        ensure!(
            value_files
                .iter()
                .any(|p| p.ends_with("values/package-runner-common.yaml")),
            "{file}: does not use the common values file"
        );
        ensure!(
            value_files
                .iter()
                .any(|p| p.ends_with(format!("charts/{chart}/values.yaml"))),
            "{file}: does not list the chart's values.yaml"
        );
        // The last selector wins (as helm merges); it must select this release by label.
        let selector = selector.with_context(|| format!("{file}: no helmLayerSelector"))?;
        let (key, value) = selector
            .split_once('=')
            .context("selector is not key=value")?;
        ensure!(
            release["labels"][key] == value,
            "{file}: selector {selector} does not match the release labels {}",
            release["labels"]
        );
        ensure!(
            selector == format!("language={lang}"),
            "{file}: selector {selector}"
        );
        // No other layer's release matches this selector.
        for (other, other_chart, _) in LAYERS.iter().filter(|(f, _, _)| f != file) {
            let other_layer = yaml_file(&helmfiles.join(other))?;
            ensure!(
                other_layer["releases"][0]["labels"][key] != value,
                "{file}: selector {selector} also selects {other_chart} in {other}"
            );
        }

        // helm accepts the layer's values as helmfile would pass them.
        let mut cmd = ws.helm();
        cmd.args(["template", chart])
            .arg(ws.chart_dir(chart))
            .args(["--namespace", str_at(release, "/namespace")]);
        for path in &value_files {
            cmd.arg("--values").arg(path);
        }
        let r = Rendered::parse(&ok(&mut cmd)?)?;
        let job = r.one("Job")?;
        ensure!(
            str_at(container(job)?, "/image").ends_with(":dev"),
            "{file}: the common values' image tag did not apply"
        );
        ensure!(
            job["spec"]["activeDeadlineSeconds"] == 900,
            "{file}: deadline"
        );
        let timeout = layer["helmDefaults"]["timeout"]
            .as_u64()
            .context("no helm timeout")?;
        ensure!(
            timeout > 900,
            "{file}: helm timeout {timeout}s is not above the Job deadline"
        );
    }
    Ok(())
}
