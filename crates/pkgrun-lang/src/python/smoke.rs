//! What a downstream consumer sees: the index's pages, a `pip install` into a fresh
//! venv, and the upstream probe through the same index.
//!
//! Every pip child gets the index through `PIP_INDEX_URL` in its environment (it may
//! carry credentials), `PIP_CONFIG_FILE=/dev/null` and none of the variables that add
//! other sources (`PIP_FIND_LINKS`, extra indexes): a package that installs here came
//! from the registry, not from a wheel directory or a cache (`--no-cache-dir`).

use std::path::Path;
use std::time::Duration;

use pkgrun_core::config::Package;
use pkgrun_core::process::{Output, StepCommand};
use pkgrun_core::state::{Artifact, StateDocument};
use reqwest::StatusCode;
use url::Url;

use super::index::{self, IndexFile};
use super::registry::fetch_json_page;
use super::{index_only, python_program, PyEnv};
use crate::adapter::{Context, ProbeEvidence};
use crate::digest::sha256_hex;
use crate::failure::{Failure, FailureKind};

const PIP_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A pip (or venv) child that sees only the contract's index.
fn pip_child(
    name: impl Into<String>,
    program: impl AsRef<std::ffi::OsStr>,
    env: &PyEnv,
) -> StepCommand {
    index_only(StepCommand::new(name, program), env)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_REQUIRE_VIRTUALENV")
        .env_remove("PIP_USER")
        .env_remove("PIP_TARGET")
        .env_remove("PIP_PREFIX")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .timeout(PIP_TIMEOUT)
}

/// `url` with the index's credentials when it is on the index's origin (file links on
/// a protected index need them too).
fn authenticated(env: &PyEnv, url: &Url) -> Url {
    let index = env.index.expose();
    let mut url = url.clone();
    if url.origin() == index.origin() && env.index.has_credentials() {
        let _ = url.set_username(index.username());
        let _ = url.set_password(index.password());
    }
    url
}

fn fetch_html_page(ctx: &Context, env: &PyEnv, name: &str) -> Result<Vec<IndexFile>, Failure> {
    let url = index::project_page_url(env.index.expose(), name);
    let reply = ctx.http.send(url.as_str(), |c| {
        c.get(url.clone())
            .header(reqwest::header::ACCEPT, "text/html")
    })?;
    let shown = index::project_page_url(&env.index.without_credentials(), name);
    if !reply.is_success() {
        return Err(
            Failure::smoke(format!("{shown} answered HTTP {}", reply.status))
                .with_detail(reply.text_excerpt()),
        );
    }
    Ok(index::parse_html_page(
        &shown,
        &String::from_utf8_lossy(&reply.body),
    ))
}

/// Protocol check: the JSON and HTML project pages both list every recorded file with
/// the recorded sha256, and the bytes served at the listed URL hash to it.
pub(crate) fn check_protocol(
    ctx: &Context,
    env: &PyEnv,
    package: &Package,
    doc: &StateDocument,
) -> Result<String, Failure> {
    let shown = env.index.without_credentials();
    if doc.artifacts.is_empty() {
        return Err(Failure::smoke(format!(
            "the state of {} {} records no files to compare with the registry",
            package.name, doc.version
        ))
        .with_hint(format!("publish again: `pkgrun publish {}`", doc.language)));
    }
    let json = fetch_json_page(ctx, env, &package.name)?.ok_or_else(|| {
        Failure::smoke(format!("{shown} has no project page for {}", package.name))
    })?;
    let html = fetch_html_page(ctx, env, &package.name)?;
    let mut problems = Vec::new();
    for artifact in &doc.artifacts {
        let find =
            |files: &[IndexFile]| files.iter().find(|f| f.filename == artifact.file).cloned();
        let in_json = find(&json);
        problems.extend(listing_problems(artifact, &in_json, &find(&html)));
        if let Some(entry) = in_json {
            problems.extend(served_problem(ctx, env, artifact, &entry)?);
        }
    }
    if !problems.is_empty() {
        return Err(Failure::smoke(format!(
            "{shown} does not serve {} {} as uploaded",
            package.name, doc.version
        ))
        .with_detail(problems.join("; ")));
    }
    Ok(format!(
        "JSON and HTML pages list {} files of {} with the uploaded sha256; served bytes match",
        doc.artifacts.len(),
        doc.version
    ))
}

