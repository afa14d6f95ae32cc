//! Stamping and building: `[project].version` and the sibling pins written into the
//! copy's `pyproject.toml`, then the wheel and sdist built by the project's own backend
//! (`uv build`, or `python -m build` without uv) and collected with their metadata.

use std::path::Path;

use pkgrun_core::process::StepCommand;
use pkgrun_core::state::ArtifactKind;

use pkgrun_core::manifest::normalize_python_name;

use super::metadata;
use super::pyproject::{self, SiblingPin};
use super::{
    find_on_path, index, index_only, python_program, BuiltFile, PyEnv, PythonBuild, BUILD_TIMEOUT,
    DEFAULT_SOURCE_DATE_EPOCH,
};
use crate::adapter::{BuildJob, Context};
use crate::digest::sha256_hex;
use crate::failure::{Failure, FailureKind};

/// Stamps and pins the copy, builds it and collects the wheel and the sdist.
pub(crate) fn build(ctx: &Context, job: &BuildJob) -> Result<PythonBuild, Failure> {
    let env = PyEnv::from(ctx)?;
    // The build resolves its backend (hatchling, setuptools, …) through the index:
    // an index that is down is "registry unreachable" (exit 5), not a failed build.
    // A HEAD of the index server's root names no project (see `server_root_url`);
    // any HTTP answer, 404 included, means it is up. It is a logged step: with retries
    // it can take a while.
    let root = index::server_root_url(env.index.expose());
    let step = ctx.log.step(format!(
        "check that the index server {} answers",
        index::server_root_url(&env.index.without_credentials())
    ));
    match ctx.http.send(root.as_str(), |c| c.head(root.as_str())) {
        Ok(_) => drop(step.ok()),
        Err(e) => {
            step.fail(&e.message);
            return Err(e);
        }
    }
    stamp(job)?;
    let out = ctx.scratch_dir(&format!("dist-{}", job.package.state_key))?;
    ctx.run(&build_command(job, &out, &env), FailureKind::Publish)
        .map_err(|f| {
            f.with_hint("the build's output is shown above (pkgrun runs `uv build` when uv is on PATH, else `python3 -m build`, which needs the `build` package)")
        })?;
    collect_build(&out, job)
}

/// Writes the version and the sibling pins into the copy's `pyproject.toml`.
fn stamp(job: &BuildJob) -> Result<(), Failure> {
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
            .with_hint("pkgrun needs a static [project].version to replace (see docs/python.md)")
    })?;
    fs_err::write(&manifest, edited)?;
    Ok(())
}

/// `uv build` when uv is on `PATH`, else `python -m build`, index-only.
fn build_command(job: &BuildJob, out: &Path, env: &PyEnv) -> StepCommand {
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
    use super::super::Python;
    use super::*;
    use crate::adapter::Adapter;
    use pkgrun_core::config::Package;
    use pkgrun_core::manifest::Manifest;
    use pkgrun_core::Lang;

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
