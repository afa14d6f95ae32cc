//! TypeScript adapter: npm tarballs to an npm registry (Verdaccio in the project).
//!
//! * build ([`build`]), in the throwaway copy: stamp `version` in package.json, pin sibling
//!   packages of this run (`workspace:`, `file:`, `link:` ranges) to their exact
//!   published versions, install dependencies from `NPM_REGISTRY_URL` with the
//!   workspace's client (pnpm when the workspace uses pnpm, else npm; siblings come
//!   from the registry, where they were just published), run the package's own
//!   `build` script, then let the same client pack the tarball (npm/pnpm pack give
//!   fixed mtimes and modes, so identical sources make identical bytes).
//! * upload ([`registry`]): the registry API's publish request; a version that is
//!   already there with the same `dist.integrity` is `already-present`, with another
//!   one a failure naming both (the shared [`crate::existing`] decision).
//! * smoke ([`smoke`]): the packument and tarball at protocol level, a throwaway
//!   consumer project installing and importing the version with a fresh npm cache,
//!   and the upstream probe fetched twice through the registry.

pub mod build;
pub mod manifest;
pub mod registry;
pub mod smoke;
pub mod tool;

use std::path::PathBuf;

use pkgrun_core::config::{Config, Package};
use pkgrun_core::env::Resolved;
use pkgrun_core::secret::{RedactedUrl, Secret};
use pkgrun_core::state::{Artifact, ArtifactKind, PublishOutcome, StateDocument};
use pkgrun_core::Lang;

use crate::adapter::{Adapter, BuildJob, Context, ProbeEvidence};
use crate::failure::Failure;
use crate::health::Probe;
use crate::http::RegistryHttp;

use manifest::PackageJson;
use registry::Registry;
use tool::Client;

/// The variables of the environment contract this adapter reads.
pub const REGISTRY_VAR: &str = pkgrun_core::ecosystem::ts::NPM_REGISTRY_URL.name;

/// The TypeScript/npm adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ts;

/// A packed tarball, ready to upload.
#[derive(Debug, Clone)]
pub struct TsBuild {
    /// File name as the client wrote it (`ameideio-ameide-sdk-ts-0.1.0.tgz`).
    pub file: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// The tarball's own package.json.
    pub manifest: PackageJson,
    pub integrity: String,
    pub shasum: String,
    pub sha256: String,
    pub client: Client,
}

pub(crate) fn registry_url(env: &Resolved) -> Result<&RedactedUrl, Failure> {
    env.url(REGISTRY_VAR)
        .ok_or_else(|| Failure::usage(format!("{REGISTRY_VAR} is not set")))
}

pub(crate) fn token(env: &Resolved) -> Result<&Secret, Failure> {
    env.secret(tool::TOKEN_VAR)
        .ok_or_else(|| Failure::usage(format!("{} is not set", tool::TOKEN_VAR)))
}

pub(crate) fn registry<'a>(ctx: &'a Context) -> Result<Registry<'a>, Failure> {
    Ok(Registry::new(
        &ctx.http,
        registry_url(ctx.env)?,
        token(ctx.env)?,
    ))
}

impl Adapter for Ts {
    type Build = TsBuild;

    fn lang(&self) -> Lang {
        Lang::Ts
    }

    fn skipped_dirs(&self) -> &'static [&'static str] {
        // Dependency trees and build outputs of the source tree: the build makes its own.
        &["node_modules", "dist", ".turbo", ".pnpm-store"]
    }

    fn missing_tools(&self, config: &pkgrun_core::Config, phase: crate::Phase) -> Vec<String> {
        let mut missing: Vec<String> = [
            ("node", "Node.js (the consumer smoke imports the package)"),
            (
                "npm",
                "npm (packs npm workspaces, installs the consumer smoke project)",
            ),
        ]
        .iter()
        .filter_map(|(tool, what)| crate::tool::require_one_of(&[tool], what))
        .collect();
        if phase == crate::Phase::Publish {
            let pnpm_packages: Vec<&str> = config
                .section(Lang::Ts)
                .map(|s| s.packages.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|p| Client::detect(&p.dir, config.root()) == Client::Pnpm)
                .map(|p| p.name.as_str())
                .collect();
            if !pnpm_packages.is_empty() {
                let what = format!(
                    "pnpm (builds and packs {}, in a pnpm workspace)",
                    pnpm_packages.join(", ")
                );
                missing.extend(crate::tool::require_one_of(&["pnpm"], &what));
            }
        }
        missing
    }

    fn registry_url(&self, env: &Resolved) -> String {
        env.url(REGISTRY_VAR)
            .map(|u| u.without_credentials().to_string())
            .unwrap_or_default()
    }

    fn registry_kind(&self) -> &'static str {
        "npm registry (Verdaccio)"
    }

    fn probe_health(&self, http: &RegistryHttp, _config: &Config, base: &str) -> Probe {
        registry::probe_health(http, base)
    }

    fn build(&self, ctx: &Context, job: &BuildJob) -> Result<TsBuild, Failure> {
        build::build(ctx, job)
    }

    fn artifacts(&self, build: &TsBuild) -> Vec<Artifact> {
        vec![Artifact {
            file: build.file.clone(),
            kind: ArtifactKind::Tarball,
            size: build.bytes.len() as u64,
            sha256: build.sha256.clone(),
            h1: None,
            integrity: Some(build.integrity.clone()),
            shasum: Some(build.shasum.clone()),
        }]
    }

    fn upload(
        &self,
        ctx: &Context,
        job: &BuildJob,
        build: &mut TsBuild,
    ) -> Result<PublishOutcome, Failure> {
        registry::upload(ctx, job, build)
    }

    fn is_visible(&self, ctx: &Context, package: &Package, version: &str) -> Result<bool, Failure> {
        Ok(registry(ctx)?.published(&package.name, version)?.is_some())
    }

    fn check_protocol(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        smoke::check_protocol(ctx, package, doc)
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
