//! `pkgrun state sync` and the pipeline's ConfigMap sink as the real binary against the real
//! kube-apiserver (admin kubeconfig, a namespace per test): documents written by pkgrun's
//! sink come back byte for byte, `--prune` removes only what it should, one bad document
//! means nothing is written, a missing ConfigMap or missing credentials are clear exit 2s,
//! and the sink writes nothing when smoke did not pass.
//! (With the chart's RBAC and a real `pkgrun run`: tests/kube_rbac.rs.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use assert_cmd::Command;
use k8s_openapi::api::core::v1::ConfigMap;
use pkgrun_core::state::StateDocument;
use pkgrun_core::Lang;
use pkgrun_e2e::{state_document, state_file_text, workspace_bin, KubeApiServer};
use pkgrun_kube::configmap::state_data;
use pkgrun_kube::ConfigMapSink;

const GO_V: &str = "v0.0.0-20261127221005-0123456789ab";
const TS_V: &str = "1.2.0-dev.20261127221005.0123456789ab";

struct Workspace {
    dir: tempfile::TempDir,
    namespace: String,
}

impl Workspace {
    fn new(server: &KubeApiServer) -> Result<Self> {
        let ws = Workspace {
            dir: tempfile::tempdir()?,
            namespace: server.namespace("sync")?,
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
        Ok(ws)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `pkgrun` in the workspace with a clean environment, the admin kubeconfig and this
    /// test's namespace.
    fn pkgrun(&self, server: &KubeApiServer) -> Command {
        let mut cmd = Command::new(workspace_bin("pkgrun"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("KUBECONFIG", server.admin_kubeconfig())
            .env("PKGRUN_NAMESPACE", &self.namespace)
            .current_dir(self.path());
        cmd
    }

    fn state(&self) -> PathBuf {
        self.path().join("out/state")
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

fn document(lang: &str, state_key: &str, package: &str, version: &str) -> StateDocument {
    state_document(lang, state_key, package, version)
}

fn file_text(doc: &StateDocument) -> String {
    state_file_text(doc)
}

fn go_doc() -> StateDocument {
    document("go", "sdk-go", "example.com/acme/sdk", GO_V)
}

fn ts_doc() -> StateDocument {
    document("ts", "sdk-ts", "@acme/sdk-ts", TS_V)
}

/// Both languages' state ConfigMaps, written by pkgrun's own sink.
fn seed(server: &KubeApiServer, ns: &str) -> Result<()> {
    let kube = server.admin_kube()?;
    ConfigMapSink::new(ns, "go-packages-state")
        .apply(&kube, &state_data(Lang::Go, &[go_doc()], Some(GO_V)))?;
    ConfigMapSink::new(ns, "ts-packages-state")
        .apply(&kube, &state_data(Lang::Ts, &[ts_doc()], Some(TS_V)))?;
    Ok(())
}

fn configmap(server: &KubeApiServer, ns: &str, name: &str) -> Result<Option<ConfigMap>> {
    server.configmap(ns, name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn state_sync_round_trip() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    seed(server, &ws.namespace)?;
    let before = configmap(server, &ws.namespace, "go-packages-state")?;
    let out = ws.pkgrun(server).args(["state", "sync"]).output()?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let files = ws.files();
    ensure!(
        files["sdk-go.json"] == file_text(&go_doc()),
        "byte for byte"
    );
    ensure!(files["go-version"] == format!("{GO_V}\n"));
    ensure!(files["sdk-ts.json"] == file_text(&ts_doc()));
    ensure!(files["ts-version"] == format!("{TS_V}\n"));
    ensure!(text(&out.stdout) == format!("sdk-go {GO_V}\nsdk-ts {TS_V}\n"));
    ensure!(text(&out.stderr).contains("[packages:go-state]"));
    // `pkgrun env` reads what sync wrote.
    let env = ws
        .pkgrun(server)
        .args(["env", "--format", "dotenv", "go"])
        .output()?;
    ensure!(text(&env.stdout) == format!("AMEIDE_GO_SDK_VERSION={GO_V}\n"));
    // Sync only reads.
    let after = configmap(server, &ws.namespace, "go-packages-state")?;
    ensure!(
        before.and_then(|c| c.metadata.resource_version)
            == after.and_then(|c| c.metadata.resource_version)
    );
    Ok(())
}

#[test]
fn state_sync_prunes_only_when_asked() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    seed(server, &ws.namespace)?;
    ws.write(
        "out/state/old-go.json",
        &file_text(&document("go", "old-go", "example.com/acme/old", GO_V)),
    );
    ws.write(
        "out/state/keep-ts.json",
        &file_text(&document("ts", "keep-ts", "@acme/keep", TS_V)),
    );
    ws.write("out/state/notes.json", "not a state document");
    let out = ws.pkgrun(server).args(["state", "sync", "go"]).output()?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    ensure!(
        ws.files().contains_key("old-go.json"),
        "kept without --prune"
    );
    let out = ws
        .pkgrun(server)
        .args(["state", "sync", "--prune", "go"])
        .output()?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let files = ws.files();
    ensure!(
        !files.contains_key("old-go.json"),
        "pruned: {:?}",
        files.keys()
    );
    ensure!(
        files.contains_key("keep-ts.json"),
        "another language's document stays"
    );
    ensure!(
        files.contains_key("notes.json"),
        "a file that is not a document stays"
    );
    ensure!(files.contains_key("sdk-go.json"));
    ensure!(
        text(&out.stderr).contains("pruned old-go.json"),
        "{}",
        text(&out.stderr)
    );
    Ok(())
}

#[test]
fn state_sync_writes_nothing_when_one_document_is_bad() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    seed(server, &ws.namespace)?;
    // Another tool adds a broken document to the ts ConfigMap (read second).
    server.edit_configmap(
        &ws.namespace,
        "ts-packages-state",
        "kubectl-edit",
        &[("broken.json", "{\"schema\": \"pkgrun.state/v1\"}")],
    )?;
    ws.write("out/state/go-version", "v0.0.0-old\n");
    let out = ws.pkgrun(server).args(["state", "sync"]).output()?;
    ensure!(out.status.code() == Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    ensure!(
        err.contains(&format!(
            "key broken.json of configmaps {}/ts-packages-state",
            ws.namespace
        )),
        "{err}"
    );
    ensure!(
        err.contains("hint: remove the key broken.json from configmaps"),
        "the hint says what to do: {err}"
    );
    let files = ws.files();
    ensure!(
        files.len() == 1,
        "nothing written, not even go's: {:?}",
        files.keys()
    );
    ensure!(files["go-version"] == "v0.0.0-old\n");
    Ok(())
}

#[test]
fn state_sync_of_a_missing_configmap_or_without_credentials_is_exit_2() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    let out = ws
        .pkgrun(server)
        .env("PKGRUN_CONFIGMAP", "{lang}-elsewhere")
        .args(["state", "sync", "go"])
        .output()?;
    ensure!(out.status.code() == Some(2));
    ensure!(
        text(&out.stderr).contains(&format!(
            "configmaps {}/go-elsewhere does not exist",
            ws.namespace
        )),
        "{}",
        text(&out.stderr)
    );
    let out = ws
        .pkgrun(server)
        .env("KUBECONFIG", ws.path().join("no-such-kubeconfig"))
        .args(["state", "sync", "go"])
        .output()?;
    ensure!(out.status.code() == Some(2));
    ensure!(
        text(&out.stderr).contains("no Kubernetes credentials"),
        "{}",
        text(&out.stderr)
    );
    ensure!(ws.files().is_empty());
    Ok(())
}

#[test]
fn the_sink_refuses_one_name_for_two_languages_before_anything() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    let out = ws
        .pkgrun(server)
        .env("PKGRUN_CONFIGMAP", "shared-state")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:9")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com")
        .env("NPM_REGISTRY_URL", "http://127.0.0.1:9")
        .env("NPM_AUTH_TOKEN", "t")
        .args(["smoke", "go", "ts"])
        .output()?;
    ensure!(out.status.code() == Some(2), "{}", text(&out.stderr));
    ensure!(
        text(&out.stderr).contains("names one ConfigMap for 2 languages"),
        "{}",
        text(&out.stderr)
    );
    ensure!(configmap(server, &ws.namespace, "shared-state")?.is_none());
    Ok(())
}

/// `config check --env` checks the sink as `pkgrun run` does before touching anything, so
/// "environment complete" means a run would not stop at the sink.
#[test]
fn config_check_env_checks_the_sink_like_a_run_would() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    let check = |configmap: &str, kubeconfig: Option<&Path>| {
        let mut cmd = ws.pkgrun(server);
        cmd.env("PKGRUN_CONFIGMAP", configmap)
            .env("SOURCE_GIT_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("GO_REGISTRY_URL", "http://127.0.0.1:9")
            .env("GO_REGISTRY_TOKEN", "t")
            .env("GONOSUMDB", "example.com")
            .env("NPM_REGISTRY_URL", "http://127.0.0.1:9")
            .env("NPM_AUTH_TOKEN", "t")
            .args(["config", "check", "--env"]);
        if let Some(path) = kubeconfig {
            cmd.env("KUBECONFIG", path);
        }
        cmd.output()
    };
    let out = check("{lang}-packages-state", None)?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let ns = &ws.namespace;
    ensure!(
        text(&out.stdout).contains(&format!(
            "state sink go → configmaps {ns}/go-packages-state, ts → configmaps {ns}/ts-packages-state"
        )),
        "{}",
        text(&out.stdout)
    );
    let out = check(
        "{lang}-packages-state",
        Some(&ws.path().join("no-such-kubeconfig")),
    )?;
    ensure!(out.status.code() == Some(2), "{}", text(&out.stderr));
    ensure!(
        text(&out.stderr).contains("no Kubernetes credentials"),
        "{}",
        text(&out.stderr)
    );
    let out = check("shared-state", None)?;
    ensure!(out.status.code() == Some(2), "{}", text(&out.stderr));
    ensure!(
        text(&out.stderr).contains("names one ConfigMap for 2 languages"),
        "{}",
        text(&out.stderr)
    );
    ensure!(out.stdout.is_empty(), "nothing printed before the error");
    Ok(())
}

#[test]
fn the_sink_writes_nothing_when_smoke_does_not_pass() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    ws.write("out/state/sdk-go.json", &file_text(&go_doc()));
    // Nothing listens on port 9: smoke cannot pass.
    let out = ws
        .pkgrun(server)
        .env("PKGRUN_CONFIGMAP", "go-packages-state")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:9")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com")
        .args(["smoke", "go"])
        .output()?;
    ensure!(!out.status.success());
    let err = text(&out.stderr);
    ensure!(
        err.contains(&format!(
            "configmaps {}/go-packages-state not written: smoke did not pass",
            ws.namespace
        )),
        "{err}"
    );
    ensure!(configmap(server, &ws.namespace, "go-packages-state")?.is_none());
    Ok(())
}

/// `state push`: the state directory's documents reach the ConfigMap exactly as the sink
/// writes them, and `state sync` into an empty workspace brings them back byte for byte.
#[test]
fn state_push_applies_the_local_state_and_sync_brings_it_back() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    ws.write("out/state/sdk-go.json", &file_text(&go_doc()));
    ws.write("out/state/go-version", &format!("{GO_V}\n"));
    let out = ws.pkgrun(server).args(["state", "push", "go"]).output()?;
    ensure!(out.status.success(), "{}", text(&out.stderr));
    let stored = configmap(server, &ws.namespace, "go-packages-state")?
        .and_then(|c| c.data)
        .unwrap_or_default();
    let expected = state_data(Lang::Go, &[go_doc()], Some(GO_V));
    ensure!(
        stored == expected,
        "ConfigMap data {stored:?} is not the sink's {expected:?}"
    );

