//! The source commit sha, as 12 lowercase hex characters.
//!
//! `SOURCE_GIT_SHA` wins when set (runner images and CI copy the workspace without
//! `.git`). Otherwise the repository's HEAD is read directly from the `.git` directory
//! found by walking up from the workspace root — no `git` binary needed. Supported:
//! a `.git` directory or a `.git` file with `gitdir:` (worktrees, submodules, with
//! `commondir`), symbolic HEAD, loose refs, `packed-refs`, detached HEAD. Neither
//! source available is an error, never a fallback.

use std::path::{Path, PathBuf};

use crate::env::EnvSource;
use crate::version::Sha12;

/// The variable that overrides the repository's HEAD.
pub const SOURCE_GIT_SHA: &str = "SOURCE_GIT_SHA";

/// Why no sha could be determined.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "SOURCE_GIT_SHA={value:?} is not a commit sha: expected at least 12 hexadecimal characters"
    )]
    BadOverride { value: String },
    #[error("no source commit: SOURCE_GIT_SHA is not set and no .git was found in {} or any parent directory", start.display())]
    NoRepository { start: PathBuf },
    #[error("cannot read the git repository at {}: {problem}", git_dir.display())]
    Repository { git_dir: PathBuf, problem: String },
}

impl crate::Hint for GitError {
    fn exit_status(&self) -> crate::ExitStatus {
        crate::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            GitError::BadOverride { .. } => {
                "set SOURCE_GIT_SHA to the full commit id (e.g. the output of `git rev-parse HEAD`)"
                    .into()
            }
            GitError::NoRepository { .. } => {
                "set SOURCE_GIT_SHA to the commit being published, or run from a git checkout"
                    .into()
            }
            GitError::Repository { .. } => {
                "set SOURCE_GIT_SHA to the commit being published, or repair the checkout".into()
            }
        })
    }
}

/// The sha to stamp versions with: `SOURCE_GIT_SHA`, else HEAD of the repository
/// containing `workspace_root`.
pub fn resolve_sha(workspace_root: &Path, env: &dyn EnvSource) -> Result<Sha12, GitError> {
    if let Some(value) = env.get(SOURCE_GIT_SHA).filter(|v| !v.trim().is_empty()) {
        return value.parse().map_err(|_| GitError::BadOverride { value });
    }
    let git_dir = find_git_dir(workspace_root)?;
    head_sha(&git_dir)
}

/// Finds the git directory for `start` (following a `.git` file's `gitdir:`).
pub fn find_git_dir(start: &Path) -> Result<PathBuf, GitError> {
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Ok(dot_git);
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).map_err(|e| GitError::Repository {
                git_dir: dot_git.clone(),
                problem: e.to_string(),
            })?;
            let target = text
                .lines()
                .find_map(|l| l.strip_prefix("gitdir:"))
                .map(str::trim)
                .ok_or_else(|| GitError::Repository {
                    git_dir: dot_git.clone(),
                    problem: "the .git file has no `gitdir:` line".into(),
                })?;
            return Ok(dir.join(target));
        }
    }
    Err(GitError::NoRepository {
        start: start.to_path_buf(),
    })
}

/// The commit HEAD points at, for a git directory.
pub fn head_sha(git_dir: &Path) -> Result<Sha12, GitError> {
    let err = |problem: String| GitError::Repository {
        git_dir: git_dir.to_path_buf(),
        problem,
    };
    // Worktrees keep HEAD in their own dir and refs in the common dir.
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.to_path_buf(),
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD"))
        .map_err(|e| err(format!("cannot read HEAD: {e}")))?;
    let mut content = head.trim().to_string();
    // Follow symbolic refs (bounded, in case of a loop).
    for _ in 0..10 {
        let Some(name) = content.strip_prefix("ref:").map(|r| r.trim().to_string()) else {
            return content.parse().map_err(|_| {
                err(format!(
                    "HEAD resolves to {content:?}, which is not a commit id"
                ))
            });
        };
        content = read_ref(git_dir, &common, &name)
            .map_err(err)?
            .ok_or_else(|| {
                err(format!(
                    "HEAD points at {name}, which has no commit yet (make a first commit)"
                ))
            })?;
    }
    Err(err("symbolic refs nest too deeply".into()))
}

