//! Smoke checks of a published npm package, and the upstream probe.
//!
//! * protocol: the packument lists the version under its dist-tag (`dev` for
//!   snapshots, `latest` for releases) with the recorded `dist.integrity`, and the
//!   tarball the packument points at hashes to it.
//! * consumer: a throwaway ESM project with an empty npm cache installs
//!   `<name>@<version>` from the registry; its lock file must show every package
//!   (internal siblings and third-party dependencies) resolved through the registry and
//!   the package itself with the recorded integrity; then Node imports the main entry
//!   and each configured subpath and checks the named export exists.
//! * upstream probe: packument and tarball of a public package fetched twice through
//!   the registry; both must be byte-identical and match the packument's integrity.
//!   From the outside a registry's cache is invisible, so the evidence records the
//!   timings and digests; the end-to-end suite proves the cache by cutting the uplink.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pkgrun_core::config::Package;
use pkgrun_core::process::StepCommand;
use pkgrun_core::state::{ArtifactKind, StateDocument};
use serde_json::{Map, Value};

use crate::adapter::{Context, ProbeEvidence};
use crate::digest;
use crate::failure::{Failure, FailureKind};
use crate::ts::registry::{dist_tag, Published};
use crate::ts::tool::NpmEnv;
use crate::ts::{registry, registry_url};

/// The tarball's recorded integrity in a state document.
fn recorded_integrity(doc: &StateDocument) -> Result<&str, Failure> {
    doc.artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Tarball)
        .and_then(|a| a.integrity.as_deref())
        .ok_or_else(|| {
            Failure::usage(format!(
                "the state of {} records no tarball integrity",
                doc.package
            ))
            .with_hint("publish it again with `pkgrun publish ts`")
        })
}

pub fn check_protocol(
    ctx: &Context,
    package: &Package,
    doc: &StateDocument,
) -> Result<String, Failure> {
    let registry = registry(ctx)?;
    let recorded = recorded_integrity(doc)?;
    let name = &package.name;
    let version = &doc.version;
    let smoke = |m: String| Failure::smoke(m);
    let packument = registry
        .packument(name)?
        .ok_or_else(|| smoke(format!("{} does not know {name} (404)", registry.shown())))?;
    let Some(Published {
        integrity, tarball, ..
    }) = registry::version_dist(&packument, version)
    else {
        return Err(smoke(format!(
            "the packument of {name} does not list {version}"
        )));
    };
    let tag = dist_tag(version);
    let tagged = packument
        .get("dist-tags")
        .and_then(|t| t.get(tag))
        .and_then(Value::as_str);
    if tagged != Some(version.as_str()) {
        return Err(smoke(format!(
            "dist-tag {tag} of {name} points at {}, not {version}",
            tagged.unwrap_or("nothing")
        ))
        .with_hint(
            "another publish moved the tag since this version was published; publish again",
        ));
    }
    if integrity.as_deref() != Some(recorded) {
        return Err(smoke(format!(
            "the packument gives {name}@{version} dist.integrity {}, but {recorded} was published",
            integrity.as_deref().unwrap_or("<none>")
        )));
    }
    let tarball = tarball.ok_or_else(|| smoke(format!("{name}@{version} has no dist.tarball")))?;
    let bytes = registry.tarball(&tarball)?;
    let served = digest::integrity_sha512(&bytes);
    if served != recorded {
        return Err(smoke(format!(
            "the tarball served for {name}@{version} hashes to {served}, but {recorded} was published"
        )));
    }
    Ok(format!(
        "packument lists {version} under dist-tag {tag}; the served tarball ({} bytes) has the published integrity {recorded}",
        bytes.len()
    ))
}

/// The Node program that imports each `(specifier, symbol)` in `PKGRUN_SMOKE_IMPORTS`.
const IMPORT_CHECK: &str = r#"
const checks = JSON.parse(process.env.PKGRUN_SMOKE_IMPORTS);
let failed = 0;
for (const { specifier, symbol } of checks) {
  try {
    const mod = await import(specifier);
    if (symbol in mod) {
      console.log(`import ${specifier}: ${symbol} is a ${typeof mod[symbol]}`);
    } else {
      failed++;
      console.log(`import ${specifier}: no export named ${symbol} (it exports: ${Object.keys(mod).join(", ") || "nothing"})`);
    }
  } catch (e) {
    failed++;
    console.log(`import ${specifier} failed: ${(e && e.message) || e}`);
  }
}
process.exitCode = failed ? 1 : 0;
"#;

