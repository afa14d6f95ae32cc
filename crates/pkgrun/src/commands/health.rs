//! `pkgrun health`: is the package pipeline healthy right now?
//!
//! Three questions, each answered per language:
//! * **registries**: is the registry reachable and does it answer as its kind should
//!   (Go: `/healthz`, else a GOPROXY list request; devpi: `<index>/+api`; Verdaccio:
//!   `-/ping`)? Only URL variables are read: health needs no credentials.
//! * **state**: does every configured package have a state document, did its smoke pass,
//!   how old is it, and was it published from the current commit (`SOURCE_GIT_SHA`,
//!   else HEAD)?
//! * **cluster** (`--cluster`): do the state ConfigMaps hold the same documents as the
//!   local state directory?
//!
//! Exit codes: 0 healthy; 4 unhealthy state (missing, smoke not passed, stale, drift);
//! 5 a registry or the Kubernetes API unreachable (wins over 4); 2 configuration, a
//! missing URL variable or no cluster credentials.

use std::time::{Duration, Instant};

use anyhow::Result;
use pkgrun_core::env::{self, Kind, ProcessEnv, Requirement};
use pkgrun_core::git::resolve_sha;
use pkgrun_core::plan::select_languages;
use pkgrun_core::state::{SmokeStatus, StateDocument, StateStore};
use pkgrun_core::{Config, ExitStatus, Lang};
use pkgrun_lang::health::RegistryAnswer;
use pkgrun_lang::http::{RegistryHttp, RetryPolicy};
use serde::Serialize;
use time::OffsetDateTime;

use super::state_sync::{configmap_name, connect, kube_error};
use super::{load_config, logger, Outcome};
use crate::cli::{Globals, HealthArgs};
use crate::report::CliError;

/// The whole answer, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct HealthReport {
    pub healthy: bool,
    pub exit_code: u8,
    pub current_sha: Option<String>,
    pub registries: Vec<RegistryHealth>,
    pub state: Vec<PackageHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Vec<ClusterHealth>>,
}

