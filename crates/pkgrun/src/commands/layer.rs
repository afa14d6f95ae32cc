//! `pkgrun layer <helmfile>`: run one helmfile layer of the package runners.
//!
//! 1. `helmfile` and `helm` must be on PATH (else exit 2, nothing touched); the
//!    helmfile and its values files are read ([`pkgrun_kube::helmfile`]) for each
//!    release's `helmLayerSelector`, namespace and registry Deployment.
//! 2. Wait (bounded, a progress line per poll) for each registry Deployment to be
//!    `Available` through the API; running out is exit 5.
//! 3. `helmfile -f <file> -l <selector> sync`, then `helm test <release> -n <ns>
//!    --timeout <test-timeout>s` for
//!    each selected release, as logged steps.
//! 4. Harvest the test Jobs' pod logs by label query through the API (Jobs labelled
//!    `app.kubernetes.io/instance=<release>`, their pods `job-name=<job>`) and print
//!    every line as `[packages:<lang>-layer] … info | <line>`, whether or not the
//!    tests passed: Helm's own `--logs` is not reliable for hook Jobs.
//! 5. A Job whose `Failed` condition is set ends the command with its reason and
//!    message; the exit code is the runner container's when it is one of pkgrun's
//!    (3 publish, 4 smoke, 5 unreachable), else 3. A failed `helmfile sync` or
//!    `helm test` without a failed Job is exit 3.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use pkgrun_core::log::Logger;
use pkgrun_core::process::{run_step, ProcessError, StepCommand};
use pkgrun_core::ExitStatus;
use pkgrun_kube::helmfile::{self, Release};
use pkgrun_kube::workload::{JobOutcome, Wait};
use pkgrun_kube::Kube;
use pkgrun_lang::tool::find_on_path;

use super::state_sync::{connect, error_text, kube_error};
use super::{logger, Outcome};
use crate::cli::{Globals, LayerArgs};
use crate::report::CliError;

/// The label Helm puts on every object of a release (the charts' `_helpers.tpl`).
pub const RELEASE_LABEL: &str = "app.kubernetes.io/instance";

/// The scope of a release's lines: `packages:<language>-layer` from its `language`
/// label, else `packages:<release>-layer`.
fn scope(release: &Release) -> String {
    let who = release
        .labels
        .get("language")
        .cloned()
        .unwrap_or_else(|| release.name.clone());
    format!("packages:{who}-layer")
}

pub fn run(args: LayerArgs, globals: &Globals) -> Result<Outcome> {
    let (helmfile_bin, helm_bin) = tools()?;
    let layer =
        helmfile::read_layer(&args.helmfile).map_err(|e| CliError::usage(error_text(&e), None))?;
    let selected = selected_releases(&layer.releases, &args)?;
    let wait = Wait {
        timeout: seconds("--wait-timeout", args.wait_timeout)?,
        interval: seconds("--poll-interval", args.poll_interval)?,
    };
    let (kube, default_ns) = connect(args.namespace.clone())?;
    let cluster = Cluster {
        kube: &kube,
        default_ns: &default_ns,
        log: logger(globals),
    };
    cluster.wait_for_registries(&selected, wait)?;
    sync(&cluster.log, &helmfile_bin, &args, &selected)?;
    match cluster.test(&helm_bin, &selected, args.test_timeout) {
        Some(e) => Err(e.into()),
        None => Ok(Outcome::SUCCESS),
    }
}

/// 1. `helmfile` and `helm` on PATH, else exit 2 before anything is touched.
fn tools() -> Result<(std::path::PathBuf, std::path::PathBuf), CliError> {
    match (find_on_path("helmfile"), find_on_path("helm")) {
        (Some(helmfile), Some(helm)) => Ok((helmfile, helm)),
        (helmfile, helm) => {
            let missing: Vec<&str> = [("helmfile", helmfile.is_none()), ("helm", helm.is_none())]
                .into_iter()
                .filter_map(|(t, gone)| gone.then_some(t))
                .collect();
            Err(CliError::usage(
                format!("{} not found on PATH", missing.join(" and ")),
                Some("install helmfile and helm (scripts/tools/) and put them on PATH; nothing was touched".into()),
            ))
        }
    }
}

/// The releases that declare a `helmLayerSelector`; none is a usage error.
fn selected_releases<'a>(
    releases: &'a [Release],
    args: &LayerArgs,
) -> Result<Vec<&'a Release>, CliError> {
    let selected: Vec<&Release> = releases.iter().filter(|r| r.selector.is_some()).collect();
    if selected.is_empty() {
        return Err(CliError::usage(
            format!("no release of {} declares helmLayerSelector in its values", args.helmfile.display()),
            Some("set `helmLayerSelector: \"language=<lang>\"` in the chart's values and the matching release label".into()),
        ));
    }
    Ok(selected)
}

/// The cluster side of a layer: the API client, the namespace of releases that set
/// none, and the logger the release scopes derive from.
struct Cluster<'a> {
    kube: &'a Kube,
    default_ns: &'a str,
    log: Logger,
}