fn read_ref(git_dir: &Path, common: &Path, name: &str) -> Result<Option<String>, String> {
    if name.contains("..") {
        return Err(format!("refusing ref name {name:?}"));
    }
    for dir in [git_dir, common] {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => return Ok(Some(text.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // A directory (e.g. `refs/heads/x` when `x/y` exists) is "not a ref".
            Err(_) if dir.join(name).is_dir() => {}
            Err(e) => return Err(format!("cannot read {name}: {e}")),
        }
    }
    match std::fs::read_to_string(common.join("packed-refs")) {
        Ok(text) => Ok(text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
            .filter_map(|l| l.split_once(' '))
            .find(|(_, r)| r.trim() == name)
            .map(|(sha, _)| sha.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read packed-refs: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hint;
    use std::collections::BTreeMap;
    use std::process::Command;

    fn no_env() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn repo_with_commit() -> (tempfile::TempDir, String) {
        let d = tempfile::tempdir().unwrap();
        git(d.path(), &["init", "-q", "-b", "main"]);
        std::fs::write(d.path().join("f"), "x").unwrap();
        git(d.path(), &["add", "f"]);
        git(d.path(), &["commit", "-q", "-m", "one"]);
        let sha = git(d.path(), &["rev-parse", "HEAD"]);
        (d, sha)
    }

    #[test]
    fn override_wins_and_is_validated() {
        let (d, _) = repo_with_commit();
        let env: BTreeMap<String, String> =
            [(SOURCE_GIT_SHA.to_string(), "ABCDEF0123456789".to_string())].into();
        assert_eq!(
            resolve_sha(d.path(), &env).unwrap().as_str(),
            "abcdef012345"
        );
        let bad: BTreeMap<String, String> =
            [(SOURCE_GIT_SHA.to_string(), "main".to_string())].into();
        assert!(matches!(
            resolve_sha(d.path(), &bad),
            Err(GitError::BadOverride { .. })
        ));
    }

    #[test]
    fn loose_ref_from_a_subdirectory() {
        let (d, sha) = repo_with_commit();
        let sub = d.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(resolve_sha(&sub, &no_env()).unwrap().as_str(), &sha[..12]);
    }

    #[test]
    fn packed_refs() {
        let (d, sha) = repo_with_commit();
        git(d.path(), &["pack-refs", "--all", "--prune"]);
        assert!(
            !d.path().join(".git/refs/heads/main").exists(),
            "ref was packed"
        );
        assert_eq!(
            resolve_sha(d.path(), &no_env()).unwrap().as_str(),
            &sha[..12]
        );
    }

    #[test]
    fn detached_head() {
        let (d, sha) = repo_with_commit();
        std::fs::write(d.path().join("g"), "y").unwrap();
        git(d.path(), &["add", "g"]);
        git(d.path(), &["commit", "-q", "-m", "two"]);
        git(d.path(), &["checkout", "-q", "--detach", &sha]);
        assert_eq!(
            resolve_sha(d.path(), &no_env()).unwrap().as_str(),
            &sha[..12]
        );
    }

    #[test]
    fn worktree_gitdir_file() {
        let (d, _) = repo_with_commit();
        let wt = d.path().join("wt");
        git(
            d.path(),
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "feature",
                wt.to_str().unwrap(),
            ],
        );
        std::fs::write(wt.join("h"), "z").unwrap();
        git(&wt, &["add", "h"]);
        git(&wt, &["commit", "-q", "-m", "on feature"]);
        let sha = git(&wt, &["rev-parse", "HEAD"]);
        assert!(wt.join(".git").is_file());
        assert_eq!(resolve_sha(&wt, &no_env()).unwrap().as_str(), &sha[..12]);
    }

    #[test]
    fn unborn_branch_and_no_repository() {
        let d = tempfile::tempdir().unwrap();
        git(d.path(), &["init", "-q", "-b", "main"]);
        let err = resolve_sha(d.path(), &no_env()).unwrap_err().to_string();
        assert!(err.contains("no commit yet"), "{err}");
        let plain = tempfile::tempdir().unwrap();
        // Only meaningful when the temp dir is not inside a repository.
        if find_git_dir(plain.path()).is_err() {
            let err = resolve_sha(plain.path(), &no_env()).unwrap_err();
            assert!(err.to_string().contains("SOURCE_GIT_SHA"), "{err}");
            assert!(err.hint().unwrap().contains("SOURCE_GIT_SHA"));
        }
    }
}