    // A second workspace with the same configuration, reading the same namespace.
    let mut other = Workspace::new(server)?;
    other.namespace = ws.namespace.clone();
    let sync = other
        .pkgrun(server)
        .args(["state", "sync", "go"])
        .output()?;
    ensure!(sync.status.success(), "{}", text(&sync.stderr));
    ensure!(other.files() == ws.files(), "byte for byte");
    Ok(())
}

/// A state that did not pass smoke (or a missing document) is not pushed: exit 4, the
/// ConfigMap keeps its previous content, and the message names what is wrong.
#[test]
fn state_push_of_an_unpassed_or_incomplete_state_writes_nothing() -> Result<()> {
    let server = KubeApiServer::shared();
    let ws = Workspace::new(server)?;
    seed(server, &ws.namespace)?;
    let before = configmap(server, &ws.namespace, "go-packages-state")?;
    let mut failed = go_doc();
    failed.version = "v0.0.0-20261202000000-0123456789ab".into();
    failed.smoke.status = pkgrun_core::state::SmokeStatus::Failed;
    ws.write("out/state/sdk-go.json", &file_text(&failed));
    let out = ws.pkgrun(server).args(["state", "push", "go"]).output()?;
    ensure!(out.status.code() == Some(4), "{}", text(&out.stderr));
    ensure!(
        text(&out.stderr).contains("not pushing the go state")
            && text(&out.stderr).contains("sdk-go: smoke failed"),
        "{}",
        text(&out.stderr)
    );
    // Incomplete: the ts package has no document at all (and go's failed): nothing for
    // either language, though the go ConfigMap exists.
    let out = ws.pkgrun(server).args(["state", "push"]).output()?;
    ensure!(out.status.code() == Some(4), "{}", text(&out.stderr));
    ensure!(
        text(&out.stderr).contains("sdk-go"),
        "{}",
        text(&out.stderr)
    );
    let after = configmap(server, &ws.namespace, "go-packages-state")?;
    ensure!(
        before.map(|c| (c.data, c.metadata.resource_version))
            == after.map(|c| (c.data, c.metadata.resource_version))
    );
    Ok(())
}
