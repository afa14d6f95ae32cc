//! Throwaway copies of package directories.
//!
//! Publishing never touches the workspace (Tilt watches it, and a half-stamped
//! manifest left behind by a failed run would be published by the next one): each
//! package is copied into a temporary directory, and version stamping, dependency
//! pinning and the build all happen there. Build outputs and local environments of
//! the source tree are not copied, so a stale `dist/` can never be published, and
//! neither is anything the repository ignores (`.gitignore`, `.ignore` and
//! `.git/info/exclude`, including those of parent directories): a local `.env` or a
//! generated file must not end up in a published artifact just because it sits in
//! the package's directory.

use fs_err as fs;
use std::io;
use std::path::Path;

use ignore::WalkBuilder;

/// Directory names never copied, at any depth, whatever the language: VCS metadata.
pub const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".bzr"];

/// The walk of a package directory that publishing copies (and a runner image copies):
/// the repository's ignore files apply, and directories named in [`VCS_DIRS`] or
/// `skip_dirs` are not entered. Callers may add ignore files before `build()`.
pub fn package_walk(src: &Path, skip_dirs: &[&str]) -> WalkBuilder {
    let skip: Vec<String> = skip_dirs.iter().map(|s| s.to_string()).collect();
    let mut walk = WalkBuilder::new(src);
    walk.hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && e.file_name()
                    .to_str()
                    .is_some_and(|name| VCS_DIRS.contains(&name) || skip.iter().any(|s| s == name)))
        });
    walk
}

/// Copies `src` into `dest` (created if missing), skipping what the repository's
/// ignore files exclude, directories named in [`VCS_DIRS`] or `skip_dirs` (the
/// adapter's outputs and environments, such as `node_modules` or `.venv`) and
/// anything that is not a regular file or directory. Symlinks are copied as the file
/// they point to only when they stay inside `src`; others are skipped.
pub fn copy_package(src: &Path, dest: &Path, skip_dirs: &[&str]) -> io::Result<()> {
    fs::create_dir_all(dest)?;
    let src_canonical = src.canonicalize()?;
    let walker = package_walk(src, skip_dirs).build();
    for entry in walker {
        let entry = entry.map_err(io::Error::other)?;
        if entry.depth() == 0 {
            continue;
        }
        let rel = entry.path().strip_prefix(src).map_err(io::Error::other)?;
        let target = dest.join(rel);
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            fs::create_dir_all(&target)?;
        } else if file_type.is_file() {
            fs::copy(entry.path(), &target)?;
        } else if file_type.is_symlink() {
            if let Ok(resolved) = entry.path().canonicalize() {
                if resolved.starts_with(&src_canonical) && resolved.is_file() {
                    fs::copy(&resolved, &target)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_sources_and_skips_outputs_and_environments() {
        let src = tempfile::tempdir().unwrap();
        let root = src.path();
        fs::create_dir_all(root.join("src/pkg")).unwrap();
        fs::write(root.join("src/pkg/mod.py"), "x = 1\n").unwrap();
        fs::write(root.join("pyproject.toml"), "[project]\n").unwrap();
        for skipped in [
            "node_modules/dep",
            "dist",
            ".venv/bin",
            "src/pkg/__pycache__",
            ".git",
        ] {
            fs::create_dir_all(root.join(skipped)).unwrap();
            fs::write(root.join(skipped).join("f"), "stale").unwrap();
        }
        std::os::unix::fs::symlink("/etc/hostname", root.join("outside")).unwrap();
        fs::write(root.join(".gitignore"), ".env\n*.log\n").unwrap();
        fs::write(root.join(".env"), "TOKEN=secret").unwrap();
        fs::write(root.join("src/pkg/debug.log"), "noise").unwrap();

        let dest = tempfile::tempdir().unwrap();
        let skip = ["node_modules", "dist", ".venv", "__pycache__"];
        copy_package(root, dest.path(), &skip).unwrap();

        assert_eq!(
            fs::read_to_string(dest.path().join("src/pkg/mod.py")).unwrap(),
            "x = 1\n"
        );
        assert!(dest.path().join("pyproject.toml").is_file());
        assert!(
            dest.path().join(".gitignore").is_file(),
            "dotfiles are sources too"
        );
        for skipped in [
            "node_modules",
            "dist",
            ".venv",
            "src/pkg/__pycache__",
            ".git",
            "outside",
            ".env",
            "src/pkg/debug.log",
        ] {
            assert!(!dest.path().join(skipped).exists(), "{skipped} was copied");
        }
    }
}
