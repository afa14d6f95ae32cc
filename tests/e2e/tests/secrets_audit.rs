//! Secrets audit (issue 18): `pkgrun run` for Go, Python and TypeScript at once against the
//! real go-registry, devpi and Verdaccio on loopback, with distinctive credentials, while
//! [`ProcAudit`] samples `/proc/<pid>/environ` and `cmdline` of every descendant of pkgrun.
//!
//! pkgrun sends every upload itself (Go's `POST /upload`, devpi's upload, npm's publish
//! `PUT`), so **no** child (uv/pip builds, pip installs, imports, npm/pnpm installs and
//! build scripts, node imports, the go command, the Go smoke program) may hold any of the
//! credentials, in its environment or its arguments. Then a failing run (wrong credentials
//! for all three, exit 3) must not show them either. For both runs: never in stdout or
//! stderr, the state files, the JSON and JUnit reports, or any file left in the run's
//! TMPDIR, HOME or workspace.
//!
//! The audit is shown to see secrets where they are: `pkgrun step` (the user's own
//! command, which inherits the whole environment on purpose) must be caught holding the
//! Go token. And it must have seen the go command, npm, node and a Python tool, so a
//! sampler that saw nothing cannot pass.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result};
use pkgrun_e2e::go::{pkgrun_with_go_env, GoRegistry, GoRegistryOptions};
use pkgrun_e2e::proc_audit::{contains, files_holding, AuditReport, ProcAudit};
use pkgrun_e2e::workspace::{example_copy, tools_path};
use pkgrun_e2e::{Devpi, Verdaccio};

const GO_TOKEN: &str = "audit-go-token-7c3e91d2a4";

/// A copy of the example, with a HOME and a TMPDIR of its own.
struct Audited {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    tmpdir: PathBuf,
    out: PathBuf,
    _example: tempfile::TempDir,
}

impl Audited {
    fn new() -> Result<Self> {
        let (example, root) = example_copy()?;
        let tmp = tempfile::Builder::new()
            .prefix("pkgrun-secrets-audit-")
            .tempdir()?;
        let [home, tmpdir, out] = ["home", "tmp", "out"].map(|d| tmp.path().join(d));
        for dir in [&home, &tmpdir, &out] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Audited {
            _tmp: tmp,
            root,
            home,
            tmpdir,
            out,
            _example: example,
        })
    }

    /// `pkgrun <args>` with the three languages' contracts and `secrets` as credentials.
    fn command(&self, registries: &Registries, secrets: &Secrets, args: &[&str]) -> Command {
        let mut cmd = pkgrun_with_go_env(&self.root, registries.go.url(), &secrets.go);
        cmd.env("PATH", tools_path())
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmpdir)
            .env("AMEIDE_PYPI_REPOSITORY_URL", registries.devpi.upload_url())
            .env("AMEIDE_PYPI_USERNAME", registries.devpi.username())
            .env("AMEIDE_PYPI_PASSWORD", &secrets.pypi)
            .env("PIP_INDEX_URL", registries.devpi.simple_url())
            .env("NPM_REGISTRY_URL", registries.npm.url())
            .env("NPM_AUTH_TOKEN", &secrets.npm)
            .env_remove("AMEIDE_PYTHON_SDK_VERSION")
            .env_remove("AMEIDE_TS_SDK_VERSION")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("CI")
            .args(args);
        cmd
    }

    /// Runs `cmd` under the audit; stdout and stderr go to files in `out`.
    fn run_audited(&self, label: &str, mut cmd: Command, secrets: &Secrets) -> Result<Audit> {
        let stdout = self.out.join(format!("{label}.stdout"));
        let stderr = self.out.join(format!("{label}.stderr"));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout)?)
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .context("start pkgrun")?;
        let audit = ProcAudit::start(child.id(), secrets.named());
        let status = child.wait()?;
        let report = audit.finish();
        Ok(Audit {
            status,
            report,
            stdout: std::fs::read(&stdout)?,
            stderr: String::from_utf8_lossy(&std::fs::read(&stderr)?).into_owned(),
        })
    }

    /// Files under the workspace (state included), HOME, TMPDIR and the reports that
    /// hold a secret.
    fn files_holding(&self, secrets: &Secrets) -> Vec<(String, String)> {
        let named = secrets.named();
        let mut found = Vec::new();
        for dir in [&self.root, &self.home, &self.tmpdir] {
            found.extend(files_holding(dir, &named));
        }
        for report in ["report.json", "junit.xml"] {
            let path = self.out.join(report);
            let bytes = std::fs::read(&path).unwrap_or_default();
            for (name, value) in &named {
                if contains(&bytes, value.as_bytes()) {
                    found.push((path.display().to_string(), name.clone()));
                }
            }
        }
        found
    }

    fn state_bytes(&self) -> BTreeMap<String, Vec<u8>> {
        let dir = self.root.join("tmp/tilt-packages");
        std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect()
    }
}

struct Registries {
    go: GoRegistry,
    devpi: Devpi,
    npm: Verdaccio,
}

struct Secrets {
    go: String,
    pypi: String,
    npm: String,
}

