//! Go adapter: module zips for the project's Go registry.
//!
//! * [`build`]: in the throwaway copy, check the `module` line, drop the `replace`
//!   directives that point at sibling packages of this run and pin those requirements
//!   to the versions just published (any other `replace` is refused), then build the
//!   module zip by the Go zip rules (`gomod::zip::create_from_dir`), the `.mod` (the
//!   edited go.mod) and the `.info`.
//! * [`registry`]: `POST <GO_REGISTRY_URL>/upload` with the bearer token (a 409 goes
//!   through the shared [`crate::existing`] decision) and visibility through `/@v/list`.
//! * [`smoke`]: the protocol check (list, `.info`, `.mod`, `.zip`, `h1:`), and the real
//!   `go` command in a fresh GOPATH/GOMODCACHE (the build cache is shared): the
//!   consumer check (`go get`, `go build`, run) and the upstream probe (two
//!   `go mod download`s with two empty module caches, with the registry's cache
//!   counters as evidence).
//!
//! The registry URL is the same for uploads and GOPROXY reads (README, "Environment contract"), so what the
//! smoke reads is exactly what consumers read.

mod build;
mod registry;
mod smoke;

use pkgrun_core::config::{Config, Package};
use pkgrun_core::ecosystem::go as eco;
use pkgrun_core::env::Resolved;
use pkgrun_core::state::{Artifact, ArtifactKind, PublishOutcome, StateDocument};
use pkgrun_core::Lang;

use crate::adapter::{Adapter, BuildJob, Context, ProbeEvidence};
use crate::digest::sha256_hex;
use crate::failure::Failure;
use crate::health::Probe;
use crate::http::RegistryHttp;

pub use build::GoBuild;

/// The Go adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Go;

/// The environment variable naming the registry (upload endpoint and GOPROXY base).
pub const ENV_URL: &str = eco::GO_REGISTRY_URL.name;
/// The environment variable holding the upload token.
pub const ENV_TOKEN: &str = eco::GO_REGISTRY_TOKEN.name;
/// The environment variable listing the private module prefixes.
pub const ENV_NOSUMDB: &str = eco::GONOSUMDB.name;

impl Adapter for Go {
    type Build = GoBuild;

    fn lang(&self) -> Lang {
        Lang::Go
    }

    fn skipped_dirs(&self) -> &'static [&'static str] {
        // Never part of a module zip anyway (`vendor` is handled by the zip rules, which
        // keep `vendor/modules.txt` for old go versions), but a local build output or
        // editor directory need not be copied.
        &[]
    }

    fn missing_tools(&self, _: &pkgrun_core::Config, _: crate::Phase) -> Vec<String> {
        // The build is pkgrun's own (module zip); the consumer smoke runs the go command.
        let go = smoke::go_program();
        crate::tool::require_one_of(&[&go], "the go command (set PKGRUN_GO to use another one)")
            .into_iter()
            .collect()
    }

    fn registry_url(&self, env: &Resolved) -> String {
        env.url(ENV_URL)
            .map(|u| u.base_without_slash())
            .unwrap_or_default()
    }

    fn registry_kind(&self) -> &'static str {
        "go module registry"
    }

    fn probe_health(&self, http: &RegistryHttp, config: &Config, base: &str) -> Probe {
        registry::probe_health(http, config, base)
    }

    fn build(&self, ctx: &Context, job: &BuildJob) -> Result<GoBuild, Failure> {
        build::build(ctx, job)
    }

    fn artifacts(&self, build: &GoBuild) -> Vec<Artifact> {
        let artifact = |suffix: &str, kind, bytes: &[u8], h1: Option<&str>| Artifact {
            file: format!("{}{suffix}", build.version),
            kind,
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            h1: h1.map(str::to_string),
            integrity: None,
            shasum: None,
        };
        vec![
            artifact(".zip", ArtifactKind::Zip, &build.zip, Some(&build.zip_h1)),
            artifact(
                ".mod",
                ArtifactKind::Mod,
                &build.go_mod,
                Some(&build.mod_h1),
            ),
            artifact(".info", ArtifactKind::Info, &build.info, None),
        ]
    }

    fn upload(
        &self,
        ctx: &Context,
        _job: &BuildJob,
        build: &mut GoBuild,
    ) -> Result<PublishOutcome, Failure> {
        registry::upload(ctx, build)
    }

    fn is_visible(&self, ctx: &Context, package: &Package, version: &str) -> Result<bool, Failure> {
        registry::is_visible(ctx, &package.name, version)
    }

    fn check_protocol(
        &self,
        ctx: &Context,
        _package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        smoke::check_protocol(ctx, doc)
    }

    fn check_consumer(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        smoke::check_consumer(ctx, package, doc)
    }

    fn probe_upstream(&self, ctx: &Context, target: &str) -> Result<ProbeEvidence, Failure> {
        smoke::probe_upstream(ctx, target)
    }
}
