//! `pkgrun publish`, `pkgrun smoke` and `pkgrun run`: the pipeline for each
//! requested language.
//!
//! Everything every requested language needs is checked first, all at once
//! ([`pkgrun_lang::preflight`]); then the languages run one after the other, each
//! on its own (a failed Go publish does not stop the TypeScript one). The exit code
//! is the worst failure's; every failure has already been logged with its language's
//! prefix, and the worst one is also reported as the command's `error:`.

use anyhow::Result;
use pkgrun_core::env::ProcessEnv;
use pkgrun_core::log::Logger;
use pkgrun_core::plan::{select_languages, VersionPlan};
use pkgrun_core::Config;
use pkgrun_lang::{
    preflight, Adapter, AdapterVisitor, Failure, Outcome as PhaseOutcome, Phase, Run,
};

use super::{load_config, logger, state_sync, Outcome};
use crate::cli::{Globals, PipelineArgs};
use crate::report::CliError;

/// Which phases a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phases {
    Publish,
    Smoke,
    Run,
}

pub fn run(phases: Phases, args: PipelineArgs, globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let phase = match phases {
        Phases::Smoke => Phase::Smoke,
        Phases::Publish | Phases::Run => Phase::Publish,
    };
    let (env, plan) = preflight(&config, &langs, &ProcessEnv, phase).map_err(cli_error)?;
    // The ConfigMap sink (PKGRUN_CONFIGMAP or `configmap` keys): names and credentials
    // are checked here too, before anything is touched.
    let sink = state_sync::sink_targets(&config, &langs)?;
    let log = logger(globals);
    let mut worst: Option<Failure> = None;
    for lang in langs {
        let outcome = pkgrun_lang::with_adapter(
            lang,
            RunLang {
                config: &config,
                env: env.clone(),
                plan: plan.as_ref(),
                log: &log,
                phases,
            },
        );
        let outcome = match (outcome, &sink) {
            (Ok(mut outcome), Some(sink)) if phases != Phases::Publish => {
                if let Some(failure) =
                    state_sync::write_configmap(sink, &config, lang, &outcome, &log)
                {
                    outcome.failures.push(failure);
                }
                Ok(outcome)
            }
            (outcome, _) => outcome,
        };
        let failure = match outcome {
            Ok(outcome) => {
                for doc in &outcome.documents {
                    println!("{} {}", doc.state_key, doc.version);
                }
                outcome.worst().cloned()
            }
            Err(failure) => Some(failure),
        };
        if let Some(f) = failure {
            if worst.as_ref().is_none_or(|w| f.rank() > w.rank()) {
                worst = Some(f);
            }
        }
    }
    match worst {
        None => Ok(Outcome::SUCCESS),
        Some(failure) => Err(cli_error(failure).into()),
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
