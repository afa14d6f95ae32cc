//! Languages at once: `pkgrun publish go python` against the real go-registry, with the
//! Python index down (a port nothing listens on — a real connection refused), so one
//! language succeeds while the other fails. Concurrently, Python's first line comes
//! while Go is still publishing; with `--jobs 1` every Go line comes first. Either way
//! Go's state is written, the failing language does not stop it, and the exit code is
//! the worst failure's. And the live view: under a pseudo-terminal (`script`) the run
//! shows one line per language instead of plain log lines, and `CI` turns it back to
//! plain lines.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use pkgrun_e2e::go::{pkgrun_with_go_env, GoRegistry, GoRegistryOptions};
use pkgrun_e2e::{copy_tree, example_monorepo, free_port};

fn example() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    copy_tree(&example_monorepo(), dir.path())?;
    Ok(dir)
}

/// Go pointed at `registry`, Python at an index that refuses connections.
fn publish(root: &Path, registry: &GoRegistry, args: &[&str]) -> Command {
    let dead_index = format!("http://127.0.0.1:{}/root/ameide/", free_port());
    let mut cmd = pkgrun_with_go_env(root, registry.url(), registry.token());
    cmd.env("PATH", pkgrun_e2e::workspace::tools_path())
        .env("AMEIDE_PYPI_REPOSITORY_URL", &dead_index)
        .env("AMEIDE_PYPI_USERNAME", "ci")
        .env("AMEIDE_PYPI_PASSWORD", "not-used-8c1f")
        .env("PIP_INDEX_URL", format!("{dead_index}+simple/"))
        .env_remove("AMEIDE_PYTHON_SDK_VERSION")
        .env_remove("CI")
        .args(["publish"])
        .args(args);
    cmd
}

/// Index of the first and last stderr line of `lang`'s publish.
fn span(stderr: &str, lang: &str) -> (usize, usize) {
    let tag = format!("[packages:{lang}-publish]");
    let lines: Vec<usize> = stderr
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(&tag))
        .map(|(i, _)| i)
        .collect();
    assert!(!lines.is_empty(), "no {tag} lines in:\n{stderr}");
    (lines[0], *lines.last().unwrap())
}

fn go_state_written(root: &Path) -> bool {
    ["ameide-telemetry-go", "ameide-sdk-go"]
        .iter()
        .all(|k| root.join(format!("tmp/tilt-packages/{k}.json")).is_file())
}

#[test]
fn languages_run_at_once_and_a_failing_one_does_not_stop_the_other() -> Result<()> {
    let registry = GoRegistry::start(GoRegistryOptions::default())?;
    let ws = example()?;
    let reports = tempfile::tempdir()?;
    let (json, junit, summary) = (
        reports.path().join("report.json"),
        reports.path().join("junit.xml"),
        reports.path().join("step-summary.md"),
    );
    let out = publish(ws.path(), &registry, &["go", "python"])
        .arg("--report-json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(5),
        "python's index is down:\n{stderr}"
    );
    check_reports(&json, &junit, &summary, registry.token())?;
    let (_, go_last) = span(&stderr, "go");
    let (py_first, _) = span(&stderr, "python");
    assert!(
        py_first < go_last,
        "python should start while go is still publishing:\n{stderr}"
    );
    assert!(
        go_state_written(ws.path()),
        "go published despite python:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ameide-sdk-go v0.0.0-"), "{stdout}");
    // Every line is whole: each starts with a scope and carries a level word.
    for line in stderr
        .lines()
        .filter(|l| !l.starts_with("error:") && !l.starts_with("hint:") && !l.starts_with("  "))
    {
        assert!(
            line.starts_with("[packages:"),
            "torn line {line:?} in:\n{stderr}"
        );
    }
    Ok(())
}

