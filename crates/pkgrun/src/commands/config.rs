//! `pkgrun config check [--env]`: validate pkgrun.toml (and the environment) and
//! print a summary.

use anyhow::Result;
use pkgrun_core::env::ProcessEnv;
use pkgrun_core::plan;
use pkgrun_core::version::Timestamp;

use super::{load_config, state_sync, Outcome};
use crate::cli::Globals;

pub fn check(with_env: bool, globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let langs: Vec<_> = config.languages().collect();
    // Check the environment before printing anything, so a failure prints only the error.
    let preflight = if with_env {
        Some(plan::preflight(
            &config,
            &langs,
            &ProcessEnv,
            Timestamp::now(),
        )?)
    } else {
        None
    };
    // The ConfigMap sink's names and credentials, as `pkgrun run` checks them before it
    // touches anything: "environment complete" must mean a run would not stop there.
    let sink = if with_env {
        state_sync::sink_targets(&config, &langs)?
    } else {
        None
    };
    let mut out = String::new();
    out.push_str(&format!("config     {}\n", config.path().display()));
    out.push_str(&format!("env_prefix {}\n", config.env_prefix()));
    out.push_str(&format!("state_dir  {}\n", config.state_dir().display()));
    for section in config.sections() {
        let probe = section
            .upstream_probe
            .as_deref()
            .map(|p| format!(" (upstream probe {p})"))
            .unwrap_or_default();
        out.push_str(&format!("[{}]{probe}\n", section.lang));
        for pkg in section.publish_order() {
            let base = pkg
                .manifest
                .base_version
                .as_deref()
                .map(|b| format!(" base {b}"))
                .unwrap_or_default();
            let deps: Vec<&str> = section
                .siblings(pkg)
                .iter()
                .map(|p| p.state_key.as_str())
                .collect();
            let deps = if deps.is_empty() {
                String::new()
            } else {
                format!(" after {}", deps.join(", "))
            };
            out.push_str(&format!(
                "  {} = {} at {}{base}{deps}, {} smoke check{}\n",
                pkg.state_key,
                pkg.name,
                pkg.path,
                pkg.smoke.len(),
                if pkg.smoke.len() == 1 { "" } else { "s" }
            ));
        }
    }
    let count = config.packages().count();
    out.push_str(&format!(
        "ok: {count} package{} in {} language{}",
        if count == 1 { "" } else { "s" },
        langs.len(),
        if langs.len() == 1 { "" } else { "s" }
    ));
    if let Some(p) = preflight {
        out.push_str(&format!(
            "; environment complete (sha {}, {} versions planned)",
            p.versions.sha,
            p.versions.packages.len()
        ));
    }
    if let Some(sink) = sink {
        let names: Vec<String> = sink
            .names
            .iter()
            .map(|(lang, name)| format!("{lang} → configmaps {}/{name}", sink.namespace))
            .collect();
        out.push_str(&format!("\nstate sink {}", names.join(", ")));
    }
    println!("{out}");
    Ok(Outcome::SUCCESS)
}
