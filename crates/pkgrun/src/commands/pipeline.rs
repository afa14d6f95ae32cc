//! `pkgrun publish`, `pkgrun smoke` and `pkgrun run`: the pipeline for each
//! requested language.
//!
//! Everything every requested language needs is checked first, all at once
//! ([`pkgrun_lang::preflight`]); then the languages run concurrently (at most `--jobs`
//! at once), each in its own thread and its own order of steps, each on its own (a
//! failed Go publish does not stop the TypeScript one). Log lines are written whole, so
//! interleaved languages stay readable by their `[packages:<lang>-<phase>]` prefix. The exit code
//! is the worst failure's; every failure has already been logged with its language's
//! prefix, and the worst one is also reported as the command's `error:`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use pkgrun_core::env::ProcessEnv;
use pkgrun_core::log::Logger;
use pkgrun_core::plan::{select_languages, VersionPlan};
use pkgrun_core::{Config, Lang};
use pkgrun_lang::{
    preflight, Adapter, AdapterVisitor, Failure, Outcome as PhaseOutcome, Phase, Run,
};

use super::{load_config_for, logger, state_sync, Outcome};
use crate::cli::{Globals, PipelineArgs};
use crate::progress::{is_live_here, LiveView};
use crate::report::CliError;
use crate::reports::{self, LanguageRun, Report};

/// Which phases a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phases {
    Publish,
    Smoke,
    Run,
}

pub fn run(phases: Phases, args: PipelineArgs, globals: &Globals) -> Result<Outcome> {
    let config = load_config_for(globals, &args.langs)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let phase = match phases {
        Phases::Smoke => Phase::Smoke,
        Phases::Publish | Phases::Run => Phase::Publish,
    };
    let (env, plan) = preflight(&config, &langs, &ProcessEnv, phase).map_err(cli_error)?;
    // The ConfigMap sink (PKGRUN_CONFIGMAP or `configmap` keys): names and credentials
    // are checked here too, before anything is touched.
    let sink = state_sync::sink_targets(&config, &langs)?;
    let outputs = ReportOutputs::check(&args)?;
    let live = is_live_here(args.progress, globals.verbose).then(|| LiveView::stderr(&langs));
    let log = match &live {
        Some(view) => Logger::new(globals.prefix.clone(), view.writer()),
        None => logger(globals),
    };
    let jobs = args
        .jobs
        .map_or(langs.len(), |j| j as usize)
        .clamp(1, langs.len().max(1));
    if let Some(cpu_jobs) = args.cpu_jobs {
        pkgrun_lang::cpu_slots::set_limit(cpu_jobs as usize);
    }
    pkgrun_lang::http::set_timeouts(http_timeouts(&args));
    if jobs < langs.len() {
        log.info(&format!(
            "{} languages, {jobs} at a time (--jobs {jobs})",
            langs.len()
        ));
    }
    // `jobs` workers take the languages in the order requested (so `--jobs 1` is that
    // order, one after the other); results are kept in that order too, so stdout stays
    // deterministic however the runs interleave.
    let started_at = pkgrun_core::version::Timestamp::now().rfc3339();
    let started = Instant::now();
    let runs: Vec<LanguageRun> = in_order(&langs, jobs, |lang| {
        let started = Instant::now();
        let result = run_lang_with_sink(
            lang,
            &config,
            env.clone(),
            plan.as_ref(),
            &log,
            phases,
            sink.as_ref(),
        );
        if let Some(view) = &live {
            view.finish(lang, &summary(&result));
        }
        LanguageRun {
            lang,
            result,
            elapsed: started.elapsed(),
        }
    });

    if let Some(view) = &live {
        view.close();
    }
    let mut worst: Option<Failure> = None;
    for run in &runs {
        let failure = match &run.result {
            Ok(outcome) => {
                for doc in &outcome.documents {
                    println!("{} {}", doc.state_key, doc.version);
                }
                outcome.worst().cloned()
            }
            Err(failure) => Some(failure.clone()),
        };
        if let Some(f) = failure {
            if worst.as_ref().is_none_or(|w| f.rank() > w.rank()) {
                worst = Some(f);
            }
        }
    }
    let exit_code = worst.as_ref().map_or(0, |f| f.exit_status().code());
    let report = Report::new(
        &config,
        phases,
        &runs,
        started_at,
        started.elapsed(),
        exit_code,
    );
    write_reports(&report, &outputs, &log)?;
    match worst {
        None => Ok(Outcome::SUCCESS),
        Some(failure) => Err(cli_error(failure).into()),
    }
}

/// Where the reports go: the flags, and `$GITHUB_STEP_SUMMARY` when set.
struct ReportOutputs {
    json: Option<PathBuf>,
    junit: Option<PathBuf>,
    step_summary: Option<PathBuf>,
}

