//! `pkgrun health` as the real binary: against the real go-registry, devpi and Verdaccio
//! on loopback (each answering its own kind of health request), state documents of the
//! example monorepo's packages, and the real kube-apiserver for `--cluster` drift.
//!
//! The state documents are written by the test (health only reads them; how a publish
//! writes them is proven by the runner suites), so each unhealthy shape can be made on
//! purpose: a failed smoke, a stale commit, a missing document, a drifted ConfigMap.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use assert_cmd::Command;
use pkgrun_core::state::{SmokeStatus, StateStore};
use pkgrun_core::Config;
use pkgrun_e2e::go::{GoRegistry, GoRegistryOptions};
use pkgrun_e2e::{
    copy_tree, example_monorepo, state_document, workspace_bin, Devpi, KubeApiServer, Verdaccio,
};
use pkgrun_kube::configmap::state_data;
use pkgrun_kube::ConfigMapSink;
use serde_json::Value;

/// The sha [`state_document`] records.
const SHA: &str = "0123456789ab";

struct Workspace {
    dir: tempfile::TempDir,
    config: Config,
}

impl Workspace {
    /// A copy of examples/monorepo with a passed, current state document per package.
    fn with_healthy_state() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        copy_tree(&example_monorepo(), dir.path())?;
        let config = Config::load(&dir.path().join("pkgrun.toml"))?;
        let ws = Workspace { dir, config };
        let store = ws.store();
        for p in ws.config.packages() {
            store.write_document(&state_document(
                p.lang.as_str(),
                &p.state_key,
                &p.name,
                "1.0.0",
            ))?;
        }
        Ok(ws)
    }

    fn store(&self) -> StateStore {
        StateStore::new(self.config.state_dir())
    }

    fn edit(
        &self,
        state_key: &str,
        edit: impl FnOnce(&mut pkgrun_core::state::StateDocument),
    ) -> Result<()> {
        let store = self.store();
        let mut doc = store.read_document(state_key)?.context("document exists")?;
        edit(&mut doc);
        store.write_document(&doc)?;
        Ok(())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `pkgrun health` with a clean environment holding only what health reads.
    fn health(&self, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(workspace_bin("pkgrun"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("SOURCE_GIT_SHA", SHA)
            .envs(env.iter().copied())
            .current_dir(self.path())
            .arg("health");
        cmd
    }
}

struct Registries {
    go: GoRegistry,
    devpi: Devpi,
    verdaccio: Verdaccio,
}

impl Registries {
    fn start() -> Result<Self> {
        Ok(Registries {
            go: GoRegistry::start(GoRegistryOptions::default())?,
            devpi: Devpi::start()?,
            verdaccio: Verdaccio::start()?,
        })
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GO_REGISTRY_URL", self.go.url().to_string()),
            ("AMEIDE_PYPI_REPOSITORY_URL", self.devpi.upload_url()),
            ("NPM_REGISTRY_URL", self.verdaccio.url()),
        ]
    }
}

fn run(cmd: &mut Command) -> (i32, Value, String) {
    let out = cmd.arg("--json").output().expect("pkgrun runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr:\n{stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn registry<'a>(report: &'a Value, lang: &str) -> &'a Value {
    report["registries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["language"] == lang)
        .unwrap_or_else(|| panic!("no {lang} registry in {report}"))
}

fn unhealthy_keys(report: &Value) -> Vec<String> {
    report["state"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["problems"].as_array().unwrap().is_empty())
        .map(|p| p["state_key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn health_reads_the_real_registries_and_judges_each_state_document() -> Result<()> {
    let mut registries = Registries::start()?;
    let ws = Workspace::with_healthy_state()?;
    let env = registries.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Healthy: each registry answered its own kind of request, every document is fine.
    let (code, report, stderr) = run(&mut ws.health(&env));
    ensure!(
        code == 0,
        "healthy workspace exited {code}:\n{stderr}\n{report:#}"
    );
    assert_eq!(report["healthy"], true);
    assert!(registry(&report, "go")["detail"]
        .as_str()
        .unwrap()
        .contains("/healthz"));
    assert!(registry(&report, "python")["detail"]
        .as_str()
        .unwrap()
        .contains("apiconfig"));
    assert!(registry(&report, "ts")["detail"]
        .as_str()
        .unwrap()
        .contains("-/ping"));
    assert_eq!(
        report["state"].as_array().unwrap().len(),
        ws.config.packages().count()
    );
    assert!(report["state"][0]["age_seconds"].as_i64().unwrap() > 0);

    // The table form says the same on stdout.
    let table = ws.health(&env).output()?;
    let table_text = String::from_utf8_lossy(&table.stdout);
    assert!(table_text.contains("registry  go      ok"), "{table_text}");

    // A failed smoke and a stale commit: exit 4, naming exactly those packages.
    let keys: Vec<String> = ws.config.packages().map(|p| p.state_key.clone()).collect();
    ws.edit(&keys[0], |d| d.smoke.status = SmokeStatus::Failed)?;
    ws.edit(&keys[1], |d| d.git_sha = "fedcba987654".into())?;
    let (code, report, stderr) = run(&mut ws.health(&env));
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(
        unhealthy_keys(&report),
        vec![keys[0].clone(), keys[1].clone()]
    );
    assert!(
        stderr.contains(&format!("{}: smoke failed", keys[0])),
        "{stderr}"
    );
    assert!(
        stderr.contains("stale: published from fedcba987654, the current commit is 0123456789ab"),
        "{stderr}"
    );

    // A missing document is unhealthy too, with the command that makes one.
    std::fs::remove_file(ws.store().document_path(&keys[2]))?;
    let (code, report, stderr) = run(&mut ws.health(&env));
    assert_eq!(code, 4);
    assert!(unhealthy_keys(&report).contains(&keys[2]));
    assert!(
        stderr.contains("no state document: run `pkgrun run"),
        "{stderr}"
    );

    // A URL that points at a registry of another kind is not healthy: Verdaccio has no +api.
    let wrong_kind: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| {
            if k == "AMEIDE_PYPI_REPOSITORY_URL" {
                (k, env[2].1)
            } else {
                (k, v)
            }
        })
        .collect();
    let (code, report, _) = run(ws.health(&wrong_kind).arg("python"));
    assert_eq!(code, 5);
    assert_eq!(registry(&report, "python")["status"], "unexpected");

    // Verdaccio stopped: exit 5 (wins over the state's 4), naming the ts registry only.
    registries.verdaccio.stop();
    let (code, report, stderr) = run(ws.health(&env).args(["--attempts", "1"]));
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(registry(&report, "ts")["status"], "unreachable");
    assert_eq!(registry(&report, "go")["status"], "ok");
    assert_eq!(registry(&report, "python")["status"], "ok");
    assert!(
        stderr.contains("ts registry npm registry (Verdaccio)"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn health_names_every_missing_registry_variable_at_once() -> Result<()> {
    let ws = Workspace::with_healthy_state()?;
    let out = ws.health(&[]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for var in [
        "GO_REGISTRY_URL",
        "AMEIDE_PYPI_REPOSITORY_URL",
        "NPM_REGISTRY_URL",
    ] {
        assert!(stderr.contains(var), "{var} not named:\n{stderr}");
    }
    assert!(out.stdout.is_empty());
    Ok(())
}

#[test]
fn health_cluster_reports_drift_from_the_real_configmaps() -> Result<()> {
    let server = KubeApiServer::shared();
    let namespace = server.namespace("health")?;
    let go = GoRegistry::start(GoRegistryOptions::default())?;
    let ws = Workspace::with_healthy_state()?;
    let kube = server.admin_kube()?;
    let go_docs: Vec<_> = ws
        .config
        .packages()
        .filter(|p| p.lang == pkgrun_core::Lang::Go)
        .map(|p| ws.store().read_document(&p.state_key).unwrap().unwrap())
        .collect();
    let apply = |docs: &[pkgrun_core::state::StateDocument]| {
        ConfigMapSink::new(&namespace, "go-packages-state")
            .apply(
                &kube,
                &state_data(pkgrun_core::Lang::Go, docs, Some("1.0.0")),
            )
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!(e.to_string()))
    };
    apply(&go_docs)?;
    let kubeconfig = server.admin_kubeconfig();
    let env = [
        ("GO_REGISTRY_URL", go.url()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
        ("PKGRUN_NAMESPACE", namespace.as_str()),
    ];

    let (code, report, stderr) = run(ws.health(&env).args(["--cluster", "go"]));
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(report["cluster"][0]["in_sync"], true);
    assert_eq!(report["cluster"][0]["configmap"], "go-packages-state");

    // The cluster moved on (another runner published): drift, exit 4, naming the key.
    let mut moved = go_docs.clone();
    moved[0].version = "2.0.0".into();
    apply(&moved)?;
    let (code, report, stderr) = run(ws.health(&env).args(["--cluster", "go"]));
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(report["cluster"][0]["in_sync"], false);
    let diff = report["cluster"][0]["differences"][0].as_str().unwrap();
    assert!(
        diff.contains(&go_docs[0].state_key) && diff.contains("cluster 2.0.0"),
        "{diff}"
    );
    assert!(stderr.contains("drift from configmaps"), "{stderr}");

    // No ConfigMap at all for the language is drift as well.
    let other = server.namespace("health-empty")?;
    let env_other = [env[0], env[1], ("PKGRUN_NAMESPACE", other.as_str())];
    let (code, report, _) = run(ws.health(&env_other).args(["--cluster", "go"]));
    assert_eq!(code, 4);
    assert!(report["cluster"][0]["differences"][0]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    Ok(())
}