/// The reports of the go-ok / python-down run: valid against the schema, each package
/// with its steps, the failure on the first Python package and its dependent skipped.
fn check_reports(json: &Path, junit: &Path, summary: &Path, token: &str) -> Result<()> {
    let text = std::fs::read_to_string(json)?;
    let report: serde_json::Value = serde_json::from_str(&text)?;
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        pkgrun_e2e::repo_root().join("schemas/pkgrun.report.v1.schema.json"),
    )?)?;
    let validator = jsonschema::validator_for(&schema)?;
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match its schema: {errors:?}\n{text}"
    );
    assert_eq!(report["command"], "publish");
    assert_eq!(report["exit_code"], 5);
    let langs = report["languages"].as_array().unwrap();
    assert_eq!(
        (
            langs[0]["language"].as_str(),
            langs[0]["exit_code"].as_u64()
        ),
        (Some("go"), Some(0))
    );
    for p in langs[0]["packages"].as_array().unwrap() {
        assert_eq!(p["status"], "passed", "{p:#}");
        assert_eq!(p["steps"][0]["status"], "passed");
        assert_eq!(p["steps"][1]["status"], "not-run");
        assert!(p["version"].as_str().unwrap().starts_with("v0.0.0-"));
        assert!(p["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "zip"));
    }
    let py = langs[1]["packages"].as_array().unwrap();
    assert_eq!(langs[1]["exit_code"], 5);
    assert_eq!(
        (py[0]["state_key"].as_str(), py[0]["status"].as_str()),
        (Some("ameide-telemetry-python"), Some("failed"))
    );
    assert_eq!(py[0]["steps"][0]["status"], "failed");
    assert_eq!(
        py[1]["status"], "skipped",
        "the SDK depends on the telemetry package"
    );

    let xml = std::fs::read_to_string(junit)?;
    assert!(xml.contains(r#"<testsuite name="pkgrun.go""#), "{xml}");
    assert!(xml.contains(r#"classname="go.ameide-sdk-go""#), "{xml}");
    assert!(
        xml.contains(r#"name="publish" classname="python.ameide-telemetry-python""#)
            || xml.contains(r#"classname="python.ameide-telemetry-python""#)
    );
    assert!(xml.contains("<failure"), "{xml}");
    assert_eq!(
        xml.matches("<testcase ").count(),
        4 * 4,
        "4 packages × 4 checks:\n{xml}"
    );

    let md = std::fs::read_to_string(summary)?;
    assert!(
        md.contains("| go | `go.packages.dev.ameide.io/ameide-sdk-go` |"),
        "{md}"
    );
    assert!(md.contains("❌ failed"), "{md}");

    for (name, text) in [("report", &text), ("junit", &xml), ("summary", &md)] {
        for secret in [token, "not-used-8c1f"] {
            assert!(!text.contains(secret), "a credential reached the {name}");
        }
    }
    Ok(())
}

#[test]
fn jobs_1_runs_the_languages_one_after_the_other_in_the_order_given() -> Result<()> {
    let registry = GoRegistry::start(GoRegistryOptions::default())?;
    let ws = example()?;
    let out = publish(ws.path(), &registry, &["--jobs", "1", "go", "python"]).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let (_, go_last) = span(&stderr, "go");
    let (py_first, _) = span(&stderr, "python");
    assert!(
        go_last < py_first,
        "go must finish before python starts:\n{stderr}"
    );
    assert!(go_state_written(ws.path()));
    assert!(
        stderr.contains("2 languages, 1 at a time (--jobs 1)"),
        "{stderr}"
    );
    Ok(())
}

/// `script -qefc <cmd> /dev/null` runs `cmd` on a pseudo-terminal and copies what it
/// draws to our stdout (util-linux).
fn under_a_terminal(cmd: &Command) -> Result<(i32, String)> {
    let mut line = shell_quote(cmd.get_program().to_str().context("utf-8 program")?);
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&shell_quote(arg.to_str().context("utf-8 arg")?));
    }
    let mut script = Command::new("script");
    script.args(["-qefc", &line, "/dev/null"]);
    script.current_dir(cmd.get_current_dir().context("cwd")?);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = script.output().context("spawn script (util-linux)")?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn a_terminal_gets_one_live_line_per_language_and_ci_gets_plain_lines() -> Result<()> {
    let registry = GoRegistry::start(GoRegistryOptions::default())?;
    let ws = example()?;
    let mut cmd = pkgrun_with_go_env(ws.path(), registry.url(), registry.token());
    cmd.env_remove("CI").args(["publish", "go"]);
    let (code, screen) = under_a_terminal(&cmd)?;
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("go "), "{screen}");
    assert!(
        screen.contains("ok: 2 package(s)"),
        "the go line ends with its result:\n{screen}"
    );
    assert!(
        !screen.contains("[packages:go-publish]"),
        "the live view replaces the plain step lines:\n{screen}"
    );

    let mut ci = pkgrun_with_go_env(ws.path(), registry.url(), registry.token());
    ci.env("CI", "true").args(["publish", "go"]);
    let (code, screen) = under_a_terminal(&ci)?;
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("[packages:go-publish]"), "{screen}");
    assert!(!screen.contains("ok: 2 package(s)"), "{screen}");

    let mut plain = pkgrun_with_go_env(ws.path(), registry.url(), registry.token());
    plain
        .env_remove("CI")
        .args(["publish", "--progress", "plain", "go"]);
    let (_, screen) = under_a_terminal(&plain)?;
    assert!(screen.contains("[packages:go-publish]"), "{screen}");
    Ok(())
}

/// The CPU-heavy steps (builds, consumer checks) hold one slot each: with `--cpu-jobs 1`
/// the log never shows two of them open at once, across languages, and the one that had
/// to wait says so. Go publishes in a blink and then builds its consumer while the
/// TypeScript build (pnpm install + tsc) is still running, so without the bound they
/// overlap.
#[test]
fn cpu_jobs_1_never_runs_two_builds_or_consumer_checks_at_once() -> Result<()> {
    // Upstream on, as the main job runs it: the smoke's upstream probe goes through it.
    let registry = GoRegistry::start(GoRegistryOptions {
        upstream_from_go_env: true,
        private: vec![pkgrun_e2e::go::EXAMPLE_PRIVATE_PREFIX.to_string()],
        ..GoRegistryOptions::default()
    })?;
    let verdaccio = pkgrun_e2e::Verdaccio::start()?;
    let ws = example()?;
    let home = tempfile::tempdir()?;
    let mut cmd = pkgrun_with_go_env(ws.path(), registry.url(), registry.token());
    let out = cmd
        .env("PATH", pkgrun_e2e::workspace::tools_path())
        .env("HOME", home.path())
        .env("NPM_REGISTRY_URL", verdaccio.url())
        .env("NPM_AUTH_TOKEN", verdaccio.token())
        .env_remove("AMEIDE_TS_SDK_VERSION")
        .env_remove("CI")
        .args(["run", "--progress", "plain", "--cpu-jobs", "1", "go", "ts"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let most = most_heavy_steps_open(&stderr);
    assert_eq!(most, 1, "builds/consumer checks overlapped:\n{stderr}");
    assert!(
        stderr.contains("waiting for a CPU slot (1 of 1 busy"),
        "no step waited for the single slot:\n{stderr}"
    );
    Ok(())
}

/// The most builds and consumer checks open at once in a log: a `step build <pkg> <v>`
/// or `step consumer check <pkg> <v>` line opens one, its `ok`/`fail` line closes it.
fn most_heavy_steps_open(stderr: &str) -> usize {
    let mut open = std::collections::BTreeSet::new();
    let mut most = 0;
    for line in stderr.lines() {
        let Some(rest) = line.split_once("Z ").map(|(_, r)| r) else {
            continue;
        };
        let (word, step) = rest.split_at(rest.len().min(5));
        // The pipeline's own steps, not the adapters' inner ones (`build script of …`).
        let heavy = (step.starts_with("build ") && !step.starts_with("build script of "))
            || step.starts_with("consumer check ");
        if !heavy {
            continue;
        }
        let step = step.split(" (took").next().unwrap_or(step).to_string();
        match word {
            "step " => {
                open.insert(step);
                most = most.max(open.len());
            }
            "ok   " | "fail " => {
                open.remove(&step);
            }
            _ => {}
        }
    }
    most
}
