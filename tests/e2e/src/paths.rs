//! Where things are: the repository, the pinned tools directory and the workspace's binaries.

use std::path::{Path, PathBuf};

/// The repository root (two levels above this crate's manifest).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `$PKGRUN_TOOLS_DIR`, else `<repo>/.tools` (where `scripts/tools/install-*.sh` install).
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("PKGRUN_TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".tools"),
    }
}

/// A launcher in `<tools>/bin`. Panics with the fix when it is not installed, because a test
/// cannot do anything useful without its registry or toolchain.
pub fn tools_bin(name: &str) -> PathBuf {
    let path = tools_dir().join("bin").join(name);
    if !path.exists() {
        panic!(
            "pinned tool `{name}` not found at {}: run scripts/tools/install-all.sh first \
             (or set PKGRUN_TOOLS_DIR to where it installed them)",
            path.display()
        );
    }
    path
}

/// A binary of this Cargo workspace (`target/<profile>/<name>`), found next to the running
/// test executable the way `assert_cmd::cargo_bin` does, so it works with any
/// `CARGO_TARGET_DIR`. Panics with the fix when it has not been built: integration tests
/// only get binaries of their own package built automatically.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test-exe> -> target/<profile>
    let mut dir = exe
        .parent()
        .expect("test executable has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        panic!(
            "workspace binary `{name}` not found at {}: run `cargo build --workspace --bins` \
             (with the same CARGO_TARGET_DIR and profile) before the end-to-end tests",
            path.display()
        );
    }
    path
}

/// `<target dir>/tmp` (what Cargo gives integration tests as CARGO_TARGET_TMPDIR), found
/// from the running test executable so it works with any CARGO_TARGET_DIR; created if needed.
/// Scratch that must outlive one test but not the build tree goes here, not to /tmp.
pub fn target_tmp_dir() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test-exe> -> target
    let target = exe
        .ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join("tmp");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Directory names [`copy_tree`] skips: build output and local environments, never sources.
pub const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "dist",
    "tmp",
    ".venv",
    "__pycache__",
    "build",
    ".git",
];

/// Copies the directory tree `src` into `dst` (created), skipping [`SKIPPED_DIRS`] and
/// `*.egg-info`, so a test can work on (or break) a copy of `examples/monorepo` without
/// touching the workspace. Symlinks are not followed (the examples contain none).
pub fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if SKIPPED_DIRS.contains(&name_str.as_ref()) || name_str.ends_with(".egg-info") {
                continue;
            }
            copy_tree(&entry.path(), &dst.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), dst.join(&name))?;
        }
    }
    Ok(())
}

/// `<repo>/examples/monorepo`.
pub fn example_monorepo() -> PathBuf {
    repo_root().join("examples/monorepo")
}
