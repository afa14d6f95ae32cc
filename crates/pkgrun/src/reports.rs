//! Machine-readable results of `publish`/`smoke`/`run` for CI: `--report-json FILE`
//! (`pkgrun.report/v1`, schema in `schemas/pkgrun.report.v1.schema.json`), `--junit FILE`
//! (one testcase per package × check: publish, protocol, consumer, upstream), and a
//! Markdown table appended to `$GITHUB_STEP_SUMMARY` when that variable is set.
//!
//! Everything is derived from what the pipeline returns: the state documents of this run
//! (versions, digests, each check with its status and duration) and the failures, each
//! attributed to its package where it has one. Nothing here reads the environment's
//! credentials, and failure texts are the ones already shown in the log (redacted there),
//! so no secret can reach a report that did not already reach the log.
//!
//! # Format (`pkgrun.report/v1`)
//! ```text
//! { schema, command, started_at, duration_ms, exit_code,
//!   languages: [ { language, exit_code, duration_ms,
//!                  failures: [ {exit_code, message, hint?} ]      language-wide only
//!                  packages: [ { package, state_key, version?, status,
//!                                steps: [ {name, status, duration_ms?, detail?} ],
//!                                artifacts: [ state document artifacts ] } ] } ] }
//! ```
//! `status` of a package: `passed`, `failed` or `skipped` (a sibling it depends on was not
//! published); of a step: `passed`, `failed`, `skipped` or `not-run` (not part of this
//! command, or not reached).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use pkgrun_core::state::{write_atomically, Artifact, CheckStatus, SmokeStatus, StateDocument};
use pkgrun_core::{Config, Lang};
use pkgrun_lang::{Failure, Outcome as PhaseOutcome};
use serde::Serialize;

use crate::commands::pipeline::Phases;

pub const SCHEMA: &str = "pkgrun.report/v1";
/// The checks of every package, in the order a run performs them.
pub const STEPS: [&str; 4] = ["publish", "protocol", "consumer", "upstream"];

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub command: &'static str,
    pub started_at: String,
    pub duration_ms: u64,
    pub exit_code: u8,
    pub languages: Vec<LanguageReport>,
}

#[derive(Debug, Serialize)]
pub struct LanguageReport {
    pub language: Lang,
    pub exit_code: u8,
    pub duration_ms: u64,
    /// Failures that belong to no single package (state writes, the ConfigMap sink, …).
    pub failures: Vec<FailureReport>,
    pub packages: Vec<PackageReport>,
}

#[derive(Debug, Serialize)]
pub struct FailureReport {
    pub exit_code: u8,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PackageReport {
    pub package: String,
    pub state_key: String,
    pub version: Option<String>,
    pub status: Status,
    pub steps: Vec<StepReport>,
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    NotRun,
}

#[derive(Debug, Serialize)]
pub struct StepReport {
    pub name: &'static str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One language's result as the pipeline returned it, with its wall time.
pub struct LanguageRun {
    pub lang: Lang,
    pub result: Result<PhaseOutcome, Failure>,
    pub elapsed: Duration,
}

impl Report {
    pub fn new(
        config: &Config,
        phases: Phases,
        runs: &[LanguageRun],
        started_at: String,
        elapsed: Duration,
        exit_code: u8,
    ) -> Self {
        Report {
            schema: SCHEMA,
            command: match phases {
                Phases::Publish => "publish",
                Phases::Smoke => "smoke",
                Phases::Run => "run",
            },
            started_at,
            duration_ms: elapsed.as_millis() as u64,
            exit_code,
            languages: runs.iter().map(|r| language(config, phases, r)).collect(),
        }
    }
}

fn language(config: &Config, phases: Phases, run: &LanguageRun) -> LanguageReport {
    let empty = PhaseOutcome::default();
    let (outcome, whole) = match &run.result {
        Ok(outcome) => (outcome, None),
        Err(failure) => (&empty, Some(failure)),
    };
    let failures: Vec<&Failure> = outcome.failures.iter().chain(whole).collect();
    let packages = config
        .section(run.lang)
        .map(|s| s.publish_order())
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let doc = outcome
                .documents
                .iter()
                .find(|d| d.state_key == p.state_key);
            let own: Vec<&Failure> = failures
                .iter()
                .copied()
                .filter(|f| f.package.as_deref() == Some(p.state_key.as_str()))
                .collect();
            package(&p.name, &p.state_key, doc, &own, phases)
        })
        .collect();
    let exit_code = failures
        .iter()
        .max_by_key(|f| f.rank())
        .map_or(0, |f| f.exit_status().code());
    LanguageReport {
        language: run.lang,
        exit_code,
        duration_ms: run.elapsed.as_millis() as u64,
        failures: failures
            .iter()
            .filter(|f| f.package.is_none())
            .map(|f| FailureReport {
                exit_code: f.exit_status().code(),
                message: f.to_string(),
                hint: f.hint.clone(),
            })
            .collect(),
        packages,
    }
}