impl Cluster<'_> {
    fn namespace(&self, release: &Release) -> String {
        release
            .namespace
            .clone()
            .unwrap_or_else(|| self.default_ns.to_string())
    }

    /// 2. Each registry Deployment (once, however many releases name it) Available.
    fn wait_for_registries(&self, selected: &[&Release], wait: Wait) -> Result<(), CliError> {
        let mut waited = BTreeSet::new();
        for r in selected {
            let log = self.log.scoped(scope(r));
            let Some(registry) = &r.registry else {
                log.warn(&format!(
                    "release {}: no registry.deployment in its values; not waiting for a registry",
                    r.name
                ));
                continue;
            };
            let ns = registry
                .namespace
                .clone()
                .unwrap_or_else(|| self.namespace(r));
            if !waited.insert((ns.clone(), registry.deployment.clone())) {
                continue;
            }
            let step = log.step(format!(
                "wait for deployment {ns}/{} to be available",
                registry.deployment
            ));
            match self.kube.wait_deployment_available(
                &ns,
                &registry.deployment,
                wait,
                &mut |line| log.info(line),
            ) {
                Ok(()) => {
                    step.ok();
                }
                Err(e) => {
                    step.fail(&e.to_string());
                    return Err(kube_error(e));
                }
            }
        }
        Ok(())
    }

    /// 4–5. `helm test` per release, its Jobs' logs, and the first failure (a failed Job
    /// wins over helm's own verdict, which says less).
    fn test(
        &self,
        helm: &std::path::Path,
        selected: &[&Release],
        timeout_s: u64,
    ) -> Option<CliError> {
        let mut first_failure: Option<CliError> = None;
        for r in selected {
            let ns = self.namespace(r);
            let log = self.log.scoped(scope(r));
            let cmd = StepCommand::new(format!("helm test {}", r.name), helm)
                .args(["test", r.name.as_str(), "-n", ns.as_str()])
                .arg("--timeout")
                .arg(format!("{timeout_s}s"))
                .merge_output();
            let test = run_step(&log, &cmd);
            let failure = match harvest(self.kube, &log, r, &ns) {
                Err(e) | Ok(Some(e)) => Some(e),
                Ok(None) => test.err().map(process_failure),
            };
            if let Some(e) = failure {
                first_failure.get_or_insert(e);
            }
        }
        first_failure
    }
}

/// 3. `helmfile -f <file> -l <selector>… sync`.
fn sync(
    log: &Logger,
    helmfile: &std::path::Path,
    args: &LayerArgs,
    selected: &[&Release],
) -> Result<(), CliError> {
    let selectors: BTreeSet<&str> = selected
        .iter()
        .filter_map(|r| r.selector.as_deref())
        .collect();
    let mut cmd = StepCommand::new(
        format!("helmfile sync {}", args.helmfile.display()),
        helmfile,
    )
    .arg("-f")
    .arg(&args.helmfile);
    for s in &selectors {
        cmd = cmd.arg("-l").arg(s);
    }
    run_step(
        &log.scoped(scope(selected[0])),
        &cmd.arg("sync").merge_output(),
    )
    .map(|_| ())
    .map_err(process_failure)
}

/// Prints the logs of the release's test Jobs; returns the first failed Job's error.
fn harvest(
    kube: &Kube,
    log: &Logger,
    release: &Release,
    ns: &str,
) -> Result<Option<CliError>, CliError> {
    let jobs = kube
        .jobs(ns, &format!("{RELEASE_LABEL}={}", release.name))
        .map_err(kube_error)?;
    if jobs.is_empty() {
        log.warn(&format!(
            "no Job labelled {RELEASE_LABEL}={} in namespace {ns}: no logs to show",
            release.name
        ));
    }
    let mut failure = None;
    for job in jobs {
        let pods = kube
            .pod_logs(ns, &format!("job-name={job}"))
            .map_err(kube_error)?;
        let mut exit_code = None;
        for pod in &pods {
            log.info(&format!(
                "logs of pod {ns}/{} container {} (job {job}):",
                pod.pod, pod.container
            ));
            for line in pod.log.lines() {
                log.child_line(line.trim_end_matches('\r'));
            }
            exit_code = exit_code.or(pod.exit_code.filter(|c| *c != 0));
        }
        if let JobOutcome::Failed { reason, message } =
            kube.job_outcome(ns, &job).map_err(kube_error)?
        {
            let status = match exit_code {
                Some(4) => ExitStatus::Smoke,
                Some(5) => ExitStatus::Unreachable,
                _ => ExitStatus::Publish,
            };
            let text = format!("job {ns}/{job} failed: {reason}: {message}");
            log.fail(&text);
            failure.get_or_insert(CliError {
                status,
                message: format!(
                    "{text}{}",
                    exit_code
                        .map(|c| format!(" (runner exit code {c})"))
                        .unwrap_or_default()
                ),
                hint: Some("the runner's own log lines above say which step failed".into()),
            });
        }
    }
    Ok(failure)
}

fn process_failure(e: ProcessError) -> CliError {
    let status = match e {
        ProcessError::Failed { .. } => ExitStatus::Publish,
        _ => ExitStatus::Usage,
    };
    CliError {
        status,
        message: error_text(&e),
        hint: None,
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration, CliError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(CliError::usage(
            format!("{flag} {value} is not a positive number of seconds"),
            None,
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_kube::helmfile::parse_selector;

    #[test]
    fn scope_comes_from_the_language_label() {
        let mut r = Release {
            name: "package-go".into(),
            namespace: None,
            labels: [("language".to_string(), "go".to_string())].into(),
            selector: Some("language=go".into()),
            registry: None,
        };
        assert_eq!(scope(&r), "packages:go-layer");
        r.labels.clear();
        assert_eq!(scope(&r), "packages:package-go-layer");
        assert_eq!(
            parse_selector("language=go").unwrap(),
            [("language".to_string(), "go".to_string())]
        );
    }
}
