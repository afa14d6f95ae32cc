//! The CI example (examples/monorepo/.github/workflows/packages.yml) is a valid workflow
//! for the real linter, actionlint (pinned; scripts/tools/install-actionlint.sh), and every
//! pkgrun command line in it parses with the real pkgrun CLI for each language of the
//! matrix. Both checks are shown to fail on a broken copy, so they cannot pass vacuously.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use pkgrun_e2e::{example_monorepo, tools_bin, workspace_bin};
use serde_yaml::Value;

fn workflow() -> PathBuf {
    example_monorepo().join(".github/workflows/packages.yml")
}

fn actionlint(path: &Path) -> Result<(bool, String)> {
    let out = Command::new(tools_bin("actionlint"))
        .args(["-no-color", "-shellcheck=", "-pyflakes="])
        .arg(path)
        .output()
        .context("run actionlint")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// Every `run:` script of every step of every job.
fn run_scripts(yaml: &str) -> Result<Vec<String>> {
    let doc: Value = serde_yaml::from_str(yaml)?;
    let mut scripts = Vec::new();
    for (_, job) in doc["jobs"].as_mapping().context("jobs")? {
        for step in job["steps"].as_sequence().context("steps")? {
            if let Some(run) = step["run"].as_str() {
                scripts.push(run.to_string());
            }
        }
    }
    Ok(scripts)
}

/// The argument lists of `pkgrun …` command lines, with `${{ matrix.language }}` set to
/// `lang` and any other expression replaced by a placeholder word.
fn pkgrun_invocations(scripts: &[String], lang: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for script in scripts {
        let joined = script.replace("\\\n", " ");
        for line in joined.lines() {
            let line = line.trim();
            if !line.starts_with("pkgrun ") {
                continue;
            }
            let mut text = line.replace("${{ matrix.language }}", lang);
            while let Some(start) = text.find("${{") {
                let end = text[start..]
                    .find("}}")
                    .map_or(text.len(), |e| start + e + 2);
                text.replace_range(start..end, "placeholder");
            }
            let words = shlex::split(&text).unwrap_or_else(|| panic!("unbalanced quotes: {line}"));
            found.push(words[1..].to_vec());
        }
    }
    found
}

/// Parses `args` with the real CLI: `--help` after them makes clap stop once everything
/// before it has been parsed, so an unknown flag or a bad value still fails (exit 2).
fn parses(args: &[String]) -> Result<(bool, String)> {
    let out = Command::new(workspace_bin("pkgrun"))
        .args(args)
        .arg("--help")
        .output()
        .context("run pkgrun")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn the_ci_example_passes_actionlint() -> Result<()> {
    let (ok, text) = actionlint(&workflow())?;
    assert!(ok, "actionlint found problems:\n{text}");

    // Control: a job without runs-on is an error actionlint must report.
    let broken = std::fs::read_to_string(workflow())?.replace(
        "    runs-on: ubuntu-latest\n    timeout-minutes: 30\n",
        "    timeout-minutes: 30\n",
    );
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("packages.yml");
    std::fs::write(&copy, broken)?;
    let (ok, text) = actionlint(&copy)?;
    assert!(
        !ok && text.contains("runs-on"),
        "actionlint accepted a job without runs-on:\n{text}"
    );
    Ok(())
}

#[test]
fn every_pkgrun_command_in_the_ci_example_parses_with_the_real_cli() -> Result<()> {
    let scripts = run_scripts(&std::fs::read_to_string(workflow())?)?;
    let mut checked = 0;
    for lang in ["go", "python", "ts"] {
        let invocations = pkgrun_invocations(&scripts, lang);
        assert!(
            invocations
                .iter()
                .any(|a| a.first().map(String::as_str) == Some("run")
                    && a.contains(&"--junit".to_string())),
            "the example runs `pkgrun run <lang> --junit …`: {invocations:?}"
        );
        assert!(invocations.iter().any(|a| a.starts_with(&[
            "env".into(),
            "--format".into(),
            "github".into()
        ])));
        for args in invocations {
            let (ok, stderr) = parses(&args)?;
            assert!(ok, "`pkgrun {}` does not parse:\n{stderr}", args.join(" "));
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} invocations found");

    // Control: the same check rejects a flag pkgrun does not have.
    let (ok, stderr) = parses(&["run".into(), "go".into(), "--junitt".into(), "x.xml".into()])?;
    assert!(!ok && stderr.contains("--junitt"), "{stderr}");
    Ok(())
}
