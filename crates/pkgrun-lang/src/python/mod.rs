//! Python adapter: wheel + sdist built with the project's own backend, uploaded to a
//! PyPI-compatible index (devpi) through the legacy upload API, checked through the
//! index's simple pages and a real `pip install` in a fresh venv.
//!
//! * [`pyproject`]: stamping `[project].version` and pinning siblings in the copy.
//! * [`metadata`]: the wheel's core metadata, sent as upload form fields.
//! * [`index`]: PEP 691 JSON / PEP 503 HTML project pages.
//! * [`upload`]: the legacy upload API and its re-upload semantics.
//! * [`consumer`]: the fresh-venv install and import, and the upstream probe.
//!
//! Environment (README, "Environment contract"; the names are constants in
//! `pkgrun_core::ecosystem::python`): `{PREFIX}_PYPI_REPOSITORY_URL` (upload endpoint, e.g. devpi's
//! `…/root/ameide/`), `{PREFIX}_PYPI_USERNAME`, `{PREFIX}_PYPI_PASSWORD`, and
//! `PIP_INDEX_URL` (the simple index consumers install from, `…/+simple/`). Child
//! processes get the index URL through their environment, never their arguments, since it
//! may carry credentials.

pub mod consumer;
pub mod index;
pub mod metadata;
pub mod pyproject;
pub mod upload;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pkgrun_core::config::Package;
use pkgrun_core::ecosystem::python as eco;
use pkgrun_core::env::Resolved;
use pkgrun_core::manifest::normalize_python_name;
use pkgrun_core::process::StepCommand;
use pkgrun_core::secret::{RedactedUrl, Secret};
use pkgrun_core::state::{Artifact, ArtifactKind, PublishOutcome, StateDocument};
use pkgrun_core::Lang;

use crate::adapter::{Adapter, BuildJob, Context, ProbeEvidence};
use crate::digest::sha256_hex;
use crate::failure::{Failure, FailureKind};

use self::metadata::CoreMetadata;
use self::pyproject::SiblingPin;

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

impl Python {
    fn build_command(&self, job: &BuildJob, out: &Path, env: &PyEnv) -> StepCommand {
        let cmd = match find_on_path("uv") {
            // Without --sdist/--wheel uv builds the sdist, then the wheel from the
            // sdist, as `python -m build` does: a file missing from the sdist fails here.
            Some(uv) => StepCommand::new(format!("uv build {}", job.package.name), uv)
                .args(["build", "--out-dir"])
                .arg(out)
                // Never fetch interpreters from the network during a publish.
                .env("UV_PYTHON_DOWNLOADS", "never"),
            None => StepCommand::new(
                format!("python -m build {}", job.package.name),
                python_program(),
            )
            .args(["-m", "build", "--outdir"])
            .arg(out),
        };
        let mut cmd = index_only(cmd, env)
            .current_dir(&job.workdir)
            .timeout(BUILD_TIMEOUT);
        if std::env::var_os("SOURCE_DATE_EPOCH").is_none_or(|v| v.is_empty()) {
            cmd = cmd.env("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH);
        }
        cmd
    }
}

impl Adapter for Python {
    type Build = PythonBuild;

    fn lang(&self) -> Lang {
        Lang::Python
    }

