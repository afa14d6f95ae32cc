//! pkgrun with the chart's own RBAC, against the real kube-apiserver: the package-go chart is
//! installed with helm (ServiceAccount, Role on `go-packages-state` only, RoleBinding), a
//! token is minted for its ServiceAccount (TokenRequest, as the kubelet projects it into the
//! runner pod), and the `pkgrun` binary runs with a kubeconfig holding only that token and the
//! environment the chart's Job sets (PKGRUN_CONFIGMAP, PKGRUN_NAMESPACE):
//!
//! * `pkgrun run go` against the real go-registry writes its own state ConfigMap;
//! * `pkgrun state sync go` brings it back byte for byte (the round trip Tilt/CI rely on);
//! * any other ConfigMap or namespace is refused by the API server (403) and pkgrun fails
//!   with a clear message and exit 3 for a write, exit 2 for a read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::core::v1::ConfigMap;
use pkgrun_e2e::charts::ChartWorkspace;
use pkgrun_e2e::go::{pkgrun_with_go_env, GoRegistry, GoRegistryOptions};
use pkgrun_e2e::process::output;
use pkgrun_e2e::process::Run;
use pkgrun_e2e::KubeApiServer;

const MODULE: &str = "go.packages.dev.ameide.io/rbac-probe";
const STATE_CM: &str = "go-packages-state";

/// A one-module Go workspace and what pkgrun needs to run in it as the chart's runner.
struct Runner {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    kubeconfig: PathBuf,
    namespace: String,
    registry: GoRegistry,
}

