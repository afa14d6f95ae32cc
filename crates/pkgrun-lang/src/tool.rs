//! Finding the ecosystem tools an adapter runs (`go`, `python3`, `node`, …).
//!
//! A missing tool is a setup problem, not a failed publish or a broken artifact: the
//! pipeline asks each adapter for its missing tools during preflight, so a runner
//! image without `go` fails with exit 2 before anything is touched.

use std::path::{Path, PathBuf};

/// The first executable called `name` on `PATH`; a name with a `/` is checked as is.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs_err::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `Some(problem)` when none of `candidates` is on `PATH`.
pub fn require_one_of(candidates: &[&str], what: &str) -> Option<String> {
    if candidates.iter().any(|c| find_on_path(c).is_some()) {
        None
    } else {
        Some(format!(
            "{what}: none of {} found on PATH",
            candidates.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_real_executables_and_reports_missing_ones() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("/bin/sh").is_some());
        assert!(find_on_path("pkgrun-no-such-tool").is_none());
        assert_eq!(require_one_of(&["sh"], "a shell"), None);
        let problem = require_one_of(&["pkgrun-no-such-tool", "nor-this"], "the thing").unwrap();
        assert!(
            problem.contains("pkgrun-no-such-tool, nor-this"),
            "{problem}"
        );
    }
}
