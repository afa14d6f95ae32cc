//! Building a Go module version in the throwaway copy: go.mod edits, zip, `.mod`, `.info`.
//!
//! A workspace go.mod points at its siblings with `replace X => ../x` so that local
//! builds use the sources. A published module cannot carry such a `replace` (the go
//! command ignores `replace` in dependencies, so consumers would resolve `X` at the
//! version written in `require`, typically a placeholder `v0.0.0` that does not exist).
//! So the copy's go.mod loses the sibling `replace`s and requires exactly the sibling
//! versions published earlier in this run. A `replace` to anything else would be
//! silently ignored by consumers too, which is why it is refused instead of published.

use fs_err as fs;

use gomod::modfile::{ModFile, ReplaceTarget};
use pkgrun_core::version::Timestamp;

use crate::adapter::{BuildJob, Context};
use crate::failure::Failure;

/// What [`build`] made: the three files the GOPROXY protocol serves for a version.
#[derive(Debug, Clone)]
pub struct GoBuild {
    pub module: String,
    pub version: String,
    /// The module zip, built by the Go zip rules.
    pub zip: Vec<u8>,
    /// `h1:` of the zip (the go.sum line of the module).
    pub zip_h1: String,
    /// The edited go.mod (served as `.mod`, and the zip's root go.mod).
    pub go_mod: Vec<u8>,
    /// `h1:` of the go.mod (the go.sum `/go.mod` line).
    pub mod_h1: String,
    /// `{"Version": …, "Time": …}`.
    pub info: Vec<u8>,
}

/// Edits the copy's go.mod, then builds the zip, `.mod` and `.info`.
pub fn build(ctx: &Context, job: &BuildJob) -> Result<GoBuild, Failure> {
    let module = job.package.name.as_str();
    let go_mod_path = job.workdir.join("go.mod");
    let text = fs::read_to_string(&go_mod_path).map_err(|e| {
        Failure::publish(format!("cannot read go.mod of {module}")).with_detail(e.to_string())
    })?;
    let edited = edit_go_mod(module, &text, job)?;
    for line in &edited.notes {
        ctx.log.info(line);
    }
    fs::write(&go_mod_path, &edited.text)?;

    let created = gomod::zip::create_from_dir(module, &job.version, &job.workdir).map_err(|e| {
        Failure::publish(format!("cannot build the module zip of {module}@{}", job.version))
            .with_detail(error_chain(&e))
            .with_hint("fix or remove the files listed (the Go module zip rules decide what a module may contain)")
    })?;
    for skipped in &created.skipped {
        ctx.log.info(&format!(
            "not in the zip: {} ({})",
            skipped.path, skipped.reason
        ));
    }
    let go_mod = created
        .go_mod
        .clone()
        .unwrap_or_else(|| edited.text.clone().into_bytes());
    if go_mod != edited.text.as_bytes() {
        return Err(Failure::internal(format!(
            "the zip of {module}@{} does not hold the edited go.mod",
            job.version
        )));
    }
    let info = info_json(&job.version);
    ctx.log.info(&format!(
        "{module}@{}: zip {} bytes, {} files, {}",
        job.version,
        created.bytes.len(),
        created.files.len(),
        created.h1
    ));
    Ok(GoBuild {
        module: module.to_string(),
        version: job.version.clone(),
        mod_h1: gomod::hash::hash_go_mod(&go_mod),
        zip: created.bytes,
        zip_h1: created.h1,
        go_mod,
        info,
    })
}

/// The go.mod to publish, and what was changed (for the log).
#[derive(Debug)]
struct Edited {
    text: String,
    notes: Vec<String>,
}