/// `"."` → the package, `"./x"` → `name/x`.
pub fn specifier(name: &str, import: &str) -> String {
    match import.trim() {
        "" | "." | "./" => name.to_string(),
        sub => format!("{name}/{}", sub.trim_start_matches("./")),
    }
}

pub fn check_consumer(
    ctx: &Context,
    package: &Package,
    doc: &StateDocument,
) -> Result<String, Failure> {
    let recorded = recorded_integrity(doc)?;
    let name = &package.name;
    let version = &doc.version;
    let (project, base) = install_fresh(ctx, name, version)?;
    let packages = read_lock(&project)?;
    check_sources(&packages, &base)?;
    check_versions(&packages, name, version, recorded, doc)?;
    let count = packages.keys().filter(|p| !p.is_empty()).count();
    let summary = format!("installed {name}@{version} with {count} packages, all from {base}");
    run_imports(ctx, package, &project, summary)
}

/// Installs `name@version` into a fresh project; returns the project and the registry
/// URL without credentials.
fn install_fresh(ctx: &Context, name: &str, version: &str) -> Result<(PathBuf, String), Failure> {
    // npm retries a dead registry for minutes; the bounded-retry client tells in seconds
    // (exit 5) whether there is a registry to install from at all.
    registry(ctx)?.packument(name)?;
    let project = ctx.scratch_dir("consumer")?;
    fs_err::write(
        project.join("package.json"),
        "{\n  \"name\": \"pkgrun-smoke-consumer\",\n  \"version\": \"0.0.0\",\n  \"private\": true,\n  \"type\": \"module\"\n}\n",
    )?;
    let url = registry_url(ctx.env)?;
    let npm = NpmEnv::new(ctx, "consumer", url)?;
    let install = npm
        .command(
            format!("install {name}@{version} in a fresh project"),
            "npm",
            &project,
        )
        // Lifecycle scripts off: the smoke imports the package; nothing of it (or of its
        // dependencies) runs during the install.
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--ignore-scripts",
        ])
        .arg(format!("{name}@{version}"));
    ctx.run(&install, FailureKind::Smoke)?;
    let base = url
        .without_credentials()
        .as_str()
        .trim_end_matches('/')
        .to_string();
    Ok((project, base))
}