impl ReportOutputs {
    /// Checked before anything is touched: each file's directory must be writable.
    fn check(args: &PipelineArgs) -> Result<Self, CliError> {
        let outputs = ReportOutputs {
            json: args.report_json.clone(),
            junit: args.junit.clone(),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        for (what, path) in [
            ("--report-json", &outputs.json),
            ("--junit", &outputs.junit),
            ("GITHUB_STEP_SUMMARY", &outputs.step_summary),
        ] {
            let Some(path) = path else { continue };
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if let Err(e) = tempfile::tempfile_in(dir) {
                return Err(CliError::usage(
                    format!(
                        "{what} {}: cannot write in {}: {e}",
                        path.display(),
                        dir.display()
                    ),
                    Some("create the directory or choose a writable path".into()),
                ));
            }
        }
        Ok(outputs)
    }
}

fn write_reports(report: &Report, outputs: &ReportOutputs, log: &Logger) -> Result<()> {
    let log = log.scoped("packages:pkgrun-report");
    if let Some(path) = &outputs.json {
        reports::write_json(report, path)?;
        log.ok(&format!("report written to {}", path.display()));
    }
    if let Some(path) = &outputs.junit {
        reports::write_junit(report, path)?;
        log.ok(&format!("JUnit report written to {}", path.display()));
    }
    if let Some(path) = &outputs.step_summary {
        reports::append_summary(report, path)?;
    }
    Ok(())
}

/// A language's last live line: what it published, or why it failed.
fn summary(outcome: &Result<PhaseOutcome, Failure>) -> String {
    match outcome {
        Ok(o) => match o.worst() {
            None => format!("ok: {} package(s)", o.documents.len()),
            Some(f) => format!("failed ({}): {}", f.exit_status().code(), f.message),
        },
        Err(f) => format!("failed ({}): {}", f.exit_status().code(), f.message),
    }
}

/// Runs `work` for every item on `jobs` worker threads that take the items in order (so
/// one worker is strictly that order), and returns the results in the items' order.
fn in_order<I: Copy + Sync, T: Send>(
    items: &[I],
    jobs: usize,
    work: impl Fn(I) -> T + Sync,
) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let done: Vec<Mutex<Option<T>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(&item) = items.get(index) else { break };
                let result = work(item);
                *done[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            });
        }
    });
    // A worker that panicked takes the process down with it (the scope re-raises), so
    // every slot is filled here.
    done.into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item ran")
        })
        .collect()
}

/// One language's phases, then its ConfigMap (when the sink is on and smoke ran).
fn run_lang_with_sink(
    lang: Lang,
    config: &Config,
    env: pkgrun_core::env::Resolved,
    plan: Option<&VersionPlan>,
    log: &Logger,
    phases: Phases,
    sink: Option<&state_sync::SinkTargets>,
) -> Result<PhaseOutcome, Failure> {
    let outcome = pkgrun_lang::with_adapter(
        lang,
        RunLang {
            config,
            env,
            plan,
            log,
            phases,
        },
    );
    match (outcome, sink) {
        (Ok(mut outcome), Some(sink)) if phases != Phases::Publish => {
            if let Some(failure) = state_sync::write_configmap(sink, config, lang, &outcome, log) {
                outcome.failures.push(failure);
            }
            Ok(outcome)
        }
        (outcome, _) => outcome,
    }
}

/// One language's phases, with whichever adapter [`pkgrun_lang::with_adapter`] gives.
struct RunLang<'a> {
    config: &'a Config,
    env: pkgrun_core::env::Resolved,
    plan: Option<&'a VersionPlan>,
    log: &'a Logger,
    phases: Phases,
}

impl AdapterVisitor for RunLang<'_> {
    type Output = Result<PhaseOutcome, Failure>;

    fn visit<A: Adapter>(self, adapter: A) -> Self::Output {
        run_lang(adapter, self)
    }
}

fn run_lang<A: Adapter>(adapter: A, args: RunLang<'_>) -> Result<PhaseOutcome, Failure> {
    let RunLang {
        config,
        env,
        plan,
        log,
        phases,
    } = args;
    let run = Run::new(adapter, config, env, plan, log)?;
    Ok(match phases {
        Phases::Publish => run.publish(),
        Phases::Smoke => run.smoke(None),
        Phases::Run => {
            // Smoke what got published; packages that failed to publish still fail the run.
            let published = run.publish();
            let mut smoked = run.smoke(Some(published.documents));
            smoked.failures.extend(published.failures);
            smoked
        }
    })
}

fn cli_error(failure: Failure) -> CliError {
    CliError {
        status: failure.exit_status(),
        message: failure.to_string(),
        hint: failure.hint.clone(),
    }
}

/// The registry clients' limits: the defaults, with what the command line or the
/// `PKGRUN_HTTP_*` variables set.
fn http_timeouts(args: &PipelineArgs) -> pkgrun_lang::http::Timeouts {
    let defaults = pkgrun_lang::http::Timeouts::default();
    let secs =
        |given: Option<f64>, default: Duration| given.map_or(default, Duration::from_secs_f64);
    pkgrun_lang::http::Timeouts {
        connect: secs(args.http_connect_timeout, defaults.connect),
        read: secs(args.http_read_timeout, defaults.read),
        whole: secs(args.http_timeout, defaults.whole),
    }
}

#[cfg(test)]
mod tests {
    use super::in_order;
    use std::sync::{Barrier, Mutex};

    #[test]
    fn one_worker_runs_the_items_strictly_in_order() {
        let started = Mutex::new(Vec::new());
        let out = in_order(&[1, 2, 3, 4], 1, |i| {
            started.lock().unwrap().push(i);
            std::thread::sleep(std::time::Duration::from_millis(5 * (5 - i) as u64));
            i * 10
        });
        assert_eq!(*started.lock().unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(out, vec![10, 20, 30, 40]);
    }

    #[test]
    fn as_many_workers_as_items_run_them_all_at_once() {
        // Each item waits until all three are running: it would hang with fewer workers.
        let all_running = Barrier::new(3);
        let out = in_order(&["go", "python", "ts"], 3, |lang| {
            all_running.wait();
            lang.len()
        });
        assert_eq!(out, vec![2, 6, 2], "results in the items' order");
    }
}
