//! pkgrun's core contracts, shared by the `pkgrun` binary and the language adapters.
//!
//! Each module owns one concern and has no knowledge of any particular language's
//! tooling:
//!
//! * [`config`]: `pkgrun.toml` (what to publish) and the package manifests it points at.
//! * [`ecosystem`]: one module per language with every rule that is not I/O (names,
//!   environment variables, manifest parsing, snapshot and release versions), registered
//!   once in [`Lang::ecosystem`].
//! * [`manifest`]: reading a package's name, base version and dependencies from its
//!   `go.mod`, `pyproject.toml` or `package.json`.
//! * [`env`]: the environment contract (where to publish, with which credentials):
//!   every variable a command needs is checked up front and all problems reported at once.
//! * [`secret`]: values and URLs that never print their credentials.
//! * [`version`]: snapshot versions and override validation per ecosystem.
//! * [`git`]: the 12-character source sha, without a `git` binary.
//! * [`state`]: the `pkgrun.state/v1` document and the state directory store.
//! * [`log`]: the one log line format every runner, script and child step uses.
//! * [`process`]: running a child process as a named, logged step.
//! * [`child_env`]: the allow-list of variables a child inherits.
//! * [`plan`]: the versions and environment preflight of a run, all problems at once.
//! * [`exit`]: the process exit codes that are part of the CLI contract.
//!
//! Libraries never print: everything a user sees goes through [`log::Logger`] or is
//! returned as data or as an error.

pub mod child_env;
pub mod config;
pub mod ecosystem;
pub mod env;
pub mod exit;
pub mod git;
pub mod lang;
pub mod log;
pub mod manifest;
pub mod plan;
pub mod process;
pub mod secret;
pub mod shutdown;
pub mod state;
pub mod version;

pub use config::Config;
pub use exit::{ExitStatus, Hint};
pub use lang::Lang;
