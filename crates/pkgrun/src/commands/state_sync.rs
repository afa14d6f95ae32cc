//! `pkgrun state sync`, and where each language's state ConfigMap is: the
//! `PKGRUN_CONFIGMAP` / `PKGRUN_NAMESPACE` rules shared with the pipeline's
//! ConfigMap sink ([`sink_targets`]).
//!
//! Sync reads every requested language's ConfigMap and validates every key (each
//! `*.json` must be a `pkgrun.state/v1` document of that language named after its
//! state key) *before* writing anything; then each file is written atomically through
//! [`StateStore`]. Local files of a language whose keys are no longer in its
//! ConfigMap are removed only with `--prune`.

use anyhow::Result;
use pkgrun_core::config::{is_dns_subdomain, Config};
use pkgrun_core::log::Logger;
use pkgrun_core::plan::select_languages;
use pkgrun_core::state::SmokeStatus;
use pkgrun_core::state::{StateDocument, StateStore};
use pkgrun_core::{ExitStatus, Lang};
use pkgrun_kube::configmap::default_configmap_name;
use pkgrun_kube::configmap::state_data;
use pkgrun_kube::{ConfigMapSink, Kube, KubeError, SyncedState};
use pkgrun_lang::{Failure, Outcome as PhaseOutcome};

use super::{load_config, logger, Outcome};
use crate::cli::{Globals, StateSyncArgs};
use crate::report::CliError;

/// Names the ConfigMap (`{lang}` is replaced by the language); setting it enables the
/// ConfigMap sink of `publish`/`smoke`/`run`.
pub const ENV_CONFIGMAP: &str = "PKGRUN_CONFIGMAP";
/// Namespace of the state ConfigMaps (default: the kubeconfig context's or the pod's).
pub const ENV_NAMESPACE: &str = "PKGRUN_NAMESPACE";

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The ConfigMap name for `lang`: `PKGRUN_CONFIGMAP` (with `{lang}` replaced), else the
/// language section's `configmap`, else `default` (when given). A name without
/// `{lang}` used for more than one language is refused: the languages would fight
/// over one ConfigMap's keys.
pub(crate) fn configmap_name(
    config: &Config,
    lang: Lang,
    langs: &[Lang],
    default: bool,
) -> Result<Option<String>, CliError> {
    let name = match env_nonempty(ENV_CONFIGMAP) {
        Some(template) => {
            if langs.len() > 1 && !template.contains("{lang}") {
                return Err(CliError::usage(
                    format!("{ENV_CONFIGMAP}={template:?} names one ConfigMap for {} languages", langs.len()),
                    Some(format!("each language needs its own ConfigMap: use {ENV_CONFIGMAP}='{{lang}}-packages-state', or name one language on the command line")),
                ));
            }
            Some(template.replace("{lang}", lang.as_str()))
        }
        None => config
            .section(lang)
            .and_then(|s| s.configmap.clone())
            .or_else(|| default.then(|| default_configmap_name(lang))),
    };
    if let Some(name) = &name {
        if !is_dns_subdomain(name) {
            return Err(CliError::usage(
                format!("ConfigMap name {name:?} ({lang}) is not a Kubernetes object name"),
                Some("use lowercase letters, digits, '-' and '.'".into()),
            ));
        }
    }
    Ok(name)
}

/// A Kubernetes client and namespace: `namespace` (a flag), else `PKGRUN_NAMESPACE`,
/// else the kubeconfig context's / service account's namespace.
pub fn connect(namespace: Option<String>) -> Result<(Kube, String), CliError> {
    let kube = Kube::infer().map_err(kube_usage)?;
    let namespace = namespace
        .filter(|n| !n.trim().is_empty())
        .or_else(|| env_nonempty(ENV_NAMESPACE))
        .unwrap_or_else(|| kube.default_namespace().to_string());
    Ok((kube, namespace))
}

/// Where the pipeline's ConfigMap sink writes, per language, when it is enabled.
pub struct SinkTargets {
    pub kube: Kube,
    pub namespace: String,
    pub names: Vec<(Lang, String)>,
}

impl SinkTargets {
    pub fn name(&self, lang: Lang) -> Option<&str> {
        self.names
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, n)| n.as_str())
    }
}