/// What the PEP 691 JSON and PEP 503 HTML pages get wrong about a recorded file.
fn listing_problems(
    artifact: &Artifact,
    in_json: &Option<IndexFile>,
    in_html: &Option<IndexFile>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (form, entry) in [("PEP 691 JSON", in_json), ("PEP 503 HTML", in_html)] {
        match entry {
            None => problems.push(format!("{}: not listed on the {form} page", artifact.file)),
            Some(IndexFile { sha256: None, .. }) => problems.push(format!(
                "{}: the {form} page gives no sha256",
                artifact.file
            )),
            Some(IndexFile {
                sha256: Some(sha), ..
            }) if *sha != artifact.sha256 => problems.push(format!(
                "{}: the {form} page says sha256 {sha}, the upload had {}",
                artifact.file, artifact.sha256
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Whether the file the JSON page links is served with the recorded sha256.
fn served_problem(
    ctx: &Context,
    env: &PyEnv,
    artifact: &Artifact,
    entry: &IndexFile,
) -> Result<Option<String>, Failure> {
    let url = authenticated(env, &entry.url);
    let reply = ctx.http.get(url.as_str())?;
    if reply.status != StatusCode::OK {
        return Ok(Some(format!(
            "{}: GET {} answered HTTP {}",
            artifact.file, entry.url, reply.status
        )));
    }
    let served = sha256_hex(&reply.body);
    Ok((served != artifact.sha256).then(|| {
        format!(
            "{}: the registry serves bytes with sha256 {served}, the upload had {}",
            artifact.file, artifact.sha256
        )
    }))
}

/// A fresh, empty venv under `root/venv`. It is created without pip (bootstrapping pip
/// with ensurepip takes most of `python3 -m venv`'s time); the machine's pip installs into
/// it through `pip --python <venv>/bin/python` (pip 22.3 or later), which runs the install
/// with the venv's interpreter exactly as the venv's own pip would.
fn fresh_venv(ctx: &Context, env: &PyEnv, root: &Path) -> Result<std::path::PathBuf, Failure> {
    let venv = root.join("venv");
    let cmd = pip_child("create a fresh venv", python_program(), env)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .current_dir(root);
    ctx.run(&cmd, FailureKind::Smoke)?;
    Ok(venv)
}

/// `python3 -m pip …` as a step seeing only the index.
fn pip(name: impl Into<String>, env: &PyEnv) -> StepCommand {
    pip_child(name, python_program(), env).args(["-m", "pip"])
}

/// Imports each module in the venv's interpreter and checks the symbol; also makes
/// sure the module came from the venv (not from a source tree on the path).
const IMPORT_SCRIPT: &str = r#"
import importlib, importlib.metadata, os, sys
name, pairs = sys.argv[1], sys.argv[2:]
print("installed", importlib.metadata.version(name))
prefix = os.path.realpath(sys.prefix) + os.sep
bad = 0
for module, symbol in zip(pairs[0::2], pairs[1::2]):
    try:
        mod = importlib.import_module(module)
    except Exception as e:
        print(f"cannot import {module}: {type(e).__name__}: {e}", file=sys.stderr)
        bad += 1
        continue
    where = os.path.realpath(getattr(mod, "__file__", None) or "")
    if not where.startswith(prefix):
        print(f"{module} was imported from {where!r}, not from the venv", file=sys.stderr)
        bad += 1
    elif not hasattr(mod, symbol):
        print(f"{module} has no attribute {symbol}", file=sys.stderr)
        bad += 1
    else:
        print(f"ok {module}.{symbol}")
sys.exit(1 if bad else 0)
"#;

/// Consumer check: `pip install --no-cache-dir name==version` into a fresh venv from the
/// index, then every configured import.
pub(crate) fn check_consumer(
    ctx: &Context,
    env: &PyEnv,
    package: &Package,
    doc: &StateDocument,
) -> Result<String, Failure> {
    let root = ctx.scratch_dir(&format!("consumer-{}", doc.state_key))?;
    let venv = fresh_venv(ctx, env, &root)?;
    let python = venv.join("bin/python");
    let requirement = format!("{}=={}", package.name, doc.version);
    let install = pip(format!("pip install {requirement}"), env)
        .arg("--python")
        .arg(&python)
        .args(["install", "--no-cache-dir"])
        .arg(&requirement)
        .current_dir(&root);
    ctx.run(&install, FailureKind::Smoke)?;

    let mut import = pip_child(format!("import {}", package.name), &python, env)
        .args(["-I", "-c", IMPORT_SCRIPT, &package.name])
        .current_dir(&root);
    for check in &package.smoke {
        import = import.args([&check.import, &check.symbol]);
    }
    let output = ctx.run(&import, FailureKind::Smoke)?;
    let installed = output
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("installed ").map(str::to_string))
        .unwrap_or_default();
    if !index::same_version(&installed, &doc.version) {
        return Err(Failure::smoke(format!(
            "pip installed {} {installed}, not {}",
            package.name, doc.version
        )));
    }
    let imported: Vec<String> = package
        .smoke
        .iter()
        .map(|c| format!("{}.{}", c.import, c.symbol))
        .collect();
    Ok(format!(
        "fresh venv: pip installed {requirement} from the index; {}",
        if imported.is_empty() {
            "no imports configured".to_string()
        } else {
            format!("imported {}", imported.join(", "))
        }
    ))
}

/// The URL pip printed for the file it downloaded (`Downloading <url> (64 kB)`).
fn downloaded_url(output: &Output) -> Option<Url> {
    output.lines.iter().find_map(|l| {
        let rest = l.text.trim_start().strip_prefix("Downloading ")?;
        let token = rest.split_whitespace().next()?;
        Url::parse(token)
            .ok()
            .filter(|u| u.scheme().starts_with("http"))
    })
}

/// Upstream probe: `name==version` downloaded twice through the index into fresh
/// directories without a cache. Passes when both downloads are the file the index page
/// lists, that file's URL is on the registry's own origin (devpi: its `+f` file store),
/// and the bytes hash to the page's sha256.
pub(crate) fn probe_upstream(
    ctx: &Context,
    env: &PyEnv,
    target: &str,
) -> Result<ProbeEvidence, Failure> {
    let (name, version) = target.split_once("==").ok_or_else(|| {
        Failure::usage(format!(
            "python upstream_probe {target:?} is not `name==version`"
        ))
    })?;
    let root = ctx.scratch_dir("upstream-probe")?;
    let first = fetch(ctx, env, &root, target, 1)?;
    let second = fetch(ctx, env, &root, target, 2)?;
    if first.filename != second.filename || first.sha256 != second.sha256 {
        return Err(Failure::smoke(format!(
            "the two fetches of {target} differ: {} (sha256 {}) then {} (sha256 {})",
            first.filename, first.sha256, second.filename, second.sha256
        )));
    }
    let entry = stored_entry(ctx, env, name, version, &second)?;
    let store = if entry.url.path().contains("/+f/") {
        "the registry's own file store (devpi +f)"
    } else {
        "the registry's own origin"
    };
    let served_from = second
        .url
        .as_ref()
        .map(|u| format!("pip fetched {}", redact(u)))
        .unwrap_or_else(|| "pip fetched it through the index".to_string());
    Ok(ProbeEvidence {
        first_ms: first.ms,
        second_ms: second.ms,
        evidence: format!(
            "{}: the index page links it into {store} at {}; {served_from}; both downloads have the page's sha256 {}",
            second.filename, entry.url, second.sha256
        ),
    })
}

/// One `pip download` of the probe target.
struct Fetch {
    filename: String,
    sha256: String,
    /// Where pip says it downloaded from, when it says.
    url: Option<Url>,
    ms: u64,
}

/// Downloads `target` (fetch `n`) through the index; it must come from the registry.
fn fetch(ctx: &Context, env: &PyEnv, root: &Path, target: &str, n: u32) -> Result<Fetch, Failure> {
    let dest = root.join(format!("download-{n}"));
    let cmd = pip(format!("pip download {target} (fetch {n})"), env)
        .args(["download", "--no-deps", "--no-cache-dir", "--dest"])
        .arg(&dest)
        .arg(target)
        .current_dir(root);
    let output = ctx.run(&cmd, FailureKind::Smoke)?;
    let saved: Vec<_> = fs_err::read_dir(&dest)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let [file] = saved.as_slice() else {
        return Err(Failure::smoke(format!(
            "pip download {target} saved {} files, expected one",
            saved.len()
        )));
    };
    let url = downloaded_url(&output);
    if let Some(url) = &url {
        if url.origin() != env.index.expose().origin() {
            return Err(Failure::smoke(format!(
                "fetch {n} of {target} came from {}, not from the registry",
                url.origin().ascii_serialization()
            )));
        }
    }
    Ok(Fetch {
        filename: file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string(),
        sha256: sha256_hex(&fs_err::read(file)?),
        url,
        ms: ms(output.duration),
    })
}

/// The index page's entry of the fetched file: listed with the same sha256, and
/// linked into the registry itself (so it stores upstream files).
fn stored_entry(
    ctx: &Context,
    env: &PyEnv,
    name: &str,
    version: &str,
    fetched: &Fetch,
) -> Result<IndexFile, Failure> {
    let page = fetch_json_page(ctx, env, name)?.unwrap_or_default();
    let entry = page
        .into_iter()
        .find(|f| f.filename == fetched.filename)
        .ok_or_else(|| {
            Failure::smoke(format!(
                "{} (version {version}) is not listed on the index page of {name}",
                fetched.filename
            ))
        })?;
    if entry.sha256.as_deref() != Some(fetched.sha256.as_str()) {
        return Err(Failure::smoke(format!(
            "the index page lists {} with sha256 {:?}, the download has {}",
            fetched.filename, entry.sha256, fetched.sha256
        )));
    }
    if authenticated(env, &entry.url).origin() != env.index.expose().origin() {
        return Err(Failure::smoke(format!(
            "the index links {} to {}, outside the registry: it does not store upstream files",
            fetched.filename,
            entry.url.origin().ascii_serialization()
        )));
    }
    Ok(entry)
}

fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_core::process::{Line, Stream};

    #[test]
    fn pip_download_url_is_found() {
        let output = Output {
            lines: vec![
                Line {
                    stream: Stream::Stdout,
                    text: "Collecting requests==2.32.3".into(),
                },
                Line {
                    stream: Stream::Stdout,
                    text: "  Downloading http://127.0.0.1:3141/root/pypi/%2Bf/707/61cfe03c773ce/requests-2.32.3-py3-none-any.whl (64 kB)".into(),
                },
            ],
            duration: Duration::from_millis(5),
        };
        let url = downloaded_url(&output).unwrap();
        assert_eq!(url.port(), Some(3141));
        assert!(url.path().ends_with("requests-2.32.3-py3-none-any.whl"));
        let plain = Output {
            lines: vec![Line {
                stream: Stream::Stdout,
                text: "  Downloading requests-2.32.3-py3-none-any.whl (64 kB)".into(),
            }],
            duration: Duration::ZERO,
        };
        assert_eq!(downloaded_url(&plain), None);
    }
}
