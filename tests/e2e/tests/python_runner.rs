//! `pkgrun publish|smoke|run python` end to end: the `pkgrun` binary against a real
//! devpi-server on loopback (`root/ameide`, bases `root/pypi`, non-volatile), real `uv`
//! builds and real `pip` consumers, on copies of `examples/monorepo`.
//!
//! * the whole job on the example (state recorded, sibling pinned, workspace untouched),
//!   then a separate fresh venv installs the version the state records; a wrong password
//!   (exit 3, previous state intact); devpi stopped (exit 5, state intact);
//! * an override version published twice from the same sources (identical bytes: success,
//!   `already-present`, no duplicate file), then from changed sources (exit 3, both sha256
//!   named), then a package whose build backend fails (exit 3, its output shown with the
//!   standard prefix, the dependent skipped).

use anyhow::{ensure, Context, Result};
use pkgrun_e2e::process::Run;
use pkgrun_e2e::workspace::{example_copy, pkgrun_with_python_env, tree_digest};
use pkgrun_e2e::{tools_dir, Devpi, Venv};
use std::path::{Path, PathBuf};
use std::process::Command;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const SHA12: &str = "0123456789ab";

/// `pkgrun <args>` in `root` with the Python environment contract of `devpi`.
fn pkgrun(root: &Path, devpi: &Devpi, args: &[&str], extra: &[(&str, &str)]) -> Result<Run> {
    let mut cmd = pkgrun_with_python_env(root, devpi, SHA);
    cmd.args(args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Ok(Run::from(cmd.output().context("spawn pkgrun")?))
}

fn state_dir(root: &Path) -> PathBuf {
    root.join("tmp/tilt-packages")
}

fn read_state(root: &Path, key: &str) -> Result<serde_json::Value> {
    let path = state_dir(root).join(format!("{key}.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// The files (name, sha256) devpi's PEP 691 page lists for `project`.
fn index_files(devpi: &Devpi, project: &str) -> Result<Vec<(String, String)>> {
    let page: serde_json::Value = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("{}{project}/", devpi.simple_url()))
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()?
        .error_for_status()?
        .json()?;
    Ok(page["files"]
        .as_array()
        .context("files")?
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap_or_default().to_owned(),
                f["hashes"]["sha256"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect())
}

fn artifacts(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    doc["artifacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["file"].as_str().unwrap_or_default().to_owned(),
                        x["kind"].as_str().unwrap_or_default().to_owned(),
                        x["sha256"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn snapshot_version_ok(v: &str) -> bool {
    // 0.1.0.dev<yyyymmddhhmmss>+g<sha12>
    let Some(rest) = v.strip_prefix("0.1.0.dev") else {
        return false;
    };
    let Some((stamp, local)) = rest.split_once('+') else {
        return false;
    };
    stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()) && local == format!("g{SHA12}")
}

#[test]
fn run_python_publishes_smokes_and_records_state_then_fails_cleanly() -> Result<()> {
    let mut devpi = Devpi::start()?;
    let (tmp, root) = example_copy()?;
    let before = tree_digest(&root)?;

    // The consumers' index URL carries credentials here (as it may behind an
    // authenticating proxy): with all tool output shown, they must never be printed.
    let index_with_credentials = devpi.simple_url().replace(
        "http://",
        &format!("http://{}:{}@", devpi.username(), devpi.password()),
    );
    let run = pkgrun(
        &root,
        &devpi,
        &["run", "python"],
        &[("PIP_INDEX_URL", &index_with_credentials), ("VERBOSE", "1")],
    )?;
    ensure!(run.code == 0, "pkgrun run python failed:\n{run}");
    assert!(
        run.stderr.contains(" info | "),
        "VERBOSE=1 shows tool output: {run}"
    );
    assert!(
        !run.stderr.contains(devpi.password()) && !run.stdout.contains(devpi.password()),
        "the password was printed:\n{run}"
    );
    for entry in std::fs::read_dir(state_dir(&root))? {
        let text = std::fs::read_to_string(entry?.path())?;
        assert!(
            !text.contains(devpi.password()),
            "the password is in the state: {text}"
        );
    }
    assert!(
        run.stderr.contains("[packages:python-publish] ")
            && run.stderr.contains("[packages:python-smoke] "),
        "{run}"
    );
    assert_eq!(tree_digest(&root)?, before, "pkgrun changed the workspace");

    let telemetry = read_state(&root, "ameide-telemetry-python")?;
    let sdk = read_state(&root, "ameide-sdk-python")?;
    for (doc, project) in [(&telemetry, "ameide-telemetry"), (&sdk, "ameide-sdk")] {
        let version = doc["version"].as_str().unwrap_or_default();
        assert!(
            snapshot_version_ok(version),
            "bad snapshot version {version}"
        );
        assert_eq!(doc["package"], project);
        assert_eq!(doc["git_sha"], SHA12);
        assert_eq!(doc["registry"], devpi.simple_url().as_str());
        assert_eq!(doc["publish"]["outcome"], "uploaded");
        assert_eq!(doc["smoke"]["status"], "passed", "{doc:#}");
        let checks: Vec<_> = doc["smoke"]["checks"]
            .as_array()
            .context("checks")?
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default(),
                    c["status"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            checks,
            [("protocol", "passed"), ("consumer", "passed")],
            "{doc:#}"
        );
        let probe = &doc["smoke"]["upstream_probe"];
        assert_eq!(probe["target"], "requests==2.32.3");
        assert_eq!(probe["status"], "passed");
        let evidence = probe["evidence"].as_str().unwrap_or_default();
        assert!(
            evidence.contains(&format!("{}/root/pypi/+f/", devpi.url())),
            "the probe's file is not in devpi's file store: {evidence}"
        );

        // The state records exactly what the index serves: a wheel and an sdist.
        let recorded = artifacts(doc);
        let kinds: Vec<&str> = recorded.iter().map(|a| a.1.as_str()).collect();
        assert_eq!(kinds, ["wheel", "sdist"]);
        let mut listed = index_files(&devpi, project)?;
        listed.sort();
        let mut expected: Vec<(String, String)> = recorded
            .iter()
            .map(|a| (a.0.clone(), a.2.clone()))
            .collect();
        expected.sort();
        assert_eq!(listed, expected);
        assert!(
            recorded.iter().all(|a| a.0.contains(version)),
            "{recorded:?}"
        );
    }
    let telemetry_version = telemetry["version"].as_str().unwrap_or_default();
    let sdk_version = sdk["version"].as_str().unwrap_or_default();
    assert_eq!(
        sdk["dependencies"],
        serde_json::json!([{ "package": "ameide-telemetry", "version": telemetry_version }])
    );
    assert_eq!(
        std::fs::read_to_string(state_dir(&root).join("python-version"))?.trim(),
        sdk_version
    );

    // A separate consumer: a fresh venv installs the recorded version from the index only,
    // and gets the sibling at the version published in the same run.
    let venv = Venv::create(&tmp.path().join("consumer"))?;
    let out = venv
        .pip()
        .args(["install", "--no-cache-dir", "--index-url"])
        .arg(devpi.simple_url())
        .arg(format!("ameide-sdk=={sdk_version}"))
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_FIND_LINKS")
        .current_dir(tmp.path())
        .output()?;
    ensure!(
        out.status.success(),
        "pip install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(venv.python())
        .args([
            "-I",
            "-c",
            "import importlib.metadata as m, ameide_sdk, ameide_telemetry; \
             assert hasattr(ameide_sdk, 'Client'); \
             print(m.version('ameide-sdk'), m.version('ameide-telemetry')); \
             print(*m.requires('ameide-sdk'), sep='\\n')",
        ])
        .current_dir(tmp.path())
        .output()?;
    ensure!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{sdk_version} {telemetry_version}").as_str())
    );
    // The published metadata pins the sibling to this run's version (not a path, not a range).
    assert_eq!(
        lines.collect::<Vec<_>>(),
        [format!("ameide-telemetry=={telemetry_version}")]
    );

    // `pkgrun smoke python` alone checks what the state records.
    let run = pkgrun(&root, &devpi, &["smoke", "python"], &[])?;
    ensure!(run.code == 0, "pkgrun smoke python failed:\n{run}");
    assert!(!run.stderr.contains("[packages:python-publish]"), "{run}");

    // A configured symbol the package does not have: the consumer check fails (exit 4).
    let config_path = root.join("pkgrun.toml");
    let config = std::fs::read_to_string(&config_path)?;
    std::fs::write(
        &config_path,
        config.replace(
            "{ import = \"ameide_sdk\", symbol = \"Client\" }",
            "{ import = \"ameide_sdk\", symbol = \"NoSuchSymbol\" }",
        ),
    )?;
    let run = pkgrun(&root, &devpi, &["smoke", "python"], &[])?;
    std::fs::write(&config_path, &config)?;
    assert_eq!(run.code, 4, "{run}");
    assert!(
        run.stderr
            .contains("ameide_sdk has no attribute NoSuchSymbol"),
        "{run}"
    );
    let doc = read_state(&root, "ameide-sdk-python")?;
    assert_eq!(doc["smoke"]["status"], "failed");
    assert_eq!(doc["smoke"]["checks"][1]["name"], "consumer");
    assert_eq!(doc["smoke"]["checks"][1]["status"], "failed");

    // A recorded digest the registry does not serve: the protocol check fails (exit 4).
    let state_file = state_dir(&root).join("ameide-telemetry-python.json");
    let original = std::fs::read_to_string(&state_file)?;
    let (_, _, wheel_sha) = artifacts(&telemetry)
        .into_iter()
        .find(|a| a.1 == "wheel")
        .context("wheel")?;
    let bogus = "0".repeat(64);
    std::fs::write(&state_file, original.replace(&wheel_sha, &bogus))?;
    let run = pkgrun(&root, &devpi, &["smoke", "python"], &[])?;
    std::fs::write(&state_file, &original)?;
    assert_eq!(run.code, 4, "{run}");
    assert!(
        run.stderr
            .contains(&format!("says sha256 {wheel_sha}, the upload had {bogus}")),
        "{run}"
    );

    // A wrong password: exit 3 with a hint, the previous state untouched, no secret printed.
    let saved: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(state_dir(&root))?
        .map(|e| {
            let p = e?.path();
            let bytes = std::fs::read(&p)?;
            Ok((p, bytes))
        })
        .collect::<Result<_>>()?;
    let wrong = "not-the-password-7f3a";
    let run = pkgrun(
        &root,
        &devpi,
        &["publish", "python"],
        &[("AMEIDE_PYPI_PASSWORD", wrong)],
    )?;
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("HTTP 401"), "{run}");
    assert!(
        run.stderr.contains("AMEIDE_PYPI_PASSWORD"),
        "no hint: {run}"
    );
    assert!(
        !run.stderr.contains(wrong) && !run.stdout.contains(wrong),
        "secret leaked: {run}"
    );
    assert!(run.stderr.contains("skip ameide-sdk"), "{run}");
    for (path, bytes) in &saved {
        assert_eq!(&std::fs::read(path)?, bytes, "{} changed", path.display());
    }

    // The registry down: exit 5, state untouched.
    devpi.stop();
    let run = pkgrun(&root, &devpi, &["publish", "python"], &[])?;
    assert_eq!(run.code, 5, "{run}");
    for (path, bytes) in &saved {
        assert_eq!(&std::fs::read(path)?, bytes, "{} changed", path.display());
    }
    assert_eq!(tree_digest(&root)?, before, "pkgrun changed the workspace");
    Ok(())
}

#[test]
fn override_version_reupload_identical_conflict_and_build_failure() -> Result<()> {
    let devpi = Devpi::start()?;
    let (tmp, root) = example_copy()?;
    let version = [("AMEIDE_PYTHON_SDK_VERSION", "1.4.0")];

    let first = pkgrun(&root, &devpi, &["publish", "python"], &version)?;
    ensure!(first.code == 0, "first publish failed:\n{first}");
    let first_doc = read_state(&root, "ameide-telemetry-python")?;
    assert_eq!(first_doc["version"], "1.4.0");
    assert_eq!(first_doc["publish"]["outcome"], "uploaded");
    assert_eq!(first_doc["smoke"]["status"], "not-run");

    // Same sources, same version, a new build: byte-identical files, nothing uploaded.
    let second = pkgrun(&root, &devpi, &["publish", "python"], &version)?;
    ensure!(second.code == 0, "identical re-publish failed:\n{second}");
    for key in ["ameide-telemetry-python", "ameide-sdk-python"] {
        let doc = read_state(&root, key)?;
        assert_eq!(doc["publish"]["outcome"], "already-present", "{doc:#}");
    }
    let second_doc = read_state(&root, "ameide-telemetry-python")?;
    assert_eq!(
        artifacts(&second_doc),
        artifacts(&first_doc),
        "the rebuild is not reproducible"
    );
    for project in ["ameide-telemetry", "ameide-sdk"] {
        let files = index_files(&devpi, project)?;
        assert_eq!(files.len(), 2, "{project}: {files:?}");
    }

    // Without uv on PATH the build falls back to `python3 -m build` (here the pinned
    // tools' Python, which has `build`): same backend, same kind of files.
    let bin = tmp.path().join("no-uv-bin");
    std::fs::create_dir_all(&bin)?;
    // A wrapper, not a symlink: the venv's interpreter finds its pyvenv.cfg next to itself.
    let wrapper = bin.join("python3");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            tools_dir().join("pytools/bin/python3").display()
        ),
    )?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    }
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let fallback = pkgrun(
        &root,
        &devpi,
        &["publish", "python"],
        &[("AMEIDE_PYTHON_SDK_VERSION", "1.5.0"), ("PATH", &path)],
    )?;
    ensure!(
        fallback.code == 0,
        "publish with python -m build failed:\n{fallback}"
    );
    assert!(
        fallback
            .stderr
            .contains("ok   python -m build ameide-telemetry"),
        "{fallback}"
    );
    for project in ["ameide-telemetry", "ameide-sdk"] {
        let files = index_files(&devpi, project)?;
        let of_15: Vec<_> = files.iter().filter(|f| f.0.contains("-1.5.0")).collect();
        assert_eq!(of_15.len(), 2, "{project}: {files:?}");
    }

    // Changed sources under the same version: refused, both digests named.
    let module = root.join("packages/ameide_telemetry_python/src/ameide_telemetry/__init__.py");
    let mut text = std::fs::read_to_string(&module)?;
    text.push_str("\nCHANGED = True\n");
    std::fs::write(&module, text)?;
    let saved = std::fs::read(state_dir(&root).join("ameide-telemetry-python.json"))?;
    let third = pkgrun(&root, &devpi, &["publish", "python"], &version)?;
    assert_eq!(third.code, 3, "{third}");
    assert!(third.stderr.contains("different bytes"), "{third}");
    let (wheel, _, old_sha) = artifacts(&first_doc)
        .into_iter()
        .find(|a| a.1 == "wheel")
        .context("wheel")?;
    assert!(
        third.stderr.contains(&old_sha),
        "registry digest not named: {third}"
    );
    let line = third
        .stderr
        .lines()
        .find(|l| l.contains(&wheel) && l.contains("this build has sha256 "))
        .with_context(|| format!("new digest not named: {third}"))?;
    let new_sha = &line[line.find("this build has sha256 ").unwrap() + 22..][..64];
    assert!(
        new_sha.bytes().all(|b| b.is_ascii_hexdigit()) && new_sha != old_sha,
        "{line}"
    );
    assert!(third.stderr.contains("skip ameide-sdk"), "{third}");
    assert_eq!(
        std::fs::read(state_dir(&root).join("ameide-telemetry-python.json"))?,
        saved
    );

    // A build backend that fails: exit 3, its output shown with the standard prefix.
    let pkg = root.join("packages/ameide_telemetry_python");
    std::fs::write(
        pkg.join("broken_backend.py"),
        "import sys\n\ndef _fail(*args, **kwargs):\n    print('pkgrun-e2e: deliberate build failure', file=sys.stderr)\n    raise SystemExit(7)\n\nbuild_sdist = build_wheel = _fail\n",
    )?;
    let manifest = pkg.join("pyproject.toml");
    let text = std::fs::read_to_string(&manifest)?.replace(
        "requires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"",
        "requires = []\nbuild-backend = \"broken_backend\"\nbackend-path = [\".\"]",
    );
    std::fs::write(&manifest, text)?;
    let fourth = pkgrun(&root, &devpi, &["publish", "python"], &[])?;
    assert_eq!(fourth.code, 3, "{fourth}");
    assert!(
        fourth
            .stderr
            .lines()
            .any(|l| l.starts_with("[packages:python-publish] ")
                && l.contains(" info | ")
                && l.ends_with("pkgrun-e2e: deliberate build failure")),
        "the build's output is not shown with the standard prefix:\n{fourth}"
    );
    assert!(fourth.stderr.contains("skip ameide-sdk"), "{fourth}");
    Ok(())
}

/// Issue 18: a release override re-published from the same sources by a build whose bytes
/// differ (another `SOURCE_DATE_EPOCH`, as a backend that writes the build time would make
/// them) is `already-present` by the archives' contents; the state records the registry's
/// files (so the smoke's digest check passes); a real change is still refused.
#[test]
fn a_rebuild_with_other_bytes_but_the_same_contents_is_already_present() -> Result<()> {
    let devpi = Devpi::start()?;
    let (_tmp, root) = example_copy()?;
    let first = pkgrun(
        &root,
        &devpi,
        &["publish", "python"],
        &[
            ("AMEIDE_PYTHON_SDK_VERSION", "1.6.0"),
            ("SOURCE_DATE_EPOCH", "315532800"),
        ],
    )?;
    ensure!(first.code == 0, "first publish failed:\n{first}");
    let first_doc = read_state(&root, "ameide-telemetry-python")?;

    let second = pkgrun(
        &root,
        &devpi,
        &["run", "python"],
        &[
            ("AMEIDE_PYTHON_SDK_VERSION", "1.6.0"),
            ("SOURCE_DATE_EPOCH", "946684800"),
        ],
    )?;
    ensure!(
        second.code == 0,
        "re-run with other bytes failed:\n{second}"
    );
    assert!(
        second.stderr.contains("with other bytes")
            && second.stderr.contains("but the same contents"),
        "the rebuild's bytes did not differ, or were not compared by contents:\n{second}"
    );
    for key in ["ameide-telemetry-python", "ameide-sdk-python"] {
        let doc = read_state(&root, key)?;
        assert_eq!(doc["publish"]["outcome"], "already-present", "{doc:#}");
        assert_eq!(doc["smoke"]["status"], "passed", "{doc:#}");
    }
    assert_eq!(
        artifacts(&read_state(&root, "ameide-telemetry-python")?),
        artifacts(&first_doc),
        "the state must record the registry's files"
    );
    for project in ["ameide-telemetry", "ameide-sdk"] {
        let files = index_files(&devpi, project)?;
        assert_eq!(files.len(), 2, "nothing new uploaded: {project}: {files:?}");
    }

    let module = root.join("packages/ameide_telemetry_python/src/ameide_telemetry/__init__.py");
    let mut text = std::fs::read_to_string(&module)?;
    text.push_str("\nCHANGED = True\n");
    std::fs::write(&module, text)?;
    let third = pkgrun(
        &root,
        &devpi,
        &["publish", "python"],
        &[
            ("AMEIDE_PYTHON_SDK_VERSION", "1.6.0"),
            ("SOURCE_DATE_EPOCH", "315532800"),
        ],
    )?;
    assert_eq!(third.code, 3, "{third}");
    // The sdist's first difference is the changed module itself.
    assert!(
        third.stderr.contains(
            "the contents differ: ameide_telemetry-1.6.0/src/ameide_telemetry/__init__.py differs (content)"
        ),
        "{third}"
    );
    Ok(())
}

/// Issue 17: packages on a beta line (`version = "0.4.0b2"`) publish snapshots
/// `0.4.0b2.dev<ts>+g<sha12>` that devpi takes and the smoke's fresh venv installs with
/// pip; the dependent is pinned to its sibling's snapshot.
#[test]
fn prerelease_bases_publish_dev_releases_of_the_beta() -> Result<()> {
    let devpi = Devpi::start()?;
    let (_tmp, root) = example_copy()?;
    for dir in ["ameide_sdk_python", "ameide_telemetry_python"] {
        let manifest = root.join("packages").join(dir).join("pyproject.toml");
        let text = std::fs::read_to_string(&manifest)?;
        let beta = text.replacen("version = \"0.1.0\"", "version = \"0.4.0b2\"", 1);
        ensure!(beta != text, "{dir}/pyproject.toml has no version 0.1.0");
        std::fs::write(&manifest, beta)?;
    }
    let run = pkgrun(&root, &devpi, &["run", "python"], &[])?;
    ensure!(
        run.code == 0,
        "pkgrun run python on a beta line failed:\n{run}"
    );
    let telemetry = read_state(&root, "ameide-telemetry-python")?;
    let sdk = read_state(&root, "ameide-sdk-python")?;
    let version = sdk["version"].as_str().context("version")?.to_owned();
    let stamp = version
        .strip_prefix("0.4.0b2.dev")
        .and_then(|rest| rest.strip_suffix(&format!("+g{SHA12}")))
        .with_context(|| format!("not a dev release of 0.4.0b2: {version}"))?;
    assert!(
        stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()),
        "{version}"
    );
    assert_eq!(sdk["smoke"]["status"], "passed", "{sdk:#}");
    assert_eq!(telemetry["smoke"]["status"], "passed", "{telemetry:#}");
    assert_eq!(sdk["dependencies"][0]["version"], telemetry["version"]);
    let files = index_files(&devpi, "ameide-sdk")?;
    let stem = format!("0.4.0b2.dev{stamp}");
    assert!(
        files.iter().any(|(name, _)| name.contains(&stem)),
        "devpi lists no file of {version}: {files:?}"
    );
    Ok(())
}

/// Issue 18: the same sources published twice (a retried CI job re-publishing a release
/// override) are `already-present`, not a conflict, for the common build backends besides
/// the example's hatchling: setuptools, flit-core and poetry-core, each building a wheel and
/// an sdist with uv through devpi (whose mirror serves the backends).
#[test]
fn the_same_sources_published_twice_are_already_present_for_every_common_backend() -> Result<()> {
    let devpi = Devpi::start()?;
    for backend in BACKENDS {
        let tmp = tempfile::tempdir()?;
        let root = tmp.path();
        backend.write_package(root)?;
        // Publishes the override and returns the state document after checking the outcome.
        let publish = |expected: &str| -> Result<serde_json::Value> {
            let env = [("AMEIDE_PYTHON_SDK_VERSION", "2.0.0")];
            let run = pkgrun(root, &devpi, &["publish", "python"], &env)?;
            ensure!(
                run.code == 0,
                "{}: publish ({expected}):\n{run}",
                backend.project
            );
            let doc = read_state(root, "repro")?;
            ensure!(
                doc["publish"]["outcome"] == expected,
                "{}: {doc:#}",
                backend.project
            );
            Ok(doc)
        };
        let doc = publish("uploaded")?;
        let kinds: Vec<&str> = doc["artifacts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["kind"].as_str())
            .collect();
        ensure!(
            kinds.contains(&"wheel") && kinds.contains(&"sdist"),
            "{}: {kinds:?}",
            backend.project
        );
        // The same sources again: nothing to upload, not a conflict.
        publish("already-present")?;
        let files = index_files(&devpi, backend.project)?;
        ensure!(
            files.len() == 2,
            "{}: nothing new uploaded: {files:?}",
            backend.project
        );
    }
    Ok(())
}

/// A one-package workspace built by a given backend.
struct Backend {
    project: &'static str,
    module: &'static str,
    build_system: &'static str,
    extra: &'static str,
}

const BACKENDS: [Backend; 3] = [
    Backend {
        project: "repro-setuptools",
        module: "repro_setuptools",
        build_system: "requires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"",
        extra: "[tool.setuptools]\npackages = [\"repro_setuptools\"]\n",
    },
    Backend {
        project: "repro-flit",
        module: "repro_flit",
        build_system: "requires = [\"flit_core>=3.4,<4\"]\nbuild-backend = \"flit_core.buildapi\"",
        extra: "",
    },
    Backend {
        project: "repro-poetry",
        module: "repro_poetry",
        build_system:
            "requires = [\"poetry-core>=2.0\"]\nbuild-backend = \"poetry.core.masonry.api\"",
        extra: "[tool.poetry]\npackages = [{ include = \"repro_poetry\" }]\n",
    },
];

impl Backend {
    fn write_package(&self, root: &Path) -> Result<()> {
        let write = |rel: &str, text: &str| -> Result<()> {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().context("parent")?)?;
            Ok(std::fs::write(path, text)?)
        };
        write(
            "pkgrun.toml",
            &format!(
                "env_prefix = \"AMEIDE\"\n\n[[python.packages]]\nname = \"{}\"\npath = \"pkg\"\nstate_key = \"repro\"\nsmoke = [ {{ import = \"{}\", symbol = \"NAME\" }} ]\n",
                self.project, self.module
            ),
        )?;
        write(
            "pkg/pyproject.toml",
            &format!(
                "[build-system]\n{}\n\n[project]\nname = \"{}\"\nversion = \"0.1.0\"\ndescription = \"Reproducibility probe\"\nrequires-python = \">=3.9\"\n\n{}",
                self.build_system, self.project, self.extra
            ),
        )?;
        write(
            &format!("pkg/{}/__init__.py", self.module),
            "\"\"\"Reproducibility probe.\"\"\"\n\nNAME = \"probe\"\n",
        )?;
        Ok(())
    }
}