/// The sink's targets for `langs`, or `None` when no language has it enabled.
/// Checked before anything is touched (exit 2): names, and that credentials load.
pub fn sink_targets(config: &Config, langs: &[Lang]) -> Result<Option<SinkTargets>, CliError> {
    let mut names = Vec::new();
    for &lang in langs {
        if let Some(name) = configmap_name(config, lang, langs, false)? {
            names.push((lang, name));
        }
    }
    if names.is_empty() {
        return Ok(None);
    }
    let (kube, namespace) = connect(None)?;
    Ok(Some(SinkTargets {
        kube,
        namespace,
        names,
    }))
}

/// Applies the language's state to its ConfigMap when the sink is enabled for it and
/// smoke passed for every configured package; a refused or failed write is a publish
/// failure (exit 3): the state did not reach the place consumers read it from.
pub(crate) fn write_configmap(
    sink: &SinkTargets,
    config: &Config,
    lang: Lang,
    outcome: &PhaseOutcome,
    log: &Logger,
) -> Option<Failure> {
    let name = sink.name(lang)?;
    let log = log.scoped(format!("packages:{lang}-state"));
    let packages = config.section(lang).map_or(0, |s| s.packages.len());
    let passed = outcome.failures.is_empty()
        && outcome.documents.len() == packages
        && outcome
            .documents
            .iter()
            .all(|d| d.smoke.status == SmokeStatus::Passed);
    if !passed {
        log.warn(&format!(
            "configmaps {}/{name} not written: smoke did not pass for every {lang} package",
            sink.namespace
        ));
        return None;
    }
    let version = match StateStore::new(config.state_dir()).read_version(lang) {
        Ok(v) => v,
        Err(e) => return Some(Failure::internal(e.to_string())),
    };
    let data = state_data(lang, &outcome.documents, version.as_deref());
    let step = log.step(format!(
        "apply state to configmaps {}/{name}",
        sink.namespace
    ));
    match ConfigMapSink::new(&sink.namespace, name).apply(&sink.kube, &data) {
        Ok(report) => {
            step.ok();
            log.info(&format!(
                "configmaps {}/{name} {}: {} keys, {} bytes",
                sink.namespace,
                if report.created { "created" } else { "updated" },
                report.keys,
                report.size
            ));
            None
        }
        Err(e) => {
            let text = error_text(&e);
            step.fail(&text);
            // An API server that did not answer (or kept answering 429/5xx) is exit 5, like
            // an unreachable registry; anything else (RBAC, size, conflict) a failed publish.
            let failure = match e.read_exit_status() {
                ExitStatus::Unreachable => Failure::unreachable(text),
                _ => Failure::publish(text),
            };
            Some(match e.hint() {
                Some(hint) => failure.with_hint(hint),
                None => failure,
            })
        }
    }
}

/// A Kubernetes error of a read-only command as a CLI error with its exit status.
pub fn kube_error(err: KubeError) -> CliError {
    CliError {
        status: err.read_exit_status(),
        hint: err.hint(),
        message: error_text(&err),
    }
}

fn kube_usage(err: KubeError) -> CliError {
    CliError {
        status: ExitStatus::Usage,
        ..kube_error(err)
    }
}

/// The error and its causes on one line (CliError carries no source chain).
pub fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

pub fn run(args: StateSyncArgs, globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let names = langs
        .iter()
        .map(|&lang| {
            Ok((
                lang,
                configmap_name(&config, lang, &langs, true)?.expect("default given"),
            ))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let (kube, namespace) = connect(args.namespace)?;
    let log = logger(globals);

    // Read and validate everything first: a bad key anywhere means nothing is written.
    let mut states: Vec<SyncedState> = Vec::new();
    for (lang, name) in &names {
        let state = kube
            .read_state(&namespace, name, *lang)
            .map_err(kube_error)?;
        for key in &state.ignored {
            log.scoped(format!("packages:{lang}-state"))
                .warn(&format!("configmaps {namespace}/{name}: key {key} is not a state document nor {lang}-version; left alone"));
        }
        states.push(state);
    }

    let store = StateStore::new(config.state_dir());
    for state in &states {
        let lang = state.lang;
        let log = log.scoped(format!("packages:{lang}-state"));
        for doc in &state.documents {
            store.write_document(doc)?;
        }
        if let Some(version) = &state.version {
            store.write_version(lang, version)?;
        }
        let mut pruned = Vec::new();
        if args.prune {
            pruned = prune(&store, lang, &state.documents, state.version.is_some())?;
        }
        log.ok(&format!(
            "synced {} document{}{} from {} into {}{}",
            state.documents.len(),
            if state.documents.len() == 1 { "" } else { "s" },
            if state.version.is_some() {
                format!(" and {lang}-version")
            } else {
                String::new()
            },
            state.object,
            store.dir().display(),
            if pruned.is_empty() {
                String::new()
            } else {
                format!("; pruned {}", pruned.join(", "))
            }
        ));
    }
    for state in &states {
        for doc in &state.documents {
            println!("{} {}", doc.state_key, doc.version);
        }
    }
    Ok(Outcome::SUCCESS)
}

/// Removes the local documents of `lang` whose state key is not in `keep`, and the
/// version file when the ConfigMap has none. Files that are not readable documents
/// are not pkgrun's to judge and stay.
fn prune(
    store: &StateStore,
    lang: Lang,
    keep: &[StateDocument],
    has_version: bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(store.dir()) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e.into()),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let Some(key) = name.strip_suffix(".json").filter(|k| !k.starts_with('.')) else {
            continue;
        };
        if keep.iter().any(|d| d.state_key == key) {
            continue;
        }
        if let Ok(Some(doc)) = store.read_document(key) {
            if doc.language == lang {
                std::fs::remove_file(store.document_path(key))?;
                removed.push(name);
            }
        }
    }
    if !has_version && store.version_path(lang).exists() {
        std::fs::remove_file(store.version_path(lang))?;
        removed.push(format!("{lang}-version"));
    }
    Ok(removed)
}