#[derive(Debug, Serialize)]
pub struct RegistryHealth {
    pub language: Lang,
    pub kind: &'static str,
    /// Redacted: no credentials.
    pub url: String,
    pub status: RegistryStatus,
    pub detail: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistryStatus {
    Ok,
    /// Answered, but not as a registry of its kind answers.
    Unexpected,
    Unreachable,
}

#[derive(Debug, Serialize)]
pub struct PackageHealth {
    pub language: Lang,
    pub state_key: String,
    pub version: Option<String>,
    pub published_at: Option<String>,
    pub age_seconds: Option<i64>,
    pub smoke: Option<SmokeStatus>,
    pub git_sha: Option<String>,
    /// `None` when the current commit is unknown (no SOURCE_GIT_SHA and no .git).
    pub current: Option<bool>,
    /// Empty when healthy.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ClusterHealth {
    pub language: Lang,
    pub configmap: String,
    pub namespace: String,
    pub in_sync: bool,
    /// One line per key that differs, is missing locally, or is missing in the cluster.
    pub differences: Vec<String>,
}

pub fn run(args: HealthArgs, globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let urls = registry_urls(&config, &langs)?;
    let log = logger(globals).scoped("packages:pkgrun-health");
    let current_sha = resolve_sha(config.root(), &ProcessEnv)
        .map(|s| s.to_string())
        .ok();
    if current_sha.is_none() {
        log.warn("current commit unknown (no SOURCE_GIT_SHA and no .git): staleness not checked");
    }

    let http = RegistryHttp::with_deadline(
        RetryPolicy {
            attempts: args.attempts.max(1),
            first_backoff: Duration::from_millis(250),
            // A health check must not wait longer than its own timeout on a 429.
            max_retry_after: Duration::from_secs_f64(args.timeout),
        },
        Duration::from_secs_f64(args.timeout),
    )?;
    let registries: Vec<RegistryHealth> = urls
        .iter()
        .map(|(lang, url)| probe_registry(&http, &config, *lang, url))
        .collect();
    let store = StateStore::new(config.state_dir());
    let now = OffsetDateTime::now_utc();
    let mut state = Vec::new();
    for &lang in &langs {
        for package in config
            .section(lang)
            .map(|s| s.packages.as_slice())
            .unwrap_or(&[])
        {
            let doc = store.read_document(&package.state_key)?;
            state.push(package_health(
                lang,
                &package.state_key,
                doc.as_ref(),
                current_sha.as_deref(),
                now,
            ));
        }
    }
    let cluster = if args.cluster {
        Some(cluster_health(
            &config,
            &langs,
            &store,
            args.namespace.clone(),
        )?)
    } else {
        None
    };

    let status = verdict(&registries, &state, cluster.as_deref());
    let report = HealthReport {
        healthy: status == ExitStatus::Success,
        exit_code: status.code(),
        current_sha,
        registries,
        state,
        cluster,
    };
    log_report(&log, &report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(Outcome::Status(status))
}

/// Worst wins: an unreachable registry (5) over unhealthy state or drift (4).
pub fn verdict(
    registries: &[RegistryHealth],
    state: &[PackageHealth],
    cluster: Option<&[ClusterHealth]>,
) -> ExitStatus {
    if registries.iter().any(|r| r.status != RegistryStatus::Ok) {
        ExitStatus::Unreachable
    } else if state.iter().any(|p| !p.problems.is_empty())
        || cluster.is_some_and(|c| c.iter().any(|c| !c.in_sync))
    {
        ExitStatus::Smoke
    } else {
        ExitStatus::Success
    }
}

/// The variable each language's registry URL comes from (the same one publish uses).
fn registry_var(lang: Lang, prefix: &str) -> String {
    lang.ecosystem().registry_url_var().name(prefix)
}

/// Every URL variable checked at once (exit 2 naming each missing or malformed one).
fn registry_urls(config: &Config, langs: &[Lang]) -> Result<Vec<(Lang, String)>> {
    let requirements: Vec<Requirement> = langs
        .iter()
        .map(|&lang| {
            Requirement::new(
                registry_var(lang, config.env_prefix()),
                Kind::Url,
                format!("{lang} registry URL (the one publish uses)"),
            )
        })
        .collect();
    let resolved = env::check(&requirements, &ProcessEnv)?;
    Ok(langs
        .iter()
        .zip(&requirements)
        .map(|(&lang, r)| {
            let url = resolved.url(&r.name).expect("checked above");
            (lang, url.expose().to_string())
        })
        .collect())
}

/// One request that a registry of the language's kind answers in a known way (each
/// adapter's `probe_health`).
fn probe_registry(http: &RegistryHttp, config: &Config, lang: Lang, url: &str) -> RegistryHealth {
    let started = Instant::now();
    let (kind, answer) =
        pkgrun_lang::health::probe_registry(lang, http, config, url.trim_end_matches('/'));
    let (status, detail) = match answer {
        RegistryAnswer::Ok(detail) => (RegistryStatus::Ok, detail),
        RegistryAnswer::Unexpected(detail) => (RegistryStatus::Unexpected, detail),
        RegistryAnswer::Unreachable(detail) => (RegistryStatus::Unreachable, detail),
    };
    RegistryHealth {
        language: lang,
        kind,
        url: pkgrun_lang::http::redact(url),
        status,
        detail,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

/// What is wrong with one package's state document, if anything.
pub fn package_health(
    lang: Lang,
    state_key: &str,
    doc: Option<&StateDocument>,
    current_sha: Option<&str>,
    now: OffsetDateTime,
) -> PackageHealth {
    let Some(doc) = doc else {
        return PackageHealth {
            language: lang,
            state_key: state_key.to_string(),
            version: None,
            published_at: None,
            age_seconds: None,
            smoke: None,
            git_sha: None,
            current: None,
            problems: vec![format!("no state document: run `pkgrun run {lang}` (or `pkgrun state sync {lang}` in a cluster)")],
        };
    };
    let mut problems = Vec::new();
    if doc.smoke.status != SmokeStatus::Passed {
        problems.push(format!(
            "smoke {}: run `pkgrun smoke {lang}` (or `pkgrun run {lang}`)",
            doc.smoke.status.as_str()
        ));
    }
    let current = current_sha.map(|sha| sha == doc.git_sha);
    if current == Some(false) {
        problems.push(format!(
            "stale: published from {}, the current commit is {}",
            doc.git_sha,
            current_sha.unwrap_or_default()
        ));
    }
    let age_seconds = OffsetDateTime::parse(
        &doc.published_at,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
    .map(|at| (now - at).whole_seconds());
    PackageHealth {
        language: lang,
        state_key: state_key.to_string(),
        version: Some(doc.version.clone()),
        published_at: Some(doc.published_at.clone()),
        age_seconds,
        smoke: Some(doc.smoke.status),
        git_sha: Some(doc.git_sha.clone()),
        current,
        problems,
    }
}

fn cluster_health(
    config: &Config,
    langs: &[Lang],
    store: &StateStore,
    namespace: Option<String>,
) -> Result<Vec<ClusterHealth>> {
    let (kube, namespace) = connect(namespace)?;
    let mut out = Vec::new();
    for &lang in langs {
        let name = configmap_name(config, lang, langs, true)?.expect("default given");
        let remote = match kube.read_state(&namespace, &name, lang) {
            Ok(state) => Some(state.documents),
            Err(pkgrun_kube::KubeError::NotFound { .. }) => None,
            Err(e) => return Err(kube_error(e).into()),
        };
        let keys: Vec<&str> = config
            .section(lang)
            .map(|s| s.packages.iter().map(|p| p.state_key.as_str()).collect())
            .unwrap_or_default();
        let mut local = Vec::new();
        for key in &keys {
            if let Some(doc) = store.read_document(key)? {
                local.push(doc);
            }
        }
        let differences = match &remote {
            None => vec![format!("configmaps {namespace}/{name} does not exist")],
            Some(remote) => drift(&local, remote),
        };
        out.push(ClusterHealth {
            language: lang,
            configmap: name,
            namespace: namespace.clone(),
            in_sync: differences.is_empty(),
            differences,
        });
    }
    Ok(out)
}

/// Keys whose documents differ between the local state and a ConfigMap.
pub fn drift(local: &[StateDocument], remote: &[StateDocument]) -> Vec<String> {
    let mut keys: Vec<&str> = local
        .iter()
        .chain(remote)
        .map(|d| d.state_key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let l = local.iter().find(|d| d.state_key == key);
            let r = remote.iter().find(|d| d.state_key == key);
            match (l, r) {
                (Some(l), Some(r)) if l == r => None,
                (Some(l), Some(r)) if l.version != r.version => Some(format!(
                    "{key}: local {} , cluster {}",
                    l.version, r.version
                )),
                (Some(_), Some(_)) => Some(format!(
                    "{key}: same version, different document (run `pkgrun state sync`)"
                )),
                (Some(l), None) => Some(format!("{key}: local {} not in the cluster", l.version)),
                (None, Some(r)) => Some(format!(
                    "{key}: cluster {} not in the local state (run `pkgrun state sync`)",
                    r.version
                )),
                (None, None) => None,
            }
        })
        .collect()
}

fn log_report(log: &pkgrun_core::log::Logger, report: &HealthReport) {
    for r in &report.registries {
        let line = format!("{} registry {} {}: {}", r.language, r.kind, r.url, r.detail);
        if r.status == RegistryStatus::Ok {
            log.ok(&line);
        } else {
            log.fail(&line);
        }
    }
    for p in &report.state {
        for problem in &p.problems {
            log.fail(&format!("{} {}: {problem}", p.language, p.state_key));
        }
    }
    for c in report.cluster.iter().flatten() {
        for d in &c.differences {
            log.fail(&format!(
                "{} drift from configmaps {}/{}: {d}",
                c.language, c.namespace, c.configmap
            ));
        }
    }
    if report.healthy {
        log.ok("healthy");
    }
}

/// A human summary: one line per registry, per package, per ConfigMap.
fn table(report: &HealthReport) -> String {
    let mut out = String::new();
    for r in &report.registries {
        let status = match r.status {
            RegistryStatus::Ok => "ok",
            RegistryStatus::Unexpected => "UNEXPECTED",
            RegistryStatus::Unreachable => "UNREACHABLE",
        };
        out.push_str(&format!(
            "registry  {:<6}  {:<11}  {}\n",
            r.language.as_str(),
            status,
            r.url
        ));
    }
    for p in &report.state {
        let status = if p.problems.is_empty() {
            "ok"
        } else {
            "UNHEALTHY"
        };
        let age = p.age_seconds.map(format_age).unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "state     {:<6}  {:<11}  {}  {}  age {age}\n",
            p.language.as_str(),
            status,
            p.state_key,
            p.version.as_deref().unwrap_or("-"),
        ));
    }
    for c in report.cluster.iter().flatten() {
        let status = if c.in_sync { "in-sync" } else { "DRIFT" };
        out.push_str(&format!(
            "cluster   {:<6}  {:<11}  configmaps {}/{}\n",
            c.language.as_str(),
            status,
            c.namespace,
            c.configmap
        ));
    }
    out
}

/// `3d4h`, `2h5m`, `7m12s`, `40s`.
pub fn format_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m{sec}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789ab";

    fn doc(key: &str, version: &str, smoke: &str, sha: &str) -> StateDocument {
        serde_json::from_value(serde_json::json!({
            "schema": "pkgrun.state/v1", "language": "go", "package": "example.com/acme/sdk",
            "state_key": key, "version": version, "registry": "http://127.0.0.1:5000",
            "git_sha": sha, "published_at": "2026-11-27T22:10:05Z",
            "publish": {"outcome": "uploaded"}, "dependencies": [], "artifacts": [],
            "smoke": {"status": smoke, "checks": []}, "durations_ms": {}
        }))
        .unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse(
            "2026-11-28T01:12:15Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    #[test]
    fn a_passed_current_document_is_healthy_and_its_age_is_measured() {
        let d = doc("sdk-go", "v1.0.0", "passed", SHA);
        let h = package_health(Lang::Go, "sdk-go", Some(&d), Some(SHA), now());
        assert!(h.problems.is_empty(), "{:?}", h.problems);
        assert_eq!(h.current, Some(true));
        assert_eq!(h.age_seconds, Some(3 * 3600 + 2 * 60 + 10));
    }

    #[test]
    fn missing_failed_not_run_and_stale_documents_are_each_a_problem() {
        let missing = package_health(Lang::Go, "sdk-go", None, Some(SHA), now());
        assert!(missing.problems[0].contains("no state document"));
        for smoke in ["failed", "not-run"] {
            let d = doc("sdk-go", "v1.0.0", smoke, SHA);
            let h = package_health(Lang::Go, "sdk-go", Some(&d), Some(SHA), now());
            assert_eq!(h.problems.len(), 1, "{:?}", h.problems);
            assert!(h.problems[0].contains(smoke));
        }
        let d = doc("sdk-go", "v1.0.0", "passed", "fedcba987654");
        let stale = package_health(Lang::Go, "sdk-go", Some(&d), Some(SHA), now());
        assert_eq!(stale.current, Some(false));
        assert!(stale.problems[0].contains("stale: published from fedcba987654"));
        // Unknown current commit: staleness cannot be judged, so it is not a problem.
        let unknown = package_health(Lang::Go, "sdk-go", Some(&d), None, now());
        assert!(unknown.problems.is_empty());
        assert_eq!(unknown.current, None);
    }

    #[test]
    fn drift_names_each_differing_key() {
        let a = doc("a", "v1.0.0", "passed", SHA);
        let b = doc("b", "v1.0.0", "passed", SHA);
        let b2 = doc("b", "v2.0.0", "passed", SHA);
        let c = doc("c", "v1.0.0", "passed", SHA);
        let c_failed = doc("c", "v1.0.0", "failed", SHA);
        let d = doc("d", "v1.0.0", "passed", SHA);
        assert!(drift(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_empty());
        let found = drift(&[a.clone(), b, c, d], &[b2, c_failed]);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("a: local v1.0.0 not in the cluster"));
        assert!(found[1].contains("b: local v1.0.0 , cluster v2.0.0"));
        assert!(found[2].contains("c: same version, different document"));
        assert!(found[3].starts_with("d: local"));
    }

    #[test]
    fn an_unreachable_registry_outranks_unhealthy_state() {
        let reg = |status| RegistryHealth {
            language: Lang::Go,
            kind: "go module registry",
            url: "http://127.0.0.1:1".into(),
            status,
            detail: String::new(),
            duration_ms: 0,
        };
        let bad_state = package_health(Lang::Go, "sdk-go", None, None, now());
        assert_eq!(
            verdict(&[reg(RegistryStatus::Ok)], &[], None),
            ExitStatus::Success
        );
        assert_eq!(
            verdict(&[reg(RegistryStatus::Ok)], &[bad_state], None),
            ExitStatus::Smoke
        );
        let bad_state = package_health(Lang::Go, "sdk-go", None, None, now());
        assert_eq!(
            verdict(&[reg(RegistryStatus::Unexpected)], &[bad_state], None),
            ExitStatus::Unreachable
        );
        let drifted = ClusterHealth {
            language: Lang::Go,
            configmap: "go-packages-state".into(),
            namespace: "ns".into(),
            in_sync: false,
            differences: vec!["x".into()],
        };
        assert_eq!(verdict(&[], &[], Some(&[drifted])), ExitStatus::Smoke);
    }

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(format_age(40), "40s");
        assert_eq!(format_age(7 * 60 + 12), "7m12s");
        assert_eq!(format_age(2 * 3600 + 5 * 60 + 9), "2h5m");
        assert_eq!(format_age(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(format_age(-5), "0s");
    }
}
