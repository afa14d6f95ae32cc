//! `pkgrun state push`: each requested language's documents in the state directory,
//! server-side applied to its state ConfigMap, as the ConfigMap sink of `pkgrun run`
//! applies them ([`write_configmap`]).
//!
//! It exists so the one step of a cluster run that needs a service-account token can run
//! apart from the runner, which executes third-party build code: the runner writes the
//! state directory with no token at all, and `state push` (with the token) only reads
//! JSON files and talks to the API server.
//!
//! Only a complete, passed state is pushed: every configured package of the language has
//! a document and its smoke passed. Otherwise nothing is written for any language (exit 4),
//! so the ConfigMap keeps the last good state.

use anyhow::Result;
use pkgrun_core::config::Config;
use pkgrun_core::plan::select_languages;
use pkgrun_core::state::{SmokeStatus, StateDocument, StateStore};
use pkgrun_core::{ExitStatus, Lang};
use pkgrun_lang::Outcome as PhaseOutcome;

use super::state_sync::{configmap_name, connect, write_configmap, SinkTargets};
use super::{load_config_for, logger, Outcome};
use crate::cli::{Globals, StatePushArgs};
use crate::report::CliError;

pub fn run(args: StatePushArgs, globals: &Globals) -> Result<Outcome> {
    // Only the requested languages' sections: a runner image holds only its own packages.
    let config = load_config_for(globals, &args.langs)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let mut names = Vec::new();
    for &lang in &langs {
        let name = configmap_name(&config, lang, &langs, true)?.expect("default given");
        names.push((lang, name));
    }
    // Everything is checked before the first write.
    let documents = langs
        .iter()
        .map(|&lang| passed_documents(&config, lang).map(|docs| (lang, docs)))
        .collect::<Result<Vec<_>, CliError>>()?;
    let (kube, namespace) = connect(args.namespace)?;
    let sink = SinkTargets {
        kube,
        namespace,
        names,
    };
    let log = logger(globals);
    for (lang, documents) in documents {
        let outcome = PhaseOutcome {
            documents,
            failures: Vec::new(),
        };
        if let Some(failure) = write_configmap(&sink, &config, lang, &outcome, &log) {
            return Err(CliError {
                status: failure.exit_status(),
                message: failure.to_string(),
                hint: failure.hint.clone(),
            }
            .into());
        }
    }
    Ok(Outcome::SUCCESS)
}

/// The documents of every configured package of `lang`, when each exists and passed smoke.
fn passed_documents(config: &Config, lang: Lang) -> Result<Vec<StateDocument>, CliError> {
    let store = StateStore::new(config.state_dir());
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for package in config.section(lang).map_or(&[][..], |s| &s.packages[..]) {
        match store.read_document(&package.state_key) {
            Ok(Some(doc)) if doc.smoke.status == SmokeStatus::Passed => documents.push(doc),
            Ok(Some(doc)) => problems.push(format!(
                "{}: smoke {}",
                package.state_key,
                doc.smoke.status.as_str()
            )),
            Ok(None) => problems.push(format!("{}: no state document", package.state_key)),
            Err(e) => return Err(CliError::usage(e.to_string(), None)),
        }
    }
    if problems.is_empty() {
        return Ok(documents);
    }
    Err(CliError {
        status: ExitStatus::Smoke,
        message: format!(
            "not pushing the {lang} state from {}: {}",
            store.dir().display(),
            problems.join("; ")
        ),
        hint: Some(format!(
            "push only after `pkgrun run {lang}` passed; the ConfigMap keeps its previous state"
        )),
    })
}
