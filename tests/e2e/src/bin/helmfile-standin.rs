//! STAND-IN for `helmfile sync`, for the suites that run `pkgrun layer` on a real node.
//!
//! helmfile cannot be installed here: every recent version has replace directives (which
//! `go install` refuses) and v1.4.4, which has none, needs `github.com/helmfile/vals`, which
//! the Go module proxy refuses. This does what `helmfile -f <file> -l <selector>… sync` does
//! for the repository's layer files, with the real helm on PATH: for every release matching a
//! selector (`-l a=b,c!=d`: all terms of one `-l`, any `-l`), `helm dependency build` of a local
//! chart with dependencies, then `helm upgrade --install <name> <chart> --namespace <ns>
//! --create-namespace` with the release's values in order (files relative to the helmfile,
//! inline maps as files) and helmDefaults' `wait`/`timeout`. A failed helm is exit 1;
//! templates, environments and every other subcommand are refused (exit 2) rather than ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Helmfile {
    #[serde(default, rename = "helmDefaults")]
    defaults: Defaults,
    #[serde(default)]
    releases: Vec<Release>,
}

#[derive(Debug, Default, Deserialize)]
struct Defaults {
    #[serde(default)]
    wait: bool,
    timeout: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Release {
    name: String,
    namespace: Option<String>,
    chart: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<serde_yaml::Value>,
}

struct Args {
    file: PathBuf,
    selectors: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut file = None;
    let mut selectors = Vec::new();
    let mut command = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-f" | "--file" => file = Some(PathBuf::from(args.next().context("-f needs a file")?)),
            "-l" | "--selector" => selectors.push(args.next().context("-l needs a selector")?),
            "sync" if command.is_none() => command = Some(arg),
            other => bail!("the helmfile stand-in implements only `-f FILE [-l SELECTOR]… sync`, not `{other}`"),
        }
    }
    ensure!(
        command.is_some(),
        "the helmfile stand-in implements only `sync`"
    );
    Ok(Args {
        file: file.context("-f FILE is required")?,
        selectors,
    })
}

/// helmfile's selector: `key=value` / `key!=value` terms joined by commas, all of which must hold.
fn matches(selector: &str, labels: &BTreeMap<String, String>) -> Result<bool> {
    for term in selector.split(',') {
        let holds = if let Some((k, v)) = term.split_once("!=") {
            labels.get(k).map(String::as_str) != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels.get(k).map(String::as_str) == Some(v)
        } else {
            bail!("selector term `{term}` is not key=value or key!=value");
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn helm() -> Command {
    Command::new(std::env::var_os("HELM_BIN").unwrap_or_else(|| "helm".into()))
}

// Like helmfile, it says on stderr what it runs.
#[allow(clippy::print_stderr)]
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("helmfile stand-in: {cmd:?}");
    let status = cmd.status().with_context(|| format!("run {cmd:?}"))?;
    if !status.success() {
        return Err(HelmFailed(format!("{cmd:?} failed: {status}")).into());
    }
    Ok(())
}

/// A helm command that ran and failed: exit 1, as helmfile's; anything else wrong is 2.
#[derive(Debug)]
struct HelmFailed(String);

impl std::fmt::Display for HelmFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelmFailed {}

fn sync(release: &Release, dir: &Path, defaults: &Defaults, scratch: &Path) -> Result<()> {
    let chart = dir.join(&release.chart);
    let chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml")).with_context(|| {
        format!(
            "release {}: read {}/Chart.yaml",
            release.name,
            chart.display()
        )
    })?;
    if chart_yaml.contains("dependencies:") {
        run(helm().args(["dependency", "build"]).arg(&chart))?;
    }
    let mut cmd = helm();
    cmd.args(["upgrade", "--install", &release.name])
        .arg(&chart)
        .arg("--namespace")
        .arg(release.namespace.as_deref().unwrap_or("default"))
        .arg("--create-namespace");
    for (i, value) in release.values.iter().enumerate() {
        let file = match value {
            serde_yaml::Value::String(file) => dir.join(file),
            inline => {
                let file = scratch.join(format!("{}-values-{i}.yaml", release.name));
                std::fs::write(&file, serde_yaml::to_string(inline)?)?;
                file
            }
        };
        cmd.arg("--values").arg(file);
    }
    if defaults.wait {
        cmd.arg("--wait");
    }
    if let Some(timeout) = defaults.timeout {
        cmd.arg("--timeout").arg(format!("{timeout}s"));
    }
    run(&mut cmd)
}

fn main_result() -> Result<()> {
    let args = parse_args()?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("read {}", args.file.display()))?;
    ensure!(
        !text.contains("{{"),
        "{}: templates are not implemented by the stand-in",
        args.file.display()
    );
    let helmfile: Helmfile =
        serde_yaml::from_str(&text).with_context(|| format!("parse {}", args.file.display()))?;
    let dir = args.file.parent().unwrap_or(Path::new("."));
    let scratch = tempfile::tempdir()?;
    for release in &helmfile.releases {
        let selected = args.selectors.is_empty()
            || args
                .selectors
                .iter()
                .map(|s| matches(s, &release.labels))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .any(|m| m);
        if selected {
            sync(release, dir, &helmfile.defaults, scratch.path())?;
        }
    }
    Ok(())
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    match main_result() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("helmfile stand-in: {e:#}");
            ExitCode::from(if e.is::<HelmFailed>() { 1 } else { 2 })
        }
    }
}
