//! Python adapter: wheel + sdist built with the project's own backend, uploaded to a
//! PyPI-compatible index (devpi) through the legacy upload API, checked through the
//! index's simple pages and a real `pip install` in a fresh venv.
//!
//! * [`pyproject`]: stamping `[project].version` and pinning siblings in the copy.
//! * [`metadata`]: the wheel's core metadata, sent as upload form fields.
//! * [`index`]: PEP 691 JSON / PEP 503 HTML project pages.
//! * [`build`]: stamp and pin the copy's `pyproject.toml`, build the wheel and sdist
//!   with the project's backend and collect them.
//! * [`registry`]: the legacy upload API, its re-upload semantics (the shared
//!   [`crate::existing`] decision) and visibility.
//! * [`smoke`]: the index's pages (protocol check), the fresh-venv install and import,
//!   and the upstream probe.
//!
//! Environment (README, "Environment contract"; the names are constants in
//! `pkgrun_core::ecosystem::python`): `{PREFIX}_PYPI_REPOSITORY_URL` (upload endpoint, e.g. devpi's
//! `…/root/ameide/`), `{PREFIX}_PYPI_USERNAME`, `{PREFIX}_PYPI_PASSWORD`, and
//! `PIP_INDEX_URL` (the simple index consumers install from, `…/+simple/`). Child
//! processes get the index URL through their environment, never their arguments, since it
//! may carry credentials.

pub mod build;
pub mod index;
pub mod metadata;
pub mod pyproject;
pub mod registry;
pub mod smoke;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use pkgrun_core::config::{Config, Package};
use pkgrun_core::ecosystem::python as eco;
use pkgrun_core::env::Resolved;
use pkgrun_core::process::StepCommand;
use pkgrun_core::secret::{RedactedUrl, Secret};
use pkgrun_core::state::{Artifact, ArtifactKind, PublishOutcome, StateDocument};
use pkgrun_core::Lang;

use crate::adapter::{Adapter, BuildJob, Context, ProbeEvidence};
use crate::failure::Failure;
use crate::health::Probe;
use crate::http::RegistryHttp;

use self::metadata::CoreMetadata;

/// `SOURCE_DATE_EPOCH` for builds when the caller did not set one: 1980-01-02T00:00:00Z.
/// Backends that honour it (hatchling, flit, setuptools' wheels, uv's backend) then write
/// the same bytes for the same sources and version, so re-running a publish of an
/// override version finds identical files instead of a conflict. (1980-01-01 is the zip
/// format's epoch; one day later stays valid in every time zone.)
pub const DEFAULT_SOURCE_DATE_EPOCH: &str = "315619200";

/// How long one build may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Variables that would let a child resolve packages from somewhere other than the
/// index of the contract (local wheel directories, extra indexes, another default index).
pub(crate) const BYPASS_VARS: &[&str] = &[
    "PIP_FIND_LINKS",
    "PIP_EXTRA_INDEX_URL",
    "PIP_NO_INDEX",
    "PIP_INDEX",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_NO_INDEX",
    "UV_OFFLINE",
];

/// The Python adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Python;

/// One built distribution file.
#[derive(Debug, Clone)]
pub struct BuiltFile {
    pub path: PathBuf,
    pub filename: String,
    pub kind: ArtifactKind,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// What `build` produced: the wheel, then the sdist, and the wheel's core metadata.
#[derive(Debug, Clone)]
pub struct PythonBuild {
    pub files: Vec<BuiltFile>,
    pub metadata: CoreMetadata,
}

/// The checked Python environment of the contract.
pub(crate) struct PyEnv<'a> {
    pub repository: &'a RedactedUrl,
    pub username: &'a str,
    pub password: &'a Secret,
    pub index: &'a RedactedUrl,
}

impl<'a> PyEnv<'a> {
    pub fn from(ctx: &'a Context) -> Result<Self, Failure> {
        let prefix = ctx.config.env_prefix();
        let missing = |name: String| {
            Failure::internal(format!("{name} was not checked before the Python run"))
        };
        let repo_var = eco::PYPI_REPOSITORY_URL.name(prefix);
        let user_var = eco::PYPI_USERNAME.name(prefix);
        let pass_var = eco::PYPI_PASSWORD.name(prefix);
        Ok(PyEnv {
            repository: ctx
                .env
                .url(&repo_var)
                .ok_or_else(|| missing(repo_var.clone()))?,
            username: ctx
                .env
                .text(&user_var)
                .ok_or_else(|| missing(user_var.clone()))?,
            password: ctx
                .env
                .secret(&pass_var)
                .ok_or_else(|| missing(pass_var.clone()))?,
            index: ctx
                .env
                .url(eco::PIP_INDEX_URL.name)
                .ok_or_else(|| missing(eco::PIP_INDEX_URL.name.into()))?,
        })
    }