impl Runner {
    fn new(server: &KubeApiServer) -> Result<Runner> {
        let namespace = server.namespace("rbac")?;
        let chart = ChartWorkspace::shared().chart_dir("package-go");
        let out = output(
            ChartWorkspace::shared()
                .helm_for(&server.admin_kubeconfig())
                .args(["install", "package-go"])
                .arg(&chart)
                .args(["-n", &namespace, "--set", "image.tag=dev"]),
        )?;
        ensure!(
            out.status.success(),
            "helm install: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let tmp = tempfile::tempdir()?;
        let root = tmp.path().join("ws");
        write(&root, "pkgrun.toml", &format!(
            "env_prefix = \"E2E\"\n\n[[go.packages]]\nname = \"{MODULE}\"\npath = \"probe\"\nstate_key = \"rbac-probe\"\nsmoke = [ {{ import = \"{MODULE}\", symbol = \"Name\" }} ]\n"
        ))?;
        write(
            &root,
            "probe/go.mod",
            &format!("module {MODULE}\n\ngo 1.22\n"),
        )?;
        write(
            &root,
            "probe/probe.go",
            "// Package probe is published by the RBAC test.\npackage probe\n\n// Name names it.\nconst Name = \"probe\"\n",
        )?;

        let kubeconfig = tmp.path().join("runner.kubeconfig");
        server.service_account_kubeconfig(&namespace, "package-go-runner", &kubeconfig)?;
        Ok(Runner {
            _tmp: tmp,
            root,
            kubeconfig,
            namespace,
            registry: GoRegistry::start(GoRegistryOptions::default())?,
        })
    }

    /// `pkgrun <args>` with the Go environment contract and the chart Job's Kubernetes
    /// environment (`extra` overrides).
    fn pkgrun(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<Run> {
        let mut cmd = pkgrun_with_go_env(&self.root, self.registry.url(), self.registry.token());
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("PKGRUN_CONFIGMAP", STATE_CM)
            .env("PKGRUN_NAMESPACE", &self.namespace);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().context("run pkgrun")?;
        Ok(Run::from(out))
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("tmp/tilt-packages")
    }

    fn state_files(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(self.state_dir())? {
            let entry = entry?;
            files.insert(
                entry.file_name().to_string_lossy().into_owned(),
                std::fs::read(entry.path())?,
            );
        }
        Ok(files)
    }
}

fn write(root: &Path, rel: &str, text: &str) -> Result<()> {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().context("parent")?)?;
    std::fs::write(path, text)?;
    Ok(())
}

fn configmap(server: &KubeApiServer, ns: &str, name: &str) -> Result<Option<ConfigMap>> {
    server.configmap(ns, name)
}

#[test]
fn the_runners_service_account_writes_its_state_configmap_and_nothing_else() -> Result<()> {
    let server = KubeApiServer::shared();
    let runner = Runner::new(server)?;
    let ns = runner.namespace.clone();

    // The whole job with the service account's token: its own ConfigMap is written.
    let run = runner.pkgrun(&["run", "go"], &[])?;
    ensure!(run.code == 0, "pkgrun run go:\n{run}");
    ensure!(
        run.stderr
            .contains(&format!("configmaps {ns}/{STATE_CM} created")),
        "{run}"
    );
    let local = runner.state_files()?;
    let cm = configmap(server, &ns, STATE_CM)?.context("the state ConfigMap")?;
    let data = cm.data.clone().unwrap_or_default();
    ensure!(
        data.keys().collect::<Vec<_>>() == ["go-version", "rbac-probe.json"],
        "{:?}",
        data.keys()
    );
    ensure!(
        data["rbac-probe.json"].as_bytes() == local["rbac-probe.json"].as_slice(),
        "the ConfigMap holds the state file byte for byte"
    );
    ensure!(data["go-version"].as_bytes() == local["go-version"].as_slice());
    let managers: Vec<_> = cm
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    ensure!(managers == ["pkgrun"], "{managers:?}");

    // Any other ConfigMap: the API server refuses the service account, pkgrun exits 3.
    let other = runner.pkgrun(&["smoke", "go"], &[("PKGRUN_CONFIGMAP", "other-state")])?;
    ensure!(other.code == 3, "another ConfigMap:\n{other}");
    ensure!(
        other.stderr.contains(&format!(
            "refused to get configmaps {ns}/other-state (403 Forbidden"
        )) && other
            .stderr
            .contains(&format!("system:serviceaccount:{ns}:package-go-runner")),
        "a clear 403 naming ConfigMap, namespace and identity:\n{other}"
    );
    ensure!(
        other
            .stderr
            .contains("hint: grant the service account a Role with verb `get`"),
        "{other}"
    );
    ensure!(configmap(server, &ns, "other-state")?.is_none());

    // Its own ConfigMap's name in another namespace: refused too.
    let elsewhere = runner.pkgrun(&["smoke", "go"], &[("PKGRUN_NAMESPACE", "default")])?;
    ensure!(elsewhere.code == 3, "another namespace:\n{elsewhere}");
    ensure!(
        elsewhere
            .stderr
            .contains(&format!("configmaps default/{STATE_CM} (403 Forbidden")),
        "{elsewhere}"
    );
    ensure!(configmap(server, "default", STATE_CM)?.is_none());

    // The failed runs left the state ConfigMap as the good run wrote it.
    let after = configmap(server, &ns, STATE_CM)?.context("still there")?;
    ensure!(
        after.data == cm.data && after.metadata.resource_version == cm.metadata.resource_version
    );

    // The token reaches no output.
    let kubeconfig = std::fs::read_to_string(&runner.kubeconfig)?;
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .context("token in kubeconfig")?;
    for text in [&run.stderr, &run.stdout, &other.stderr, &elsewhere.stderr] {
        ensure!(!text.contains(token), "the token leaked into output");
    }
    Ok(())
}

#[test]
fn state_sync_with_the_runners_token_brings_the_configmap_back_byte_for_byte() -> Result<()> {
    let server = KubeApiServer::shared();
    let runner = Runner::new(server)?;
    let run = runner.pkgrun(&["run", "go"], &[])?;
    ensure!(run.code == 0, "pkgrun run go:\n{run}");
    let written = runner.state_files()?;

    // A fresh checkout's view: the state directory emptied (kept: it is a mount in the
    // cluster), then synced from the ConfigMap.
    let clean = runner.pkgrun(&["state", "clean"], &[])?;
    ensure!(clean.code == 0, "{clean}");
    ensure!(runner.state_files()?.is_empty() && runner.state_dir().is_dir());
    let sync = runner.pkgrun(&["state", "sync", "go"], &[("PKGRUN_CONFIGMAP", "")])?;
    ensure!(sync.code == 0, "pkgrun state sync go:\n{sync}");
    ensure!(
        runner.state_files()? == written,
        "synced files differ from the run's"
    );
    let version = String::from_utf8(written["go-version"].clone())?;
    ensure!(sync.stdout == format!("rbac-probe {}", version), "{sync}");
    let env = runner.pkgrun(&["env", "--format", "dotenv", "go"], &[])?;
    ensure!(
        env.stdout == format!("E2E_GO_SDK_VERSION={version}"),
        "{env}"
    );

    // A language whose ConfigMap the Role does not cover: a read refused is exit 2.
    let denied = runner.pkgrun(
        &["state", "sync", "go"],
        &[("PKGRUN_CONFIGMAP", "python-packages-state")],
    )?;
    ensure!(denied.code == 2, "{denied}");
    ensure!(
        denied.stderr.contains(&format!(
            "refused to get configmaps {}/python-packages-state (403 Forbidden",
            runner.namespace
        )),
        "{denied}"
    );
    ensure!(
        runner.state_files()? == written,
        "a refused sync writes nothing"
    );
    Ok(())
}

/// The chart's split, as its pod runs it: the runner (init container) has no token and no
/// ConfigMap setting — `pkgrun run go` writes only the state directory; then `pkgrun state
/// push go` with the service account's token (what the state-push container's projected
/// token holds) writes the ConfigMap byte for byte.
#[test]
fn a_runner_without_a_token_then_state_push_with_it_writes_the_configmap() -> Result<()> {
    let server = KubeApiServer::shared();
    let runner = Runner::new(server)?;
    let ns = runner.namespace.clone();
    let no_kubeconfig = runner.root.join("no-kubeconfig");
    let run = {
        let mut cmd =
            pkgrun_with_go_env(&runner.root, runner.registry.url(), runner.registry.token());
        cmd.args(["run", "go"])
            .env("KUBECONFIG", &no_kubeconfig)
            .env_remove("PKGRUN_CONFIGMAP")
            .env_remove("PKGRUN_NAMESPACE");
        Run::from(cmd.output()?)
    };
    ensure!(run.code == 0, "pkgrun run go without a token:\n{run}");
    ensure!(
        configmap(server, &ns, STATE_CM)?.is_none(),
        "the runner wrote a ConfigMap"
    );

    let push = runner.pkgrun(&["state", "push", "go"], &[])?;
    ensure!(push.code == 0, "pkgrun state push go:\n{push}");
    let local = runner.state_files()?;
    let data = configmap(server, &ns, STATE_CM)?
        .context("the state ConfigMap")?
        .data
        .unwrap_or_default();
    ensure!(
        data.len() == local.len(),
        "{:?} vs {:?}",
        data.keys(),
        local.keys()
    );
    for (key, bytes) in &local {
        ensure!(
            data.get(key).map(|v| v.as_bytes()) == Some(bytes.as_slice()),
            "{key} differs"
        );
    }
    Ok(())
}
