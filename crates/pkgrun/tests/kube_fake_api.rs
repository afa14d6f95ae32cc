//! `pkgrun state sync`, `pkgrun layer` and the pipeline's ConfigMap sink, run as the
//! real binary against the FAKE Kubernetes API server of
//! crates/pkgrun-kube/tests/fake_api (loopback; it stands in until the real
//! kube-apiserver of issue 8 lands). `helmfile` and `helm` are FAKE stub scripts put
//! on PATH that record their argv: no cluster runs anything here.

#[path = "../../pkgrun-kube/tests/fake_api/mod.rs"]
mod fake_api;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use fake_api::FakeApi;

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let ws = Workspace {
            dir: tempfile::tempdir().unwrap(),
        };
        ws.write("go/sdk/go.mod", "module example.com/acme/sdk\n\ngo 1.22\n");
        ws.write(
            "ts/sdk/package.json",
            r#"{"name":"@acme/sdk-ts","version":"1.2.0"}"#,
        );
        ws.write(
            "pkgrun.toml",
            "env_prefix = \"AMEIDE\"\nstate_dir = \"out/state\"\n\n[[go.packages]]\nname = \"example.com/acme/sdk\"\npath = \"go/sdk\"\nstate_key = \"sdk-go\"\n\n[[ts.packages]]\nname = \"@acme/sdk-ts\"\npath = \"ts/sdk\"\n",
        );
        ws
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> PathBuf {
        self.path().join("out/state")
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `pkgrun` in the workspace with a clean environment and a kubeconfig for `fake`.
    fn pkgrun(&self, fake: &FakeApi) -> Command {
        self.write("kubeconfig", &fake.kubeconfig("ameide"));
        let mut cmd = Command::cargo_bin("pkgrun").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("KUBECONFIG", self.path().join("kubeconfig"))
            .current_dir(self.path());
        cmd
    }

    fn files(&self) -> BTreeMap<String, String> {
        let Ok(entries) = std::fs::read_dir(self.state()) else {
            return BTreeMap::new();
        };
        entries
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

fn doc(lang: &str, state_key: &str, package: &str, version: &str) -> String {
    let v = serde_json::json!({
        "schema": "pkgrun.state/v1", "language": lang, "package": package, "state_key": state_key,
        "version": version, "registry": "http://127.0.0.1:5000", "git_sha": "0123456789ab",
        "published_at": "2026-11-27T22:10:05Z", "publish": {"outcome": "uploaded"},
        "dependencies": [], "artifacts": [],
        "smoke": {"status": "passed", "checks": []}, "durations_ms": {"total": 1}
    });
    // In the field order pkgrun writes (its sink and its state files agree).
    let doc: pkgrun_core::state::StateDocument = serde_json::from_value(v).unwrap();
    format!("{}\n", serde_json::to_string_pretty(&doc).unwrap())
}

const GO_V: &str = "v0.0.0-20261127221005-0123456789ab";
const TS_V: &str = "1.2.0-dev.20261127221005.0123456789ab";

fn seed(fake: &FakeApi) {
    let go = doc("go", "sdk-go", "example.com/acme/sdk", GO_V);
    fake.put_configmap(
        "ameide",
        "go-packages-state",
        "pkgrun",
        &[("sdk-go.json", &go), ("go-version", &format!("{GO_V}\n"))],
    );
    let ts = doc("ts", "sdk-ts", "@acme/sdk-ts", TS_V);
    fake.put_configmap(
        "ameide",
        "ts-packages-state",
        "pkgrun",
        &[("sdk-ts.json", &ts), ("ts-version", &format!("{TS_V}\n"))],
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- pkgrun state sync --------------------------------------------------------------

#[test]
fn fake_api_state_sync_round_trip() {
    let fake = FakeApi::start();
    seed(&fake);
    let ws = Workspace::new();
    let out = ws.pkgrun(&fake).args(["state", "sync"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = ws.files();
    assert_eq!(
        files["sdk-go.json"],
        doc("go", "sdk-go", "example.com/acme/sdk", GO_V),
        "byte for byte"
    );
    assert_eq!(files["go-version"], format!("{GO_V}\n"));
    assert_eq!(
        files["sdk-ts.json"],
        doc("ts", "sdk-ts", "@acme/sdk-ts", TS_V)
    );
    assert_eq!(files["ts-version"], format!("{TS_V}\n"));
    assert_eq!(text(&out.stdout), format!("sdk-go {GO_V}\nsdk-ts {TS_V}\n"));
    assert!(
        text(&out.stderr).contains("[packages:go-state]"),
        "{}",
        text(&out.stderr)
    );
    // `pkgrun env` reads what sync wrote.
    let env = ws
        .pkgrun(&fake)
        .args(["env", "--format", "dotenv", "go"])
        .output()
        .unwrap();
    assert_eq!(text(&env.stdout), format!("AMEIDE_GO_SDK_VERSION={GO_V}\n"));
    assert!(
        fake.writes().is_empty(),
        "sync only reads: {:?}",
        fake.writes()
    );
}

#[test]
fn fake_api_state_sync_prunes_only_when_asked() {
    let fake = FakeApi::start();
    seed(&fake);
    let ws = Workspace::new();
    ws.write(
        "out/state/old-go.json",
        &doc("go", "old-go", "example.com/acme/old", GO_V),
    );
    ws.write(
        "out/state/keep-ts.json",
        &doc("ts", "keep-ts", "@acme/keep", TS_V),
    );
    ws.write("out/state/notes.json", "not a state document");
    let out = ws
        .pkgrun(&fake)
        .args(["state", "sync", "go"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        ws.files().contains_key("old-go.json"),
        "kept without --prune"
    );
    let out = ws
        .pkgrun(&fake)
        .args(["state", "sync", "--prune", "go"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = ws.files();
    assert!(
        !files.contains_key("old-go.json"),
        "pruned: {:?}",
        files.keys()
    );
    assert!(
        files.contains_key("keep-ts.json"),
        "another language's document stays"
    );
    assert!(
        files.contains_key("notes.json"),
        "a file that is not a document stays"
    );
    assert!(files.contains_key("sdk-go.json"));
    assert!(
        text(&out.stderr).contains("pruned old-go.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fake_api_state_sync_writes_nothing_when_one_document_is_bad() {
    let fake = FakeApi::start();
    seed(&fake);
    // The ts ConfigMap (read second) carries a broken document.
    fake.put_configmap(
        "ameide",
        "ts-packages-state",
        "kubectl-edit",
        &[("broken.json", "{\"schema\": \"pkgrun.state/v1\"}")],
    );
    let ws = Workspace::new();
    ws.write("out/state/go-version", "v0.0.0-old\n");
    let out = ws.pkgrun(&fake).args(["state", "sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("key broken.json of configmaps ameide/ts-packages-state"),
        "{err}"
    );
    let files = ws.files();
    assert_eq!(
        files.len(),
        1,
        "nothing written, not even go's documents: {:?}",
        files.keys()
    );
    assert_eq!(files["go-version"], "v0.0.0-old\n");
}

#[test]
fn fake_api_state_sync_forbidden_and_missing_are_clear_exit_2() {
    let fake = FakeApi::start();
    seed(&fake);
    fake.forbid_namespace("locked");
    let ws = Workspace::new();
    let out = ws
        .pkgrun(&fake)
        .args(["state", "sync", "--namespace", "locked", "go"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("refused to get configmaps locked/go-packages-state (403 Forbidden"),
        "{err}"
    );
    assert!(
        err.contains("hint: grant the service account a Role with verb `get`"),
        "{err}"
    );

    let out = ws
        .pkgrun(&fake)
        .env("PKGRUN_CONFIGMAP", "{lang}-elsewhere")
        .args(["state", "sync", "go"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("configmaps ameide/go-elsewhere does not exist"),
        "{}",
        text(&out.stderr)
    );
    assert!(ws.files().is_empty());
}

#[test]
fn fake_api_missing_credentials_are_exit_2() {
    let fake = FakeApi::start();
    let ws = Workspace::new();
    let out = ws
        .pkgrun(&fake)
        .env("KUBECONFIG", ws.path().join("no-such-kubeconfig"))
        .args(["state", "sync", "go"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no Kubernetes credentials"),
        "{}",
        text(&out.stderr)
    );
}

// ---- the pipeline's ConfigMap sink ----------------------------------------------------

#[test]
fn fake_api_sink_one_name_for_two_languages_is_refused_before_anything() {
    let fake = FakeApi::start();
    let ws = Workspace::new();
    let out = ws
        .pkgrun(&fake)
        .env("PKGRUN_CONFIGMAP", "shared-state")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:9")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com")
        .env("NPM_REGISTRY_URL", "http://127.0.0.1:9")
        .env("NPM_AUTH_TOKEN", "t")
        .args(["smoke", "go", "ts"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("names one ConfigMap for 2 languages"),
        "{}",
        text(&out.stderr)
    );
    assert!(fake.requests().is_empty());
}

#[test]
fn fake_api_sink_writes_nothing_when_smoke_does_not_pass() {
    let fake = FakeApi::start();
    let ws = Workspace::new();
    ws.write(
        "out/state/sdk-go.json",
        &doc("go", "sdk-go", "example.com/acme/sdk", GO_V),
    );
    // Nothing listens on port 9: smoke cannot pass.
    let out = ws
        .pkgrun(&fake)
        .env("PKGRUN_CONFIGMAP", "go-packages-state")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:9")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com")
        .args(["smoke", "go"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("configmaps ameide/go-packages-state not written: smoke did not pass"),
        "{err}"
    );
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    assert_eq!(fake.configmap("ameide", "go-packages-state"), None);
}

// ---- pkgrun layer ---------------------------------------------------------------------

/// FAKE `helmfile` and `helm`: shell stubs that append their argv to `<bin>/argv.log`
/// and exit with the code in `<bin>/<name>.exit` (0 when absent).
fn fake_tools(ws: &Workspace) -> PathBuf {
    let bin = ws.path().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["helmfile", "helm"] {
        let script = format!(
            "#!/bin/sh\n# FAKE {name} for tests: records argv, prints a line, exits as told.\necho \"{name} $*\" >> \"{dir}/argv.log\"\necho \"fake {name} output\"\ncode=0\n[ -f \"{dir}/{name}.exit\" ] && code=$(cat \"{dir}/{name}.exit\")\nexit $code\n",
            dir = bin.display()
        );
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn layer_files(ws: &Workspace) -> PathBuf {
    ws.write("deploy/charts/package-go/values.yaml", "helmLayerSelector: \"language=go\"\nnamespace: \"\"\nregistry:\n  deployment: go-registry\n  namespace: \"\"\n");
    ws.write(
        "deploy/helmfiles/values/common.yaml",
        "image:\n  tag: dev\n",
    );
    ws.write(
        "deploy/helmfiles/27-package-go.yaml",
        "releases:\n  - name: package-go\n    namespace: packages\n    chart: ../charts/package-go\n    labels:\n      language: go\n    values:\n      - ../charts/package-go/values.yaml\n      - values/common.yaml\n",
    );
    ws.path().join("deploy/helmfiles/27-package-go.yaml")
}

fn with_path(cmd: &mut Command, bin: &Path) {
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    cmd.env("PATH", path);
}

#[test]
fn fake_api_layer_waits_syncs_tests_and_prints_the_failed_jobs_logs() {
    let fake = FakeApi::start();
    fake.add_deployment("packages", "go-registry", 2);
    fake.add_job(
        "packages",
        "package-go-runner",
        &[("app.kubernetes.io/instance", "package-go")],
        &[(
            "Failed",
            "True",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        )],
    );
    fake.add_pod(
        "packages",
        "package-go-runner-x1",
        &[("job-name", "package-go-runner")],
        Some(4),
        "[packages:go-smoke] 2026-11-27T22:10:05Z fail consumer check\nsecond line\r\n",
    );
    let ws = Workspace::new();
    let bin = fake_tools(&ws);
    std::fs::write(bin.join("helm.exit"), "1").unwrap();
    let file = layer_files(&ws);
    let mut cmd = ws.pkgrun(&fake);
    with_path(&mut cmd, &bin);
    let out = cmd
        .args(["layer", "--poll-interval", "0.01"])
        .arg(&file)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the runner's smoke exit code: {err}"
    );
    assert!(
        err.contains("waiting for deployment packages/go-registry: Available=False"),
        "{err}"
    );
    assert_eq!(fake.deployment_reads("packages", "go-registry"), 3);
    let argv = std::fs::read_to_string(bin.join("argv.log")).unwrap();
    assert_eq!(
        argv,
        format!(
            "helmfile -f {} -l language=go sync\nhelm test package-go -n packages --timeout 1200s\n",
            file.display()
        )
    );
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("[packages:go-layer] ")
            && l.ends_with(" info | [packages:go-smoke] 2026-11-27T22:10:05Z fail consumer check")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[packages:go-layer] ") && l.ends_with(" info | second line")),
        "{err}"
    );
    assert!(err.contains("job packages/package-go-runner failed: BackoffLimitExceeded: Job has reached the specified backoff limit"), "{err}");
}

#[test]
fn fake_api_layer_succeeds_when_the_job_completes() {
    let fake = FakeApi::start();
    fake.add_deployment("packages", "go-registry", 0);
    fake.add_job(
        "packages",
        "package-go-runner",
        &[("app.kubernetes.io/instance", "package-go")],
        &[("Complete", "True", "", "")],
    );
    fake.add_pod(
        "packages",
        "package-go-runner-x1",
        &[("job-name", "package-go-runner")],
        Some(0),
        "all good\n",
    );
    let ws = Workspace::new();
    let bin = fake_tools(&ws);
    let file = layer_files(&ws);
    let mut cmd = ws.pkgrun(&fake);
    with_path(&mut cmd, &bin);
    let out = cmd.arg("layer").arg(&file).output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("[packages:go-layer] ") && l.ends_with(" info | all good")),
        "{err}"
    );
}

#[test]
fn fake_api_layer_registry_timeout_is_exit_5_before_helmfile_runs() {
    let fake = FakeApi::start();
    fake.add_deployment("packages", "go-registry", u32::MAX);
    let ws = Workspace::new();
    let bin = fake_tools(&ws);
    let file = layer_files(&ws);
    let mut cmd = ws.pkgrun(&fake);
    with_path(&mut cmd, &bin);
    let out = cmd
        .args(["layer", "--wait-timeout", "0.3", "--poll-interval", "0.05"])
        .arg(&file)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("timed out after 0.3s waiting for deployments packages/go-registry to become Available; last seen: Available=False"), "{err}");
    assert!(!bin.join("argv.log").exists(), "helmfile must not run");
}

#[test]
fn fake_api_layer_without_helmfile_on_path_is_exit_2() {
    let fake = FakeApi::start();
    let ws = Workspace::new();
    let file = layer_files(&ws);
    let out = ws
        .pkgrun(&fake)
        .env("PATH", ws.path().join("empty-bin"))
        .arg("layer")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("helmfile and helm not found on PATH"),
        "{}",
        text(&out.stderr)
    );
    assert!(fake.requests().is_empty());
}