/// The `packages` of the lock file npm wrote.
fn read_lock(project: &Path) -> Result<Map<String, Value>, Failure> {
    let lock: Value = fs_err::read(project.join("package-lock.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| Failure::smoke("npm install wrote no readable package-lock.json"))?;
    match lock.get("packages") {
        Some(Value::Object(packages)) => Ok(packages.clone()),
        _ => Err(Failure::smoke("package-lock.json has no `packages`")),
    }
}

/// Every installed package came from the registry.
fn check_sources(packages: &Map<String, Value>, base: &str) -> Result<(), Failure> {
    let mut foreign = Vec::new();
    for (path, entry) in packages.iter().filter(|(p, _)| !p.is_empty()) {
        match entry.get("resolved").and_then(Value::as_str) {
            Some(resolved) if resolved.starts_with(&format!("{base}/")) => {}
            other => foreign.push(format!("{path} ({})", other.unwrap_or("no resolved URL"))),
        }
    }
    if !foreign.is_empty() {
        return Err(Failure::smoke(format!(
            "packages did not come from {base}: {}",
            foreign.join(", ")
        )));
    }
    Ok(())
}

/// The consumer got the recorded version and integrity, and the pinned siblings.
fn check_versions(
    packages: &Map<String, Value>,
    name: &str,
    version: &str,
    recorded: &str,
    doc: &StateDocument,
) -> Result<(), Failure> {
    let top = packages.get(&format!("node_modules/{name}"));
    let got = top.and_then(|e| e.get("version")).and_then(Value::as_str);
    let got_integrity = top.and_then(|e| e.get("integrity")).and_then(Value::as_str);
    if got != Some(version) || got_integrity != Some(recorded) {
        return Err(Failure::smoke(format!(
            "the consumer got {name}@{} with integrity {}, expected {version} with {recorded}",
            got.unwrap_or("<missing>"),
            got_integrity.unwrap_or("<none>")
        )));
    }
    for pin in &doc.dependencies {
        let suffix = format!("node_modules/{}", pin.package);
        let found = packages.iter().any(|(p, e)| {
            p.ends_with(&suffix)
                && e.get("version").and_then(Value::as_str) == Some(pin.version.as_str())
        });
        if !found {
            return Err(Failure::smoke(format!(
                "the consumer did not get {}@{} (the version {name}@{version} was published against)",
                pin.package, pin.version
            )));
        }
    }
    Ok(())
}

/// Imports every configured smoke import in Node; each line it prints joins `summary`.
fn run_imports(
    ctx: &Context,
    package: &Package,
    project: &Path,
    mut summary: String,
) -> Result<String, Failure> {
    let name = &package.name;
    let checks: Vec<Value> = package
        .smoke
        .iter()
        .map(|c| serde_json::json!({ "specifier": specifier(name, &c.import), "symbol": c.symbol }))
        .collect();
    if checks.is_empty() {
        summary.push_str("; no imports configured");
        return Ok(summary);
    }
    // Importing runs the package's code: like every child it gets no registry token.
    let import = StepCommand::new(format!("import {name} in Node (ESM)"), "node")
        .current_dir(project)
        .args(["--input-type=module", "-e", IMPORT_CHECK])
        .env("PKGRUN_SMOKE_IMPORTS", Value::Array(checks).to_string());
    let output = ctx.run(&import, FailureKind::Smoke)?;
    for line in output.stdout().lines() {
        summary.push_str("; ");
        summary.push_str(line);
    }
    Ok(summary)
}

/// `name@version`, scoped names included (`@scope/name@1.0.0`).
pub fn parse_target(target: &str) -> Option<(&str, &str)> {
    let at = target.rfind('@').filter(|&i| i > 0)?;
    let (name, version) = (&target[..at], &target[at + 1..]);
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

pub fn probe_upstream(ctx: &Context, target: &str) -> Result<ProbeEvidence, Failure> {
    let (name, version) = parse_target(target)
        .ok_or_else(|| Failure::usage(format!("upstream probe {target:?} is not name@version")))?;
    let registry = registry(ctx)?;
    let fetch = || -> Result<(u64, Vec<u8>, String), Failure> {
        let started = Instant::now();
        let packument = registry.packument(name)?.ok_or_else(|| {
            Failure::smoke(format!("{} does not serve {name} (404)", registry.shown())).with_hint(
                "the registry must proxy public packages to an upstream (check its uplink)",
            )
        })?;
        let dist = registry::version_dist(&packument, version).ok_or_else(|| {
            Failure::smoke(format!(
                "the packument of {name} served by {} has no {version}",
                registry.shown()
            ))
        })?;
        let url = dist
            .tarball
            .ok_or_else(|| Failure::smoke(format!("{name}@{version} has no dist.tarball")))?;
        let bytes = registry.tarball(&url)?;
        let ms = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
        let integrity = digest::integrity_sha512(&bytes);
        match dist.integrity {
            Some(expected) if expected != integrity => Err(Failure::smoke(format!(
                "{name}@{version} from {} hashes to {integrity}, its packument says {expected}",
                registry.shown()
            ))),
            _ => Ok((ms, bytes, integrity)),
        }
    };
    let (first_ms, first, integrity) = fetch()?;
    ctx.log.info(&format!(
        "first fetch of {target}: {first_ms} ms, {} bytes",
        first.len()
    ));
    let (second_ms, second, _) = fetch()?;
    ctx.log.info(&format!(
        "second fetch of {target}: {second_ms} ms, {} bytes",
        second.len()
    ));
    if first != second {
        return Err(Failure::smoke(format!(
            "two fetches of {target} through {} returned different bytes",
            registry.shown()
        )));
    }
    Ok(ProbeEvidence {
        first_ms,
        second_ms,
        evidence: format!(
            "packument and tarball fetched twice through {}: identical {} bytes, {integrity} as the packument says; first {first_ms} ms, second {second_ms} ms",
            registry.shown(),
            first.len()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subpaths_become_specifiers() {
        assert_eq!(specifier("@s/a", "."), "@s/a");
        assert_eq!(
            specifier("@s/a", "./platform/organizations"),
            "@s/a/platform/organizations"
        );
    }

    #[test]
    fn probe_targets_parse_with_scopes() {
        assert_eq!(parse_target("lodash@4.17.21"), Some(("lodash", "4.17.21")));
        assert_eq!(parse_target("@s/a@1.0.0"), Some(("@s/a", "1.0.0")));
        assert_eq!(parse_target("lodash"), None);
        assert_eq!(parse_target("@s/a"), None);
        assert_eq!(parse_target("lodash@"), None);
    }
}
