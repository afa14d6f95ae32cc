//! Turning an error into what the user reads (`error:`, `Caused by:`, `hint:` on
//! stderr) and into the exit code of the contract.
//!
//! Classification walks the error chain and looks for pkgrun-core's error types:
//! configuration, environment, version, git and state problems are usage errors
//! (exit 2: detected before anything was touched); anything unrecognised is a bug (1).

use std::fmt;
use std::io::Write;

use pkgrun_core::config::ConfigError;
use pkgrun_core::env::EnvError;
use pkgrun_core::git::GitError;
use pkgrun_core::state::StateError;
use pkgrun_core::version::VersionError;
use pkgrun_core::ExitStatus;

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

/// Exit status and hint for an error.
pub fn classify(err: &anyhow::Error) -> (ExitStatus, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return (e.status, e.hint.clone());
        }
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return (ExitStatus::Usage, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<EnvError>() {
            return (ExitStatus::Usage, e.hint());
        }
        if let Some(e) = cause.downcast_ref::<GitError>() {
            return (ExitStatus::Usage, e.hint());
        }
        if cause.downcast_ref::<VersionError>().is_some() {
            return (ExitStatus::Usage, None);
        }
        if let Some(e) = cause.downcast_ref::<StateError>() {
            let hint = match e {
                StateError::Parse { .. } => Some(
                    "remove or fix that file; `pkgrun state clean` empties the state directory"
                        .to_string(),
                ),
                _ => None,
            };
            return (ExitStatus::Usage, hint);
        }
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
