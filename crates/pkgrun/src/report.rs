//! Turning an error into what the user reads (`error:`, `Caused by:`, `hint:` on
//! stderr) and into the exit code of the contract.
//!
//! Classification walks the error chain for the first error implementing
//! [`pkgrun_core::Hint`], which gives the exit status and the hint; anything else is a
//! bug (1).

use std::fmt;
use std::io::Write;

use pkgrun_core::config::ConfigError;
use pkgrun_core::env::EnvError;
use pkgrun_core::git::GitError;
use pkgrun_core::state::StateError;
use pkgrun_core::version::VersionError;
use pkgrun_core::{ExitStatus, Hint};
use pkgrun_lang::Failure;

use crate::cli::Globals;

/// An error a command detected itself, with its exit status and an optional hint.
#[derive(Debug)]
pub struct CliError {
    pub status: ExitStatus,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn usage(message: impl Into<String>, hint: Option<String>) -> Self {
        CliError {
            status: ExitStatus::Usage,
            message: message.into(),
            hint,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl Hint for CliError {
    fn exit_status(&self) -> ExitStatus {
        self.status
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// The error as a [`Hint`], if its type implements it. Stable Rust cannot downcast to a
/// trait object, so the implementing types are named once, here.
fn as_hint<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Hint> {
    macro_rules! first_of {
        ($($t:ty),*) => {
            $(if let Some(e) = cause.downcast_ref::<$t>() {
                return Some(e);
            })*
        };
    }
    first_of!(
        CliError,
        ConfigError,
        EnvError,
        GitError,
        VersionError,
        StateError,
        Failure
    );
    None
}

/// Exit status and hint for an error.
pub fn classify(err: &anyhow::Error) -> (ExitStatus, Option<String>) {
    if let Some(e) = err.chain().find_map(as_hint) {
        return (e.exit_status(), e.hint());
    }
    (
        ExitStatus::Bug,
        Some("this is a bug in pkgrun; please report it with the command line and output".into()),
    )
}

/// Formats the error report (without colour).
pub fn render(err: &anyhow::Error, hint: Option<&str>) -> String {
    let mut out = format!("error: {err}\n");
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    if !causes.is_empty() {
        out.push_str("\nCaused by:\n");
        for cause in causes {
            out.push_str(&format!("    {cause}\n"));
        }
    }
    if let Some(hint) = hint {
        out.push_str(&format!("hint: {hint}\n"));
    }
    out
}

/// Prints the error report to stderr and returns the exit status.
pub fn print_error(err: &anyhow::Error, globals: &Globals) -> ExitStatus {
    let (status, hint) = classify(err);
    let mut text = render(err, hint.as_deref());
    if globals.color {
        text = text
            .replacen("error:", "\x1b[31merror\x1b[0m:", 1)
            .replace("\nhint:", "\n\x1b[36mhint\x1b[0m:");
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_keep_their_hint_and_chain() {
        let err = anyhow::Error::new(CliError::usage("bad", Some("do this".into())))
            .context("while testing");
        let (status, hint) = classify(&err);
        assert_eq!(status, ExitStatus::Usage);
        assert_eq!(
            render(&err, hint.as_deref()),
            "error: while testing\n\nCaused by:\n    bad\nhint: do this\n"
        );
    }

    #[test]
    fn unknown_errors_are_bugs() {
        let (status, _) = classify(&anyhow::anyhow!("surprise"));
        assert_eq!(status, ExitStatus::Bug);
    }
}