/// A package's steps: publish from the document's existence (or its failure), the three
/// smoke checks from the document's smoke record.
pub fn package(
    name: &str,
    state_key: &str,
    doc: Option<&StateDocument>,
    failures: &[&Failure],
    phases: Phases,
) -> PackageReport {
    let publish = match (phases, doc, failures.first()) {
        (Phases::Smoke, _, _) => step("publish", Status::NotRun, None, None),
        (_, Some(doc), _) => step(
            "publish",
            Status::Passed,
            Some(publish_ms(doc)),
            serde_json::to_value(doc.publish.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
        ),
        (_, None, Some(f)) => step("publish", Status::Failed, None, Some(f.to_string())),
        (_, None, None) => step(
            "publish",
            Status::Skipped,
            None,
            Some("not published: a sibling it depends on was not published".into()),
        ),
    };
    let smoked = doc.filter(|d| d.smoke.status != SmokeStatus::NotRun);
    let mut steps = vec![publish];
    for name in ["protocol", "consumer"] {
        steps.push(
            match smoked.and_then(|d| d.smoke.checks.iter().find(|c| c.name == name)) {
                Some(c) => step(
                    name,
                    check_status(c.status),
                    Some(c.duration_ms),
                    c.detail.clone(),
                ),
                None => not_run(name, phases, doc.is_some(), failures),
            },
        );
    }
    steps.push(match smoked.and_then(|d| d.smoke.upstream_probe.as_ref()) {
        Some(p) => step(
            "upstream",
            check_status(p.status),
            Some(p.first_ms + p.second_ms),
            Some(format!("{}: {}", p.target, p.evidence)),
        ),
        None => not_run("upstream", phases, doc.is_some(), failures),
    });
    let status = if steps.iter().any(|s| s.status == Status::Failed) || !failures.is_empty() {
        Status::Failed
    } else if steps[0].status == Status::Skipped {
        Status::Skipped
    } else {
        Status::Passed
    };
    PackageReport {
        package: name.to_string(),
        state_key: state_key.to_string(),
        version: doc.map(|d| d.version.clone()),
        status,
        steps,
        artifacts: doc.map(|d| d.artifacts.clone()).unwrap_or_default(),
    }
}

/// A smoke step with no record: not part of `publish`, or never reached.
fn not_run(name: &'static str, phases: Phases, has_doc: bool, failures: &[&Failure]) -> StepReport {
    let detail = match phases {
        Phases::Publish => "not part of `pkgrun publish`",
        _ if !has_doc && failures.is_empty() => "not reached: nothing was published",
        _ => "not reached",
    };
    step(name, Status::NotRun, None, Some(detail.into()))
}

fn step(
    name: &'static str,
    status: Status,
    duration_ms: Option<u64>,
    detail: Option<String>,
) -> StepReport {
    StepReport {
        name,
        status,
        duration_ms,
        detail,
    }
}

fn check_status(s: CheckStatus) -> Status {
    match s {
        CheckStatus::Passed => Status::Passed,
        CheckStatus::Failed => Status::Failed,
        CheckStatus::Skipped => Status::Skipped,
    }
}

fn publish_ms(doc: &StateDocument) -> u64 {
    ["build", "upload", "visible"]
        .iter()
        .filter_map(|k| doc.durations_ms.get(*k))
        .sum()
}

/// The report as JSON, written atomically.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(write_atomically(path, text.as_bytes())?)
}