    fn missing_tools(&self) -> Vec<String> {
        // The build runs `uv build`, or `python -m build` without uv; venvs and pip
        // installs need the interpreter in any case.
        crate::tool::require_one_of(
            &["python3", "python"],
            "a Python interpreter (builds, venvs and pip)",
        )
        .into_iter()
        .collect()
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

    fn build(&self, ctx: &Context, job: &BuildJob) -> Result<PythonBuild, Failure> {
        let env = PyEnv::from(ctx)?;
        // The build resolves its backend (hatchling, setuptools, …) through the index:
        // an index that is down is "registry unreachable" (exit 5), not a failed build.
        // The package's own project page is small (the index root of a mirroring index
        // lists every upstream project); any HTTP answer, 404 included, means it is up.
        let page = index::project_page_url(env.index.expose(), &job.package.name);
        ctx.http.get(page.as_str())?;

        let manifest = job.workdir.join("pyproject.toml");
        let text = fs_err::read_to_string(&manifest)?;
        let pins: Vec<SiblingPin> = job
            .pins
            .iter()
            .map(|p| SiblingPin {
                name: p.package.name.clone(),
                version: p.version.clone(),
            })
            .collect();
        let edited = pyproject::stamp_and_pin(&text, &job.version, &pins).map_err(|e| {
            Failure::publish(format!("cannot stamp {} {}", job.package.name, job.version))
                .with_detail(e.to_string())
                .with_hint(
                    "pkgrun needs a static [project].version to replace (see docs/python.md)",
                )
        })?;
        fs_err::write(&manifest, edited)?;

        let out = ctx.scratch_dir(&format!("dist-{}", job.package.state_key))?;
        ctx.run(&self.build_command(job, &out, &env), FailureKind::Publish)
            .map_err(|f| {
                f.with_hint("the build's output is shown above (pkgrun runs `uv build` when uv is on PATH, else `python3 -m build`, which needs the `build` package)")
            })?;
        collect_build(&out, job)
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
        build: &PythonBuild,
    ) -> Result<PublishOutcome, Failure> {
        upload::upload(ctx, &PyEnv::from(ctx)?, job, build)
    }

    fn is_visible(&self, ctx: &Context, package: &Package, version: &str) -> Result<bool, Failure> {
        let env = PyEnv::from(ctx)?;
        let files = match upload::fetch_json_page(ctx, &env, &package.name)? {
            Some(files) => files,
            None => return Ok(false),
        };
        let of_version: Vec<_> = files
            .iter()
            .filter(|f| {
                index::version_of_filename(&f.filename)
                    .is_some_and(|v| index::same_version(v, version))
            })
            .collect();
        let wheel = of_version.iter().any(|f| f.filename.ends_with(".whl"));
        let sdist = of_version.iter().any(|f| !f.filename.ends_with(".whl"));
        Ok(wheel && sdist)
    }

    fn check_protocol(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        consumer::check_protocol(ctx, &PyEnv::from(ctx)?, package, doc)
    }

    fn check_consumer(
        &self,
        ctx: &Context,
        package: &Package,
        doc: &StateDocument,
    ) -> Result<String, Failure> {
        consumer::check_consumer(ctx, &PyEnv::from(ctx)?, package, doc)
    }

    fn probe_upstream(&self, ctx: &Context, target: &str) -> Result<ProbeEvidence, Failure> {
        consumer::probe_upstream(ctx, &PyEnv::from(ctx)?, target)
    }
}

/// The wheel and sdist the build left in `out`, checked against the job.
fn collect_build(out: &Path, job: &BuildJob) -> Result<PythonBuild, Failure> {
    let mut wheels = Vec::new();
    let mut sdists = Vec::new();
    for entry in fs_err::read_dir(out)? {
        let path = entry?.path();
        let Some(filename) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if filename.ends_with(".whl") {
            wheels.push((path, filename));
        } else if filename.ends_with(".tar.gz") || filename.ends_with(".zip") {
            sdists.push((path, filename));
        }
    }
    let what = format!("{} {}", job.package.name, job.version);
    let (wheel, sdist) = match (wheels.as_slice(), sdists.as_slice()) {
        ([w], [s]) => (w.clone(), s.clone()),
        _ => {
            let listed: Vec<&str> = wheels
                .iter()
                .chain(&sdists)
                .map(|(_, n)| n.as_str())
                .collect();
            return Err(Failure::publish(format!(
                "the build of {what} did not produce exactly one wheel and one sdist"
            ))
            .with_detail(format!("found: [{}]", listed.join(", "))));
        }
    };
    let metadata = metadata::read_wheel(&wheel.0).map_err(|e| {
        Failure::publish(format!("the wheel of {what} is unreadable")).with_detail(e.to_string())
    })?;
    let built_name = metadata.get("Name").unwrap_or_default();
    let built_version = metadata.get("Version").unwrap_or_default();
    if normalize_python_name(built_name) != normalize_python_name(&job.package.name)
        || !index::same_version(built_version, &job.version)
    {
        return Err(Failure::publish(format!(
            "the build of {what} produced {built_name} {built_version}"
        ))
        .with_hint(
            "the backend must take the name and the static [project].version from pyproject.toml",
        ));
    }
    let mut files = Vec::new();
    for ((path, filename), kind) in [(wheel, ArtifactKind::Wheel), (sdist, ArtifactKind::Sdist)] {
        let bytes = fs_err::read(&path)?;
        files.push(BuiltFile {
            sha256: sha256_hex(&bytes),
            path,
            filename,
            kind,
            bytes,
        });
    }
    Ok(PythonBuild { files, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_core::manifest::Manifest;

    fn package(dir: &Path) -> Package {
        Package {
            lang: Lang::Python,
            name: "ameide-telemetry".into(),
            path: "t".into(),
            dir: dir.to_path_buf(),
            state_key: "ameide-telemetry".into(),
            smoke: Vec::new(),
            manifest: Manifest {
                lang: Lang::Python,
                file: dir.join("pyproject.toml"),
                name: "ameide-telemetry".into(),
                base_version: Some("0.1.0".into()),
                dependencies: Vec::new(),
            },
            base_version: Some("0.1.0".into()),
        }
    }

    fn wheel(path: &Path, name: &str, version: &str) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        zip.start_file(
            "ameide_telemetry-x.dist-info/METADATA",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(
            &mut zip,
            format!("Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n").as_bytes(),
        )
        .unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn collects_the_wheel_then_the_sdist_with_digests() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        wheel(
            &out.join("ameide_telemetry-1.4.0-py3-none-any.whl"),
            "ameide_telemetry",
            "1.4.0",
        );
        fs_err::write(out.join("ameide_telemetry-1.4.0.tar.gz"), b"sdist bytes").unwrap();
        fs_err::write(out.join(".gitignore"), b"*").unwrap();
        let pkg = package(out);
        let job = BuildJob {
            package: &pkg,
            version: "1.4".into(),
            pins: Vec::new(),
            workdir: out.to_path_buf(),
        };
        let build = collect_build(out, &job).unwrap();
        let names: Vec<_> = build
            .files
            .iter()
            .map(|f| (f.filename.as_str(), f.kind))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "ameide_telemetry-1.4.0-py3-none-any.whl",
                    ArtifactKind::Wheel
                ),
                ("ameide_telemetry-1.4.0.tar.gz", ArtifactKind::Sdist)
            ]
        );
        assert_eq!(build.files[1].sha256, sha256_hex(b"sdist bytes"));
        let artifacts = Python.artifacts(&build);
        assert_eq!(artifacts[1].size, 11);
    }

    #[test]
    fn refuses_a_build_that_ignored_the_stamped_version() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        wheel(
            &out.join("ameide_telemetry-0.1.0-py3-none-any.whl"),
            "ameide-telemetry",
            "0.1.0",
        );
        fs_err::write(out.join("ameide_telemetry-0.1.0.tar.gz"), b"x").unwrap();
        let pkg = package(out);
        let job = BuildJob {
            package: &pkg,
            version: "1.4.0".into(),
            pins: Vec::new(),
            workdir: out.to_path_buf(),
        };
        let err = collect_build(out, &job).unwrap_err();
        assert_eq!(err.kind, FailureKind::Publish);
        assert!(
            err.message.contains("produced ameide-telemetry 0.1.0"),
            "{err}"
        );

        fs_err::remove_file(out.join("ameide_telemetry-0.1.0.tar.gz")).unwrap();
        let err = collect_build(out, &job).unwrap_err();
        assert!(
            err.message.contains("exactly one wheel and one sdist"),
            "{err}"
        );
    }
}
