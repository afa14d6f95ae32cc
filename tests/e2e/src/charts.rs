//! A scratch copy of the repository's `deploy/` for the suites that use the charts
//! (tests/charts.rs renders them, tests/kube_*.rs install them into the test
//! kube-apiserver): every application chart's dependency on the library chart built with
//! the pinned helm (`helm dependency build`, offline: a file:// dependency), and helm's own
//! directories (cache, config, data) inside it, so nothing of this machine's helm setup is
//! read or written and no generated file (`charts/*.tgz`, `Chart.lock`) lands in the
//! repository.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{ensure, Context, Result};

use crate::paths::{copy_tree, repo_root, target_tmp_dir, tools_bin};
use crate::process::ok;

/// The application charts and the language each one runs.
pub const CHARTS: &[(&str, &str)] = &[
    ("package-go", "go"),
    ("package-python", "python"),
    ("package-ts", "ts"),
];

/// The prepared copy of `deploy/`.
pub struct ChartWorkspace {
    pub deploy: PathBuf,
    helm_home: PathBuf,
}

impl ChartWorkspace {
    /// The copy of this test process, prepared on first use.
    pub fn shared() -> &'static ChartWorkspace {
        static WS: OnceLock<ChartWorkspace> = OnceLock::new();
        WS.get_or_init(|| {
            prepare().unwrap_or_else(|e| panic!("prepare the chart workspace: {e:#}"))
        })
    }

    /// `<copy>/charts/<chart>`.
    pub fn chart_dir(&self, chart: &str) -> PathBuf {
        self.deploy.join("charts").join(chart)
    }

    /// helm's directories in this copy, as environment variables (for a command such as
    /// `pkgrun layer` that runs helm itself).
    pub fn helm_homes(&self) -> [(&'static str, PathBuf); 3] {
        [
            ("HELM_CACHE_HOME", self.helm_home.join("cache")),
            ("HELM_CONFIG_HOME", self.helm_home.join("config")),
            ("HELM_DATA_HOME", self.helm_home.join("data")),
        ]
    }

    /// The pinned helm with this copy's helm directories and no cluster (KUBECONFIG unset).
    pub fn helm(&self) -> Command {
        let mut cmd = Command::new(tools_bin("helm"));
        cmd.envs(self.helm_homes())
            .env_remove("KUBECONFIG")
            .env("NO_COLOR", "1");
        cmd
    }

    /// The same helm talking to the cluster of `kubeconfig`.
    pub fn helm_for(&self, kubeconfig: &Path) -> Command {
        let mut cmd = self.helm();
        cmd.env("KUBECONFIG", kubeconfig);
        cmd
    }
}

fn prepare() -> Result<ChartWorkspace> {
    // One directory per test process (statics are never dropped, so a TempDir would
    // leak); directories of processes that no longer run are removed here.
    let base = target_tmp_dir()?;
    for entry in std::fs::read_dir(&base)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("charts-suite-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let root = base.join(format!("charts-suite-{}", std::process::id()));
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("clear {}", root.display()))?;
    }
    let deploy = root.join("deploy");
    copy_tree(&repo_root().join("deploy"), &deploy)?;
    // A clean copy: generated files a developer's helm left in the repo must not mask a
    // dependency that no longer builds.
    for (chart, _) in CHARTS {
        let dir = deploy.join("charts").join(chart);
        let _ = std::fs::remove_dir_all(dir.join("charts"));
        let _ = std::fs::remove_file(dir.join("Chart.lock"));
    }
    let ws = ChartWorkspace {
        deploy,
        helm_home: root.join("helm-home"),
    };
    for (chart, _) in CHARTS {
        let dir = ws.chart_dir(chart);
        ok(ws.helm().arg("dependency").arg("build").arg(&dir))?;
        ensure!(
            dir.join("charts/package-runner-0.1.0.tgz").is_file(),
            "helm dependency build did not vendor the library chart into {}",
            dir.display()
        );
    }
    Ok(ws)
}
