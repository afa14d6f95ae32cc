//! How a pipeline step fails, classified by the exit code it maps to.
//!
//! Adapters never choose exit codes themselves: they say *what* failed (the build,
//! the upload, a smoke check, the registry's reachability) and the pipeline turns
//! that into the documented process exit code through [`Failure::exit_status`].

use std::fmt;

use pkgrun_core::ExitStatus;

/// What to do about an upload a registry refused as too large (HTTP 413).
pub const TOO_LARGE_HINT: &str = "the registry (or a proxy in front of it) limits the size of an upload: raise that limit, or make the package smaller";

/// What kind of failure, and so which exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Configuration or environment problem found before anything was touched (2).
    Usage,
    /// The package could not be built or the registry refused it (3).
    Publish,
    /// The published artifact is broken: install, import or digest check failed (4).
    Smoke,
    /// The registry could not be reached, or kept failing, after bounded retries (5).
    Unreachable,
    /// Something pkgrun did not expect, such as an I/O error in its own temp dir (1).
    Internal,
}

/// A failed step: a one-line message, optional detail lines (a registry's reason,
/// a build's output tail) and an optional hint telling the user what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The state key of the package the failure belongs to, if it belongs to one
    /// (reports attribute it; a language-wide failure has none).
    pub package: Option<String>,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            detail: None,
            hint: None,
            package: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Usage, message)
    }

    pub fn publish(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Publish, message)
    }

    pub fn smoke(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Smoke, message)
    }

    pub fn unreachable(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Unreachable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Internal, message)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same failure, attributed to the package with this state key.
    pub fn for_package(mut self, state_key: impl Into<String>) -> Self {
        self.package = Some(state_key.into());
        self
    }

    /// The same failure reclassified, e.g. an HTTP error during smoke becomes a
    /// smoke failure unless the registry was unreachable.
    pub fn reclassify(mut self, from: FailureKind, to: FailureKind) -> Self {
        if self.kind == from {
            self.kind = to;
        }
        self
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self.kind {
            FailureKind::Usage => ExitStatus::Usage,
            FailureKind::Publish => ExitStatus::Publish,
            FailureKind::Smoke => ExitStatus::Smoke,
            FailureKind::Unreachable => ExitStatus::Unreachable,
            FailureKind::Internal => ExitStatus::Bug,
        }
    }

    /// Worst of several failures: unreachable registries first (nothing else could
    /// be judged), then publish, smoke and usage problems.
    pub fn rank(&self) -> u8 {
        match self.kind {
            FailureKind::Internal => 5,
            FailureKind::Unreachable => 4,
            FailureKind::Publish => 3,
            FailureKind::Smoke => 2,
            FailureKind::Usage => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

impl pkgrun_core::Hint for Failure {
    fn exit_status(&self) -> ExitStatus {
        Failure::exit_status(self)
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::internal(format!("I/O error: {e}"))
    }
}

impl From<pkgrun_core::state::StateError> for Failure {
    fn from(e: pkgrun_core::state::StateError) -> Self {
        Failure::internal(e.to_string())
    }
}