    /// The full index URL (credentials included) for a child's environment.
    pub fn index_for_child(&self) -> &str {
        self.index.expose().as_str()
    }
}

pub(crate) use crate::tool::find_on_path;

/// `python3`, or `python` when only that exists.
pub(crate) fn python_program() -> OsString {
    if find_on_path("python3").is_some() || find_on_path("python").is_none() {
        "python3".into()
    } else {
        "python".into()
    }
}

/// A child that resolves Python packages only from the contract's index.
pub(crate) fn index_only(mut cmd: StepCommand, env: &PyEnv) -> StepCommand {
    for var in BYPASS_VARS {
        cmd = cmd.env_remove(var);
    }
    // As secrets: the URL may carry credentials, and secret values never show in the
    // command's Debug output.
    let index = Secret::new(env.index_for_child());
    cmd.env_secret("PIP_INDEX_URL", &index)
        .env_secret("UV_DEFAULT_INDEX", &index)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
}

impl Adapter for Python {
    type Build = PythonBuild;

    fn lang(&self) -> Lang {
        Lang::Python
    }

    fn missing_tools(&self, _: &pkgrun_core::Config, phase: crate::Phase) -> Vec<String> {
        // The build runs `uv build`, or `python -m build` without uv; the consumer smoke
        // makes a venv and installs into it with the interpreter's pip.
        if let Some(missing) = crate::tool::require_one_of(
            &["python3", "python"],
            "a Python interpreter (builds, venvs and pip)",
        ) {
            return vec![missing];
        }
        let python = python_program();
        let lacks = |modules: &str| {
            let probe = StepCommand::new("python module probe", &python)
                .args(["-c", &format!("import {modules}")])
                .timeout(Duration::from_secs(30));
            !pkgrun_core::process::succeeds_quietly(&probe)
        };
        let name = python.to_string_lossy();
        let mut missing = Vec::new();
        if phase == crate::Phase::Publish && find_on_path("uv").is_none() && lacks("build") {
            missing.push(format!(
                "uv, or the `build` module for {name} (builds wheels and sdists): neither uv is on PATH nor can {name} import build"
            ));
        }
        if lacks("venv, pip") {
            missing.push(format!(
                "the `venv` and `pip` modules of {name} (the consumer smoke installs into a fresh venv)"
            ));
        }
        missing
    }

    fn skipped_dirs(&self) -> &'static [&'static str] {
        &[
            "dist",
            "build",
            ".venv",
            "venv",
            "__pycache__",
            ".pytest_cache",
            ".mypy_cache",
            ".ruff_cache",
            ".tox",
            ".nox",
        ]
    }

    fn registry_url(&self, env: &Resolved) -> String {
        env.url(eco::PIP_INDEX_URL.name)
            .map(|u| u.without_credentials().to_string())
            .unwrap_or_default()
    }

    fn registry_kind(&self) -> &'static str {
        "devpi"
    }

    fn probe_health(&self, http: &RegistryHttp, _config: &Config, base: &str) -> Probe {
        index::probe_health(http, base)
    }

    fn build(&self, ctx: &Context, job: &BuildJob) -> Result<PythonBuild, Failure> {
        build::build(ctx, job)
    }

    fn artifacts(&self, build: &PythonBuild) -> Vec<Artifact> {
        build
            .files
            .iter()
            .map(|f| Artifact {
                file: f.filename.clone(),
                kind: f.kind,
                size: f.bytes.len() as u64,
                sha256: f.sha256.clone(),
                h1: None,
                integrity: None,
                shasum: None,
            })
            .collect()
    }

    fn upload(
        &self,
        ctx: &Context,
        job: &BuildJob,
        build: &mut PythonBuild,
    ) -> Result<PublishOutcome, Failure> {
        registry::upload(ctx, &PyEnv::from(ctx)?, job, build)
    }

    fn is_visible(&self, ctx: &Context, package: &Package, version: &str) -> Result<bool, Failure> {
        registry::is_visible(ctx, &PyEnv::from(ctx)?, &package.name, version)
    }

    fn check_protocol(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        smoke::check_protocol(ctx, &PyEnv::from(ctx)?, package, doc)
    }

    fn check_consumer(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        smoke::check_consumer(ctx, &PyEnv::from(ctx)?, package, doc)
    }

    fn probe_upstream(&self, ctx: &Context, target: &str) -> Result<ProbeEvidence, Failure> {
        smoke::probe_upstream(ctx, &PyEnv::from(ctx)?, target)
    }
}