/// The report as JUnit XML: a testsuite per language, a testcase per package × step
/// (`classname` = `<lang>.<state_key>`), language-wide failures as a `<lang>.pipeline`
/// testcase; written atomically.
pub fn write_junit(report: &Report, path: &Path) -> Result<()> {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = quick_junit::Report::new(format!("pkgrun {}", report.command));
    junit.set_time(Duration::from_millis(report.duration_ms));
    for lang in &report.languages {
        let mut suite = TestSuite::new(format!("pkgrun.{}", lang.language));
        suite.set_time(Duration::from_millis(lang.duration_ms));
        for package in &lang.packages {
            for s in &package.steps {
                let mut status = match s.status {
                    Status::Passed => TestCaseStatus::success(),
                    Status::Failed => TestCaseStatus::non_success(NonSuccessKind::Failure),
                    Status::Skipped | Status::NotRun => TestCaseStatus::skipped(),
                };
                if let Some(detail) = &s.detail {
                    if s.status == Status::Failed {
                        status.set_description(detail.as_str());
                        status.set_message(first_line(detail));
                    } else if s.status != Status::Passed {
                        status.set_message(first_line(detail));
                    }
                }
                let mut case = TestCase::new(s.name, status);
                case.set_classname(format!("{}.{}", lang.language, package.state_key));
                if let Some(ms) = s.duration_ms {
                    case.set_time(Duration::from_millis(ms));
                }
                suite.add_test_case(case);
            }
        }
        for f in &lang.failures {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(first_line(&f.message));
            status.set_description(f.message.as_str());
            let mut case = TestCase::new("pipeline", status);
            case.set_classname(format!("{}.pipeline", lang.language));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    let xml = junit.to_string().context("serialising the JUnit report")?;
    Ok(write_atomically(path, xml.as_bytes())?)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// A Markdown summary for `$GITHUB_STEP_SUMMARY`: one row per package.
pub fn markdown(report: &Report) -> String {
    let mut md = format!(
        "### pkgrun {}: {}\n\n| language | package | version | publish | protocol | consumer | upstream |\n|---|---|---|---|---|---|---|\n",
        report.command,
        if report.exit_code == 0 { "passed".to_string() } else { format!("failed (exit {})", report.exit_code) }
    );
    for lang in &report.languages {
        for p in &lang.packages {
            md.push_str(&format!(
                "| {} | `{}` | `{}` |",
                lang.language,
                p.package,
                p.version.as_deref().unwrap_or("-")
            ));
            for s in &p.steps {
                md.push_str(match s.status {
                    Status::Passed => " ✅ passed |",
                    Status::Failed => " ❌ failed |",
                    Status::Skipped => " ⏭ skipped |",
                    Status::NotRun => " – |",
                });
            }
            md.push('\n');
        }
        for f in &lang.failures {
            md.push_str(&format!(
                "\n**{}**: {}\n",
                lang.language,
                first_line(&f.message)
            ));
        }
    }
    md.push('\n');
    md
}

/// Appends the Markdown summary to `path` (GitHub's step summary file).
pub fn append_summary(report: &Report, path: &Path) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {} (GITHUB_STEP_SUMMARY)", path.display()))?;
    file.write_all(markdown(report).as_bytes())
        .with_context(|| format!("appending to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(smoke: serde_json::Value) -> StateDocument {
        serde_json::from_value(serde_json::json!({
            "schema": "pkgrun.state/v1", "language": "go", "package": "example.com/acme/sdk",
            "state_key": "sdk-go", "version": "v1.0.0", "registry": "http://127.0.0.1:5000",
            "git_sha": "0123456789ab", "published_at": "2026-11-27T22:10:05Z",
            "publish": {"outcome": "already-present"}, "dependencies": [],
            "artifacts": [{"file": "v1.0.0.zip", "kind": "zip", "size": 3, "sha256": "0".repeat(64)}],
            "smoke": smoke, "durations_ms": {"build": 5, "upload": 7, "visible": 1}
        }))
        .unwrap()
    }

    #[test]
    fn a_smoked_package_has_its_four_steps_from_the_document() {
        let d = doc(serde_json::json!({"status": "failed", "checks": [
            {"name": "protocol", "status": "passed", "duration_ms": 10},
            {"name": "consumer", "status": "failed", "duration_ms": 20, "detail": "import failed\nline 2"}
        ], "upstream_probe": {"target": "u@v1", "status": "passed", "first_ms": 3, "second_ms": 1, "evidence": "cached"}}));
        let failure = Failure::smoke("consumer check failed").for_package("sdk-go");
        let p = package(
            "example.com/acme/sdk",
            "sdk-go",
            Some(&d),
            &[&failure],
            Phases::Run,
        );
        let got: Vec<(&str, Status, Option<u64>)> = p
            .steps
            .iter()
            .map(|s| (s.name, s.status, s.duration_ms))
            .collect();
        assert_eq!(
            got,
            vec![
                ("publish", Status::Passed, Some(13)),
                ("protocol", Status::Passed, Some(10)),
                ("consumer", Status::Failed, Some(20)),
                ("upstream", Status::Passed, Some(4)),
            ]
        );
        assert_eq!(p.steps[0].detail.as_deref(), Some("already-present"));
        assert_eq!(p.status, Status::Failed);
        assert_eq!(p.artifacts.len(), 1);
    }

    #[test]
    fn a_failed_publish_a_skipped_dependent_and_publish_only_runs() {
        let failure = Failure::publish("upload refused: HTTP 401").for_package("sdk-go");
        let failed = package("m", "sdk-go", None, &[&failure], Phases::Run);
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.steps[0].status, Status::Failed);
        assert!(failed.steps[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("HTTP 401"));
        assert!(failed.steps[1..].iter().all(|s| s.status == Status::NotRun));

        let skipped = package("m", "sdk-go", None, &[], Phases::Run);
        assert_eq!(skipped.status, Status::Skipped);

        let d = doc(serde_json::json!({"status": "not-run", "checks": []}));
        let published = package("m", "sdk-go", Some(&d), &[], Phases::Publish);
        assert_eq!(published.status, Status::Passed);
        assert_eq!(
            published.steps[3].detail.as_deref(),
            Some("not part of `pkgrun publish`")
        );
    }
}