fn edit_go_mod(module: &str, text: &str, job: &BuildJob) -> Result<Edited, Failure> {
    let mut file = ModFile::parse(text).map_err(|e| {
        Failure::publish(format!("go.mod of {module} cannot be parsed"))
            .with_detail(error_chain(&e))
    })?;
    check_module_line(&file, module, job)?;
    let drops = sibling_replaces(&file, module, job)?;
    let mut notes = Vec::new();
    for (path, version, shown) in drops {
        file.drop_replace(&path, version.as_deref());
        notes.push(format!("go.mod: dropped replace {shown}"));
    }
    for pin in &job.pins {
        let before = file.require_version(&pin.package.name).map(str::to_string);
        file.set_require(&pin.package.name, &pin.version);
        notes.push(match before {
            Some(b) => format!(
                "go.mod: require {} {b} -> {}",
                pin.package.name, pin.version
            ),
            None => format!(
                "go.mod: require {} {} (added)",
                pin.package.name, pin.version
            ),
        });
    }
    Ok(Edited {
        text: file.to_string(),
        notes,
    })
}

/// The `module` line must name the package as pkgrun.toml does.
fn check_module_line(file: &ModFile, module: &str, job: &BuildJob) -> Result<(), Failure> {
    match file.module_path() {
        Some(declared) if declared == module => {}
        Some(declared) => {
            return Err(Failure::publish(format!(
                "go.mod in {} declares module {declared}, but pkgrun.toml names it {module}",
                job.package.path
            ))
            .with_hint("make the package's `name` in pkgrun.toml equal the go.mod module line"))
        }
        None => {
            return Err(Failure::publish(format!(
                "go.mod in {} has no module line",
                job.package.path
            )))
        }
    }
    Ok(())
}

/// The `replace` directives to drop (they point at siblings of this run, as
/// `(path, version, shown)`); any other one is refused.
fn sibling_replaces(
    file: &ModFile,
    module: &str,
    job: &BuildJob,
) -> Result<Vec<(String, Option<String>, String)>, Failure> {
    let siblings: Vec<&str> = job.pins.iter().map(|p| p.package.name.as_str()).collect();
    let mut foreign = Vec::new();
    let mut drops = Vec::new();
    for rep in file.replaces() {
        let target = match &rep.new {
            ReplaceTarget::Dir(dir) => dir.clone(),
            ReplaceTarget::Module { path, version } => format!("{path} {version}"),
        };
        let old = match &rep.old_version {
            Some(v) => format!("{} {v}", rep.old_path),
            None => rep.old_path.clone(),
        };
        if siblings.contains(&rep.old_path.as_str()) {
            drops.push((
                rep.old_path.clone(),
                rep.old_version.clone(),
                format!("{old} => {target}"),
            ));
        } else {
            foreign.push(format!(
                "replace {old} => {target} (go.mod line {})",
                rep.line
            ));
        }
    }
    if !foreign.is_empty() {
        return Err(Failure::publish(format!(
            "go.mod of {module} has replace directives that do not point at a package of this run"
        ))
        .with_detail(foreign.join("; "))
        .with_hint("consumers ignore replace directives of dependencies, so the published module would not build as tested: remove them, or add the replaced module to [[go.packages]] in pkgrun.toml"));
    }
    Ok(drops)
}

/// The `.info` document. For a pseudo-version the time is the one the version carries
/// (the go command compares them when it has a VCS to compare with); otherwise now.
pub fn info_json(version: &str) -> Vec<u8> {
    let time = pseudo_version_time(version).unwrap_or_else(|| Timestamp::now().rfc3339());
    serde_json::json!({ "Version": version, "Time": time })
        .to_string()
        .into_bytes()
}

