//! Process exit codes: part of the CLI contract, so CI can tell failures apart.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a bug in pkgrun (anything not classified below) |
//! | 2 | usage, configuration or environment error; nothing was touched |
//! | 3 | publish failed (upload refused, version conflict, build failed) |
//! | 4 | smoke failed (install, import or digest check of the published artifact) |
//! | 5 | a registry was unreachable or timed out after bounded retries |

use std::fmt;

/// An error that knows which exit status it ends a command with and can suggest a fix.
///
/// The CLI's reporter looks for one in an error's chain and prints `error:`, the
/// `Caused by:` chain (each error's `#[source]`), then [`Hint::hint`] as a separate
/// `hint:` line. Every pkgrun error type that can suggest a fix implements this trait
/// rather than a method of its own.
pub trait Hint {
    fn exit_status(&self) -> ExitStatus;
    /// What the user can do about it, if pkgrun knows.
    fn hint(&self) -> Option<String>;
}

/// How a `pkgrun` invocation ended; [`ExitStatus::code`] is the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// Everything worked (0).
    Success,
    /// A bug: an error pkgrun did not expect (1).
    Bug,
    /// Usage, configuration or environment error, detected before anything was touched (2).
    Usage,
    /// Publishing failed (3).
    Publish,
    /// The smoke test of a published artifact failed (4).
    Smoke,
    /// A registry was unreachable or timed out after bounded retries (5).
    Unreachable,
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Bug => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Publish => 3,
            ExitStatus::Smoke => 4,
            ExitStatus::Unreachable => 5,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            ExitStatus::Success => "success",
            ExitStatus::Bug => "bug",
            ExitStatus::Usage => "usage, configuration or environment error",
            ExitStatus::Publish => "publish failed",
            ExitStatus::Smoke => "smoke failed",
            ExitStatus::Unreachable => "registry unreachable",
        };
        write!(f, "{what} (exit code {})", self.code())
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_contract() {
        let all = [
            (ExitStatus::Success, 0),
            (ExitStatus::Bug, 1),
            (ExitStatus::Usage, 2),
            (ExitStatus::Publish, 3),
            (ExitStatus::Smoke, 4),
            (ExitStatus::Unreachable, 5),
        ];
        for (status, code) in all {
            assert_eq!(status.code(), code, "{status:?}");
        }
    }
}
