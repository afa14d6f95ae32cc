//! The suites' shared view of a workspace: a throwaway copy of `examples/monorepo`, a
//! digest of a tree (to prove pkgrun never wrote to the workspace), and one `pkgrun`
//! command per language with that language's environment contract (Go's is
//! [`crate::go::pkgrun_with_go_env`]).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Result};
use sha2::{Digest, Sha256};

use crate::devpi::Devpi;
use crate::paths::{copy_tree, example_monorepo, tools_dir, workspace_bin};

/// A copy of the example monorepo at `<tmp>/monorepo` in a fresh temp dir.
pub fn example_copy() -> Result<(tempfile::TempDir, PathBuf)> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("monorepo");
    copy_tree(&example_monorepo(), &root)?;
    Ok((tmp, root))
}

/// [`example_copy`] without the example's `upstream_probe`s (they name a public module, npm
/// package and PyPI project), for suites whose runs must send nothing beyond loopback.
pub fn example_copy_offline() -> Result<(tempfile::TempDir, PathBuf)> {
    let (tmp, root) = example_copy()?;
    let config = root.join("pkgrun.toml");
    let text = std::fs::read_to_string(&config)?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("upstream_probe"))
        .collect();
    ensure!(kept.len() + 3 == text.lines().count(), "{text}");
    std::fs::write(&config, kept.join("\n") + "\n")?;
    Ok((tmp, root))
}

/// Every path under `root` → its mode and (for files) the sha256 of its content, except
/// the top-level `tmp/` (the state directory `tmp/tilt-packages`, which pkgrun writes).
/// Compare two of them to prove a run left the workspace byte for byte as it was.
pub fn tree_digest(root: &Path) -> Result<BTreeMap<String, String>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) -> Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
            if rel == "tmp" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path)?;
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                out.insert(format!("{rel}/"), format!("{mode:o}"));
                walk(&path, root, out)?;
            } else {
                let bytes = std::fs::read(&path)?;
                out.insert(
                    rel,
                    format!("{mode:o} {}", hex::encode(Sha256::digest(&bytes))),
                );
            }
        }
        Ok(())
    }
    let mut files = BTreeMap::new();
    walk(root, root, &mut files)?;
    ensure!(!files.is_empty(), "empty tree {}", root.display());
    Ok(files)
}

/// `PATH` with the pinned tools first.
pub fn tools_path() -> String {
    format!(
        "{}:{}",
        tools_dir().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The workspace's `pkgrun` in `root` with the Python environment contract of `devpi`
/// (upload URL, user, password, simple index), `SOURCE_GIT_SHA` = `sha`, no colour, and
/// nothing of the caller's environment that would change the run.
pub fn pkgrun_with_python_env(root: &Path, devpi: &Devpi, sha: &str) -> Command {
    let mut cmd = Command::new(workspace_bin("pkgrun"));
    cmd.current_dir(root)
        .env("PATH", tools_path())
        .env("SOURCE_GIT_SHA", sha)
        .env("AMEIDE_PYPI_REPOSITORY_URL", devpi.upload_url())
        .env("AMEIDE_PYPI_USERNAME", devpi.username())
        .env("AMEIDE_PYPI_PASSWORD", devpi.password())
        .env("PIP_INDEX_URL", devpi.simple_url())
        .env("NO_COLOR", "1")
        .env_remove("VERBOSE")
        .env_remove("AMEIDE_PYTHON_SDK_VERSION")
        .env_remove("SOURCE_DATE_EPOCH");
    cmd
}

/// The workspace's `pkgrun` in `root` for the TypeScript suites, with its own `HOME`
/// (npm's caches), no colour, and none of the ts contract's variables from the caller's
/// environment: the test sets `NPM_REGISTRY_URL`, `NPM_AUTH_TOKEN` and `SOURCE_GIT_SHA`
/// itself, since some tests leave one out or make it wrong.
pub fn pkgrun_with_ts_env(root: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(workspace_bin("pkgrun"));
    cmd.current_dir(root)
        .env("PATH", tools_path())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("VERBOSE")
        .env_remove("AMEIDE_TS_SDK_VERSION")
        .env_remove("NPM_REGISTRY_URL")
        .env_remove("NPM_AUTH_TOKEN")
        .env_remove("SOURCE_GIT_SHA");
    cmd
}