/// `vX.Y.Z-[pre.0.]yyyymmddhhmmss-<rev>` ⇒ `yyyy-mm-ddThh:mm:ssZ`.
fn pseudo_version_time(version: &str) -> Option<String> {
    if !gomod::version::is_pseudo_version(version) {
        return None;
    }
    let (before, _rev) = version.rsplit_once('-')?;
    let ts = before.get(before.len().checked_sub(14)?..)?;
    if !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &ts[0..4],
        &ts[4..6],
        &ts[6..8],
        &ts[8..10],
        &ts[10..12],
        &ts[12..14]
    ))
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Pin;
    use pkgrun_core::config::Package;
    use pkgrun_core::manifest::Manifest;
    use pkgrun_core::Lang;
    use std::path::PathBuf;

    fn package(name: &str) -> Package {
        Package {
            lang: Lang::Go,
            name: name.to_string(),
            path: format!("packages/{}", name.rsplit('/').next().unwrap()),
            dir: PathBuf::from("/nonexistent"),
            state_key: name.rsplit('/').next().unwrap().to_string(),
            smoke: Vec::new(),
            manifest: Manifest {
                lang: Lang::Go,
                file: PathBuf::from("/nonexistent/go.mod"),
                name: name.to_string(),
                base_version: None,
                dependencies: Vec::new(),
            },
            base_version: None,
        }
    }

    const SDK: &str = "example.test/sdk";
    const TEL: &str = "example.test/telemetry";
    const SDK_MOD: &str = "module example.test/sdk\n\ngo 1.22\n\nrequire (\n\texample.test/telemetry v0.0.0\n\tgithub.com/x/y v1.2.3\n)\n\nreplace example.test/telemetry => ../telemetry\n";

    fn job<'a>(sdk: &'a Package, pins: Vec<Pin<'a>>) -> BuildJob<'a> {
        BuildJob {
            package: sdk,
            version: "v0.0.0-20261127221005-0123456789ab".to_string(),
            pins,
            workdir: PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn sibling_replace_is_dropped_and_the_requirement_pinned() {
        let (sdk, tel) = (package(SDK), package(TEL));
        let pin = Pin {
            package: &tel,
            version: "v0.0.0-20261127221005-0123456789ab".into(),
        };
        let edited = edit_go_mod(SDK, SDK_MOD, &job(&sdk, vec![pin])).unwrap();
        let file = ModFile::parse(&edited.text).unwrap();
        assert!(file.replaces().is_empty(), "{}", edited.text);
        assert_eq!(
            file.require_version(TEL),
            Some("v0.0.0-20261127221005-0123456789ab")
        );
        assert_eq!(file.require_version("github.com/x/y"), Some("v1.2.3"));
        assert_eq!(edited.notes.len(), 2, "{:?}", edited.notes);
    }

    #[test]
    fn a_replace_outside_the_run_is_refused_and_named() {
        let sdk = package(SDK);
        // No pins: telemetry is not a package of this run.
        let err = edit_go_mod(SDK, SDK_MOD, &job(&sdk, vec![])).unwrap_err();
        assert_eq!(err.kind, crate::FailureKind::Publish);
        assert!(
            err.to_string()
                .contains("replace example.test/telemetry => ../telemetry (go.mod line 10)"),
            "{err}"
        );

        let text = format!("{SDK_MOD}replace github.com/x/y v1.2.3 => github.com/fork/y v1.2.4\n");
        let tel = package(TEL);
        let pin = Pin {
            package: &tel,
            version: "v0.0.0-20261127221005-0123456789ab".into(),
        };
        let err = edit_go_mod(SDK, &text, &job(&sdk, vec![pin])).unwrap_err();
        assert!(
            err.to_string()
                .contains("replace github.com/x/y v1.2.3 => github.com/fork/y v1.2.4"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("example.test/telemetry =>"),
            "{err}"
        );
    }

    #[test]
    fn the_module_line_must_match_the_package_name() {
        let sdk = package("example.test/other");
        let err = edit_go_mod("example.test/other", SDK_MOD, &job(&sdk, vec![])).unwrap_err();
        assert!(
            err.to_string().contains("declares module example.test/sdk"),
            "{err}"
        );
    }

    #[test]
    fn pseudo_version_times() {
        assert_eq!(
            pseudo_version_time("v0.0.0-20261127221005-0123456789ab").as_deref(),
            Some("2026-11-27T22:10:05Z")
        );
        assert_eq!(
            pseudo_version_time("v2.0.0-20261127221005-0123456789ab").as_deref(),
            Some("2026-11-27T22:10:05Z")
        );
        assert_eq!(
            pseudo_version_time("v1.2.4-0.20261127221005-0123456789ab").as_deref(),
            Some("2026-11-27T22:10:05Z")
        );
        assert_eq!(pseudo_version_time("v1.2.3"), None);
        let info: serde_json::Value =
            serde_json::from_slice(&info_json("v0.0.0-20261127221005-0123456789ab")).unwrap();
        assert_eq!(info["Version"], "v0.0.0-20261127221005-0123456789ab");
        assert_eq!(info["Time"], "2026-11-27T22:10:05Z");
    }
}