impl Secrets {
    fn named(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("GO_REGISTRY_TOKEN".to_string(), self.go.clone()),
            ("AMEIDE_PYPI_PASSWORD".to_string(), self.pypi.clone()),
            ("NPM_AUTH_TOKEN".to_string(), self.npm.clone()),
        ])
    }
}

struct Audit {
    status: ExitStatus,
    report: AuditReport,
    stdout: Vec<u8>,
    stderr: String,
}

impl Audit {
    /// No child held a secret, and neither output shows one.
    fn assert_clean(&self, secrets: &Secrets, what: &str) {
        assert!(
            self.report.sightings.is_empty(),
            "{what}: children held credentials: {:#?}\nprograms seen: {:?}",
            self.report.sightings,
            self.report.programs
        );
        for (name, value) in secrets.named() {
            assert!(
                !contains(&self.stdout, value.as_bytes()),
                "{what}: stdout shows {name}"
            );
            assert!(
                !self.stderr.contains(&value),
                "{what}: stderr shows {name}:\n{}",
                self.stderr
            );
        }
    }
}

fn assert_saw_every_language_s_tools(report: &AuditReport) {
    let programs = &report.programs;
    assert!(report.saw_any(&["go"]), "no go command seen: {programs:?}");
    assert!(
        report.saw_any(&["npm", "pnpm"]),
        "no npm/pnpm seen: {programs:?}"
    );
    assert!(report.saw_any(&["node"]), "no node seen: {programs:?}");
    assert!(
        report.saw_any(&["uv", "python", "python3"]),
        "no Python tool seen: {programs:?}"
    );
}

#[test]
fn no_child_of_a_three_language_run_holds_a_credential_and_none_is_left_anywhere() -> Result<()> {
    let registries = Registries {
        go: GoRegistry::start(GoRegistryOptions {
            token: GO_TOKEN.to_string(),
            upstream_from_go_env: true,
            ..Default::default()
        })?,
        devpi: Devpi::start()?,
        npm: Verdaccio::start()?,
    };
    let secrets = Secrets {
        go: GO_TOKEN.to_string(),
        pypi: registries.devpi.password().to_string(),
        npm: registries.npm.token().to_string(),
    };
    let ws = Audited::new()?;

    // The audit sees a secret where one is: the user's own command inherits everything.
    let control = ws.command(
        &registries,
        &secrets,
        &["step", "--name", "control", "--", "sleep", "1"],
    );
    let control = ws.run_audited("control", control, &secrets)?;
    assert!(control.status.success(), "{}", control.stderr);
    assert!(
        control
            .report
            .sightings
            .iter()
            .any(|s| s.secret == "GO_REGISTRY_TOKEN" && s.place == "environ"),
        "the audit did not see the token in `pkgrun step`'s child: {:?}",
        control.report
    );

    let report_json = ws.out.join("report.json");
    let junit = ws.out.join("junit.xml");
    let run = ws.command(
        &registries,
        &secrets,
        &[
            "run",
            "--report-json",
            &report_json.display().to_string(),
            "--junit",
            &junit.display().to_string(),
        ],
    );
    let audit = ws.run_audited("run", run, &secrets)?;
    assert_eq!(audit.status.code(), Some(0), "{}", audit.stderr);
    assert_saw_every_language_s_tools(&audit.report);
    audit.assert_clean(&secrets, "pkgrun run");
    assert!(report_json.is_file() && junit.is_file());
    let leaked = ws.files_holding(&secrets);
    assert!(leaked.is_empty(), "files holding credentials: {leaked:?}");
    let state_before = ws.state_bytes();
    for lang in ["go", "python", "ts"] {
        let file = format!("{lang}-version");
        assert!(
            state_before.contains_key(&file),
            "no {file}: {:?}",
            state_before.keys()
        );
    }

    // Wrong credentials for all three: every upload is refused (exit 3), and the wrong
    // values leak nowhere either; the state of the first run is untouched.
    let wrong = Secrets {
        go: "audit-wrong-go-5b8d0e".to_string(),
        pypi: "audit-wrong-pypi-9a2c4f".to_string(),
        npm: "audit-wrong-npm-1e6f3b".to_string(),
    };
    let publish = ws.command(&registries, &wrong, &["publish"]);
    let failed = ws.run_audited("wrong", publish, &wrong)?;
    assert_eq!(failed.status.code(), Some(3), "{}", failed.stderr);
    failed.assert_clean(&wrong, "pkgrun publish with wrong credentials");
    for lang in ["go", "python", "ts"] {
        assert!(
            failed
                .stderr
                .lines()
                .any(|l| l.starts_with(&format!("[packages:{lang}-publish]"))
                    && l.contains(" fail ")),
            "{lang} did not fail:\n{}",
            failed.stderr
        );
    }
    let leaked = ws.files_holding(&wrong);
    assert!(leaked.is_empty(), "files holding credentials: {leaked:?}");
    assert_eq!(
        ws.state_bytes(),
        state_before,
        "a failed run changed the state"
    );
    Ok(())
}
