//! Throwaway copies of package directories.
//!
//! Publishing never touches the workspace (Tilt watches it, and a half-stamped
//! manifest left behind by a failed run would be published by the next one): each
//! package is copied into a temporary directory, and version stamping, dependency
//! pinning and the build all happen there. Build outputs and local environments of
//! the source tree are not copied, so a stale `dist/` can never be published.

use std::fs;
use std::io;
use std::path::Path;

use walkdir::WalkDir;

/// Directory names never copied, at any depth, whatever the language: VCS metadata.
pub const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".bzr"];

/// Copies `src` into `dest` (created if missing), skipping directories named in
/// [`VCS_DIRS`] or `skip_dirs` (the adapter's outputs and environments, such as
/// `node_modules` or `.venv`) and anything that is not a regular file or directory. Symlinks are copied as the
/// file they point to only when they stay inside `src`; others are skipped.
pub fn copy_package(src: &Path, dest: &Path, skip_dirs: &[&str]) -> io::Result<()> {
    fs::create_dir_all(dest)?;
    let src_canonical = src.canonicalize()?;
    let walker = WalkDir::new(src).min_depth(1).into_iter().filter_entry(|e| {
        !(e.file_type().is_dir()
            && e.file_name()
                .to_str()
                .is_some_and(|name| VCS_DIRS.contains(&name) || skip_dirs.contains(&name)))
    });
    for entry in walker {
        let entry = entry.map_err(io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(src)
            .map_err(io::Error::other)?;
        let target = dest.join(rel);
        let file_type = entry.file_type();
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
        for skipped in ["node_modules/dep", "dist", ".venv/bin", "src/pkg/__pycache__", ".git"] {
            fs::create_dir_all(root.join(skipped)).unwrap();
            fs::write(root.join(skipped).join("f"), "stale").unwrap();
        }
        std::os::unix::fs::symlink("/etc/hostname", root.join("outside")).unwrap();

        let dest = tempfile::tempdir().unwrap();
        let skip = ["node_modules", "dist", ".venv", "__pycache__"];
        copy_package(root, dest.path(), &skip).unwrap();

        assert_eq!(fs::read_to_string(dest.path().join("src/pkg/mod.py")).unwrap(), "x = 1\n");
        assert!(dest.path().join("pyproject.toml").is_file());
        for skipped in ["node_modules", "dist", ".venv", "src/pkg/__pycache__", ".git", "outside"] {
            assert!(!dest.path().join(skipped).exists(), "{skipped} was copied");
        }
    }
}
