//! The contract every language adapter implements.
//!
//! The pipeline ([`crate::pipeline`]) owns everything that is the same for Go,
//! Python and TypeScript: checking the environment, choosing versions, publish
//! order, skipping dependents of failed packages, waiting for visibility, timing,
//! logging scopes and state documents. An adapter only knows its ecosystem: how to
//! stamp and build a package in a throwaway copy, how its registry takes an upload
//! and serves it back, and how a downstream consumer installs and imports it.

use std::path::{Path, PathBuf};

use pkgrun_core::config::{Config, Package};
use pkgrun_core::env::Resolved;
use pkgrun_core::log::Logger;
use pkgrun_core::process::{self, StepCommand};
use pkgrun_core::state::{Artifact, PublishOutcome, StateDocument};
use pkgrun_core::Lang;

use crate::failure::{Failure, FailureKind};
use crate::health::Probe;
use crate::http::RegistryHttp;
use crate::pipeline::Phase;

/// Code that works with any adapter, given the one of a language by
/// [`crate::with_adapter`] (adapters are generic parameters of a run, not objects).
pub trait AdapterVisitor {
    type Output;
    fn visit<A: Adapter>(self, adapter: A) -> Self::Output;
}

/// What an adapter gets to work with during one phase of a run.
pub struct Context<'a> {
    pub config: &'a Config,
    /// The checked environment (URLs, credentials) of this language.
    pub env: &'a Resolved,
    /// Scoped to the phase: `packages:<lang>-publish`, `packages:<lang>-smoke`.
    pub log: Logger,
    pub http: RegistryHttp,
    /// A directory for this run's throwaway files, removed when the run ends.
    pub scratch: &'a Path,
}

impl Context<'_> {
    /// A new empty directory under the run's scratch directory.
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf, Failure> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in(self.scratch)?
            .keep();
        Ok(dir)
    }
}

/// A sibling package of this run, already published.
#[derive(Debug, Clone)]
pub struct Pin<'a> {
    pub package: &'a Package,
    pub version: String,
}

/// One package to build and upload.
pub struct BuildJob<'a> {
    pub package: &'a Package,
    pub version: String,
    /// Siblings this package depends on, with the versions published in this run:
    /// the adapter rewrites the local/workspace references in the copy to these.
    pub pins: Vec<Pin<'a>>,
    /// The throwaway copy of the package directory: stamp, pin and build here.
    pub workdir: PathBuf,
}

/// The evidence of the upstream probe: two fetches of one public package through
/// the registry, the second of which must come from the registry's own storage.
#[derive(Debug, Clone)]
pub struct ProbeEvidence {
    pub first_ms: u64,
    pub second_ms: u64,
    pub evidence: String,
}

/// One ecosystem's publish and smoke operations.
pub trait Adapter {
    /// What `build` produced, handed back to `upload`.
    type Build;

    fn lang(&self) -> Lang;

    /// Directory names not copied into the throwaway copy: build outputs, dependency
    /// trees and environments of this ecosystem (VCS directories are never copied).
    fn skipped_dirs(&self) -> &'static [&'static str];

    /// The tools a `phase` of `config`'s packages will run that are missing (not on
    /// `PATH`, or lacking a module they need), each as a problem naming the tool and
    /// what it is for. Checked during preflight (exit 2), before anything is touched;
    /// [`Phase::Publish`] (`publish` and `run`) needs the build tools and the
    /// consumers' tools, [`Phase::Smoke`] only the consumers'.
    fn missing_tools(&self, config: &Config, phase: Phase) -> Vec<String> {
        let _ = (config, phase);
        Vec::new()
    }

    /// The registry URL consumers use, without credentials (recorded in state).
    fn registry_url(&self, env: &Resolved) -> String;

    /// The kind of registry this language publishes to, for people (`pkgrun health`).
    fn registry_kind(&self) -> &'static str;

    /// `pkgrun health`'s probe: one cheap request to the registry at `base` (its URL
    /// without a trailing slash) that a registry of this kind answers in a known way;
    /// `Ok` says what it answered.
    fn probe_health(&self, http: &RegistryHttp, config: &Config, base: &str) -> Probe;

    /// Stamps `job.version`, pins the siblings in `job.workdir` and builds the
    /// package's artifacts. A build that fails is a [`Failure::publish`] whose
    /// detail says why (the build's output has already been shown by the step).
    fn build(&self, ctx: &Context, job: &BuildJob) -> Result<Self::Build, Failure>;

    /// The artifacts of a build, with their digests, as the state records them.
    fn artifacts(&self, build: &Self::Build) -> Vec<Artifact>;

    /// Uploads the build. The same version already in the registry with identical
    /// bytes is `AlreadyPresent`; with other bytes it is a publish failure naming both
    /// digests, unless the adapter finds the same archive contents
    /// ([`crate::archive::compare`], for backends whose archives are not
    /// byte-reproducible): then it is `AlreadyPresent` too, and the adapter replaces the
    /// build's files by the registry's, so the state records what consumers get.
    fn upload(
        &self,
        ctx: &Context,
        job: &BuildJob,
        build: &mut Self::Build,
    ) -> Result<PublishOutcome, Failure>;

    /// Whether `version` of `package` is listed through the URL consumers use.
    fn is_visible(&self, ctx: &Context, package: &Package, version: &str) -> Result<bool, Failure>;

    /// Protocol check: the registry serves the recorded version and its artifacts are
    /// byte-identical to what was uploaded. `Ok` carries a one-line summary.
    fn check_protocol(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure>;

    /// Consumer check: a fresh, empty environment installs the recorded version from
    /// the registry and imports every configured smoke import.
    fn check_consumer(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure>;

    /// Fetches the upstream probe `target` twice through the registry.
    fn probe_upstream(&self, ctx: &Context, target: &str) -> Result<ProbeEvidence, Failure>;
}

impl Context<'_> {
    /// Runs a tool as a logged step; a failure is classified as `kind` (a build tool
    /// failing is a publish failure, a consumer install failing a smoke failure) and
    /// carries the last lines of the tool's output.
    pub fn run(
        &self,
        cmd: &StepCommand,
        kind: FailureKind,
    ) -> Result<pkgrun_core::process::Output, Failure> {
        process::run_step(&self.log, cmd).map_err(|e| {
            let tail = e
                .output()
                .map(|o| {
                    let lines: Vec<&str> = o.lines.iter().map(|l| l.text.as_str()).collect();
                    lines[lines.len().saturating_sub(5)..].join("\n")
                })
                .filter(|t| !t.is_empty());
            let failure = Failure::new(kind, e.to_string());
            match tail {
                Some(t) => failure.with_detail(t),
                None => failure,
            }
        })
    }
}