/// The sink's decision not to write. Writing itself (created, updated, refused with 403 as
/// exit 3) is proven against the real kube-apiserver in tests/e2e/tests/kube_rbac.rs and
/// kube_state_sync.rs.
#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_core::log::Capture;

    const V: &str = "v0.0.0-20261127221005-0123456789ab";

    fn workspace() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("go/sdk")).unwrap();
        std::fs::write(
            dir.path().join("go/sdk/go.mod"),
            "module example.com/acme/sdk\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("pkgrun.toml"),
            "env_prefix = \"AMEIDE\"\nstate_dir = \"state\"\n[[go.packages]]\nname = \"example.com/acme/sdk\"\npath = \"go/sdk\"\nstate_key = \"sdk-go\"\n",
        )
        .unwrap();
        let config = Config::load(&dir.path().join("pkgrun.toml")).unwrap();
        StateStore::new(config.state_dir())
            .write_version(Lang::Go, V)
            .unwrap();
        (dir, config)
    }

    fn outcome(status: &str) -> PhaseOutcome {
        let doc: StateDocument = serde_json::from_value(serde_json::json!({
            "schema": "pkgrun.state/v1", "language": "go", "package": "example.com/acme/sdk",
            "state_key": "sdk-go", "version": V, "registry": "http://127.0.0.1:5000",
            "git_sha": "0123456789ab", "published_at": "2026-11-27T22:10:05Z",
            "publish": {"outcome": "uploaded"}, "dependencies": [], "artifacts": [],
            "smoke": {"status": status, "checks": []}, "durations_ms": {}
        }))
        .unwrap();
        PhaseOutcome {
            documents: vec![doc],
            failures: vec![],
        }
    }

    /// A sink whose API server does not exist (nothing listens on port 9): any request
    /// would end in an "unreachable" failure, so a `None` proves none was sent.
    fn sink() -> SinkTargets {
        SinkTargets {
            kube: Kube::for_url("http://127.0.0.1:9", "ameide").unwrap(),
            namespace: "ameide".into(),
            names: vec![(Lang::Go, "go-packages-state".into())],
        }
    }

    #[test]
    fn a_smoke_that_did_not_pass_for_every_package_sends_nothing() {
        let (_dir, config) = workspace();
        let log = Logger::new("packages:pkgrun", Capture::new());
        for status in ["failed", "not-run"] {
            assert!(write_configmap(&sink(), &config, Lang::Go, &outcome(status), &log).is_none());
        }
        let mut with_failure = outcome("passed");
        with_failure
            .failures
            .push(Failure::smoke("consumer check failed"));
        assert!(write_configmap(&sink(), &config, Lang::Go, &with_failure, &log).is_none());
        // Control: a passed smoke does try to write, and the missing API server makes that
        // an "unreachable" failure (exit 5) once the client's bounded retries run out.
        let failure = write_configmap(&sink(), &config, Lang::Go, &outcome("passed"), &log)
            .expect("a write was attempted");
        assert_eq!(failure.exit_status(), ExitStatus::Unreachable);
    }
}
