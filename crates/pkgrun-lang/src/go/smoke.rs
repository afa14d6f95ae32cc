//! The smoke checks: the protocol check (list, `.info`, `.mod`, `.zip` and their
//! `h1:` as the GOPROXY protocol serves them), and the real go command against the
//! registry, as a downstream service uses it.
//!
//! Every go command here runs in a fresh environment under the run's scratch
//! directory: empty GOPATH and GOMODCACHE per check, and the machine's Go build cache
//! (compiled packages keyed by content, never module versions: see [`build_cache`]);
//! `GOPROXY=<GO_REGISTRY_URL>` (and
//! nothing else, so a module the registry does not serve fails instead of being
//! fetched around it); `GONOSUMDB` from the environment contract (the private prefixes
//! are not looked up in the checksum database, everything else still is: GOSUMDB is
//! left as the environment has it); `GOFLAGS=-mod=mod`, `GOWORK=off`, and
//! `GOTOOLCHAIN=local` so a `go` line cannot make the go command fetch another
//! toolchain. The upload token is removed from the children's environment; a registry
//! URL with credentials is passed as a secret (environment only, never arguments).
//!
//! * Consumer check: `go mod init`, `go get module@version`, a `main.go` importing
//!   every configured smoke import and referencing `pkg.Symbol`, `go build`, run it;
//!   then the consumer's go.sum must record the published `h1:` hashes.
//! * Upstream probe: `go mod download -json module@version` twice, each with its own
//!   empty module cache. The evidence that the second came from the registry's storage
//!   is the registry's Prometheus counters (`go_registry_cache_hits_total`,
//!   `…_cache_misses_total`, `…_upstream_fetches_total`) read around each fetch: the
//!   second fetch must add hits and no misses or upstream fetches. A registry without
//!   those counters (e.g. Athens) leaves only the timings, and the evidence says so.
//!   Other clients of the same registry during the probe would move the counters too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pkgrun_core::config::Package;
use pkgrun_core::process::StepCommand;
use pkgrun_core::secret::Secret;
use pkgrun_core::state::{ArtifactKind, StateDocument};

use super::registry::{base_url, listed, proxy_url};
use super::{ENV_NOSUMDB, ENV_TOKEN, ENV_URL};
use crate::adapter::{Context, ProbeEvidence};
use crate::digest::sha256_hex;
use crate::failure::{Failure, FailureKind};
use crate::http::Reply;

/// How long one go command may take (downloads through a cold proxy included).
const GO_TIMEOUT: Duration = Duration::from_secs(600);

/// The go command (`$PKGRUN_GO`, else `go` from PATH).
pub(crate) fn go_program() -> String {
    std::env::var("PKGRUN_GO")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "go".to_string())
}

/// The Go build cache of the consumer checks: the machine's own (`$GOCACHE`, else the go
/// command's default under the user cache directory) when it is writable, else one under
/// the run's scratch directory.
///
/// Sharing it is safe: the build cache holds only compiled packages keyed by the hash of
/// their inputs, so it never decides which module version a check uses (that is the
/// module cache's job, and that one stays fresh per check). Not sharing it made every run
/// compile the standard library again (~16 s of a Go smoke check).
fn build_cache(ctx: &Context) -> PathBuf {
    shared_build_cache(|key| std::env::var_os(key))
        .unwrap_or_else(|| ctx.scratch.join("go-build-cache"))
}

/// Where the go command keeps its build cache for this environment, if it can write
/// there. `GOCACHE=off` (or a cache that cannot be created) means none.
fn shared_build_cache(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let set = |key: &str| var(key).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = match set("GOCACHE") {
        Some(dir) if dir.as_os_str() == "off" => return None,
        Some(dir) => dir,
        // The go command's default: os.UserCacheDir()/go-build.
        None => set("XDG_CACHE_HOME")
            .or_else(|| set("HOME").map(|home| home.join(".cache")))?
            .join("go-build"),
    };
    if !dir.is_absolute() {
        return None;
    }
    fs_err::create_dir_all(&dir).ok()?;
    tempfile::tempfile_in(&dir).ok()?;
    Some(dir)
}

/// A fresh Go environment under the scratch directory.
struct GoEnv {
    root: PathBuf,
}

impl GoEnv {
    fn new(ctx: &Context, name: &str) -> Result<GoEnv, Failure> {
        let root = ctx.scratch_dir(name)?;
        fs_err::create_dir_all(root.join("work"))?;
        Ok(GoEnv { root })
    }

    fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    fn command(&self, ctx: &Context, name: impl Into<String>) -> Result<StepCommand, Failure> {
        let proxy = base_url(ctx)?;
        let has_credentials = ctx.env.url(ENV_URL).is_some_and(|u| u.has_credentials());
        let nosumdb = ctx
            .env
            .prefixes(ENV_NOSUMDB)
            .map(|p| p.join(","))
            .unwrap_or_default();
        let gopath = self.root.join("gopath");
        let cmd = StepCommand::new(name, go_program())
            .current_dir(self.work())
            .env("GOPATH", &gopath)
            .env("GOMODCACHE", gopath.join("pkg/mod"))
            .env("GOCACHE", build_cache(ctx))
            .env("GONOSUMDB", nosumdb)
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off")
            .env("GO111MODULE", "on")
            .env("GOTOOLCHAIN", "local")
            .env_remove(ENV_TOKEN)
            .timeout(GO_TIMEOUT);
        Ok(if has_credentials {
            cmd.env_secret("GOPROXY", &Secret::new(proxy))
        } else {
            cmd.env("GOPROXY", proxy)
        })
    }

    /// The module cache is read-only by design; make it removable with the scratch dir.
    fn release(&self) {
        for entry in walkdir::WalkDir::new(&self.root).into_iter().flatten() {
            if entry.file_type().is_dir() {
                use std::os::unix::fs::PermissionsExt;
                let _ =
                    fs_err::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755));
            }
        }
    }
}

impl Drop for GoEnv {
    fn drop(&mut self) {
        self.release();
    }
}

/// `ctx.run`, with the registry URL's user name and password scrubbed from the failure
/// (the go command redacts passwords in the URLs it prints as `xxxxx`, but keeps the
/// user name; the failure ends up in the state document).
fn run(
    ctx: &Context,
    cmd: &StepCommand,
    kind: FailureKind,
) -> Result<pkgrun_core::process::Output, Failure> {
    ctx.run(cmd, kind).map_err(|f| scrub(ctx, f))
}

/// The failure with the registry URL's user name and password replaced by `***`.
fn scrub(ctx: &Context, f: Failure) -> Failure {
    let Some(url) = ctx.env.url(ENV_URL).filter(|u| u.has_credentials()) else {
        return f;
    };
    let url = url.expose();
    let mut secrets: Vec<String> = vec![url.username().to_string()];
    secrets.extend(url.password().map(str::to_string));
    let hide = |text: String| {
        secrets.iter().filter(|s| !s.is_empty()).fold(text, |t, s| {
            t.replace(&format!("{s}:"), "***:")
                .replace(&format!("{s}@"), "***@")
        })
    };
    Failure {
        message: hide(f.message),
        detail: f.detail.map(hide),
        ..f
    }
}

/// `go get` the published version in an empty module, build a program importing every
/// smoke import, run it, and compare the consumer's go.sum with the published hashes.
pub fn check_consumer(
    ctx: &Context,
    package: &Package,
    doc: &StateDocument,
) -> Result<String, Failure> {
    let module = doc.package.as_str();
    let version = doc.version.as_str();
    let env = GoEnv::new(ctx, "go-consumer")?;
    build_and_run(ctx, &env, package, module, version)?;
    let published_zip = check_go_sum(&env.work(), doc, module, version)?;
    let imports = smoke_imports(module, package)
        .iter()
        .map(|(i, s)| match s {
            Some(s) => format!("{i}.{s}"),
            None => i.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "go get, go build and run ok (imports {imports}); go.sum has {module} {version} {published_zip}"
    ))
}

/// `go get`s the version into a fresh module, builds the consumer program and runs it
/// (without the registry token); it must print [`SMOKE_OK`].
fn build_and_run(
    ctx: &Context,
    env: &GoEnv,
    package: &Package,
    module: &str,
    version: &str,
) -> Result<(), Failure> {
    let work = env.work();
    run(
        ctx,
        &env.command(ctx, "go mod init")?
            .args(["mod", "init", "pkgrun.invalid/smoke-consumer"]),
        FailureKind::Smoke,
    )?;
    run(
        ctx,
        &env.command(ctx, format!("go get {module}@{version}"))?
            .args(["get", &format!("{module}@{version}")]),
        FailureKind::Smoke,
    )?;
    fs_err::write(work.join("main.go"), main_go(module, package))?;
    run(
        ctx,
        &env.command(ctx, "go build smoke consumer")?
            .args(["build", "-o", "smoke-consumer", "."]),
        FailureKind::Smoke,
    )?;
    let output = run(
        ctx,
        &StepCommand::new("run smoke consumer", work.join("smoke-consumer"))
            .current_dir(&work)
            .env_remove(ENV_TOKEN)
            .timeout(Duration::from_secs(60)),
        FailureKind::Smoke,
    )?;
    if !output.stdout().contains(SMOKE_OK) {
        return Err(Failure::smoke(format!(
            "the smoke consumer of {module}@{version} ran but did not print {SMOKE_OK:?}"
        )));
    }
    Ok(())
}

/// The consumer's `go.sum` records the published zip and go.mod hashes; returns the
/// zip's.
fn check_go_sum(
    work: &Path,
    doc: &StateDocument,
    module: &str,
    version: &str,
) -> Result<String, Failure> {
    let go_sum = fs_err::read_to_string(work.join("go.sum")).unwrap_or_default();
    let recorded = |kind: ArtifactKind| {
        doc.artifacts
            .iter()
            .find(|a| a.kind == kind)
            .and_then(|a| a.h1.clone())
            .unwrap_or_default()
    };
    let zip_line = go_sum_h1(&go_sum, module, version);
    let mod_line = go_sum_h1(&go_sum, module, &format!("{version}/go.mod"));
    let published_zip = recorded(ArtifactKind::Zip);
    let published_mod = recorded(ArtifactKind::Mod);
    if zip_line.as_deref() != Some(published_zip.as_str())
        || mod_line.as_deref() != Some(published_mod.as_str())
    {
        return Err(Failure::smoke(format!(
            "the consumer's go.sum does not record the published hashes of {module}@{version}"
        ))
        .with_detail(format!(
            "go.sum: zip {}, go.mod {}; published: zip {published_zip}, go.mod {published_mod}",
            zip_line.as_deref().unwrap_or("(missing)"),
            mod_line.as_deref().unwrap_or("(missing)"),
        )));
    }
    Ok(published_zip)
}

/// What the consumer program prints when it ran.
const SMOKE_OK: &str = "pkgrun smoke consumer: ok";

/// Import paths with the symbol each must export; the module itself (blank import)
/// when no smoke import is configured.
fn smoke_imports(module: &str, package: &Package) -> Vec<(String, Option<String>)> {
    if package.smoke.is_empty() {
        return vec![(module.to_string(), None)];
    }
    package
        .smoke
        .iter()
        .map(|s| (s.import.clone(), Some(s.symbol.clone())))
        .collect()
}

/// A main package importing each smoke import under its own alias (a package's name
/// need not match its path) and referencing each symbol.
fn main_go(module: &str, package: &Package) -> String {
    let imports = smoke_imports(module, package);
    let mut aliases: Vec<&str> = Vec::new();
    let mut import_lines = String::new();
    let mut uses = String::new();
    for (path, symbol) in &imports {
        let index = match aliases.iter().position(|p| p == path) {
            Some(i) => i,
            None => {
                aliases.push(path);
                let i = aliases.len() - 1;
                if symbol.is_some() {
                    let _ = writeln!(import_lines, "\tp{i} {path:?}");
                } else {
                    let _ = writeln!(import_lines, "\t_ {path:?}");
                }
                i
            }
        };
        if let Some(symbol) = symbol {
            let _ = writeln!(uses, "var _ = p{index}.{symbol}");
        }
    }
    format!(
        "// Generated by pkgrun: imports the published module as a downstream service would.\npackage main\n\nimport (\n\t\"fmt\"\n\n{import_lines})\n\n{uses}\nfunc main() {{ fmt.Println({SMOKE_OK:?}) }}\n"
    )
}

/// The `h1:` go.sum records for `module version` (`version` may end in `/go.mod`).
fn go_sum_h1(go_sum: &str, module: &str, version: &str) -> Option<String> {
    go_sum.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() == 3 && fields[0] == module && fields[1] == version)
            .then(|| fields[2].to_string())
    })
}

/// The registry's cache counters, summed over their labels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counters {
    hits: f64,
    misses: f64,
    upstream: f64,
}

fn parse_counters(text: &str) -> Option<Counters> {
    if !text.contains("go_registry_cache_hits") {
        return None;
    }
    let sum = |family: &str| -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let name = series.split('{').next()?;
                (name == family).then(|| value.trim().parse::<f64>().ok())?
            })
            .sum()
    };
    Some(Counters {
        hits: sum("go_registry_cache_hits_total"),
        misses: sum("go_registry_cache_misses_total"),
        upstream: sum("go_registry_upstream_fetches_total"),
    })
}

fn read_counters(ctx: &Context, base: &str) -> Option<Counters> {
    let reply = ctx.http.get(&format!("{base}/metrics")).ok()?;
    if !reply.is_success() {
        return None;
    }
    parse_counters(&String::from_utf8_lossy(&reply.body))
}

/// One `go mod download -json target` in a fresh module cache; returns its duration
/// and the zip's `h1:` the go command computed.
fn download(ctx: &Context, label: &str, target: &str) -> Result<(u64, String), Failure> {
    let env = GoEnv::new(ctx, &format!("go-probe-{label}"))?;
    let started = Instant::now();
    // The go command prints one JSON object (with `Error` when it failed): turned into
    // one message here instead of echoed line by line.
    let cmd = env
        .command(ctx, format!("go mod download {target} ({label} fetch)"))?
        .args(["mod", "download", "-json", target])
        .hide_output_on_failure();
    let output = match pkgrun_core::process::run_step(&ctx.log, &cmd) {
        Ok(output) => output,
        Err(e) => return Err(scrub(ctx, download_failure(target, &e))),
    };
    let took = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
    let json: serde_json::Value = serde_json::from_str(&output.stdout()).map_err(|e| {
        Failure::smoke(format!("go mod download {target} printed no JSON"))
            .with_detail(e.to_string())
    })?;
    if let Some(err) = json.get("Error").and_then(|e| e.as_str()) {
        return Err(Failure::smoke(format!("go mod download {target} failed")).with_detail(err));
    }
    let sum = json
        .get("Sum")
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .to_string();
    Ok((took, sum))
}

/// A failed `go mod download -json` as one message: the `Error` of the JSON it printed
/// on stdout, else its stderr (e.g. a usage error), else how it ended.
fn download_failure(target: &str, e: &pkgrun_core::process::ProcessError) -> Failure {
    let failure = Failure::smoke(format!("go mod download {target} failed"));
    let Some(output) = e.output() else {
        return failure.with_detail(e.to_string());
    };
    let from_json = serde_json::from_str::<serde_json::Value>(&output.stdout())
        .ok()
        .and_then(|j| j.get("Error")?.as_str().map(str::to_string));
    let stderr = output.stderr();
    let detail = from_json
        .or_else(|| (!stderr.trim().is_empty()).then(|| stderr.trim().to_string()))
        .unwrap_or_else(|| e.to_string());
    failure.with_detail(detail)
}

/// Fetches `target` (`module@version`) twice through the registry.
pub fn probe_upstream(ctx: &Context, target: &str) -> Result<ProbeEvidence, Failure> {
    if !target.contains('@') {
        return Err(Failure::usage(format!(
            "go upstream_probe {target:?} is not module@version"
        )));
    }
    let base = base_url(ctx)?;
    let before = read_counters(ctx, &base);
    let (first_ms, first_sum) = download(ctx, "first", target)?;
    let between = read_counters(ctx, &base);
    let (second_ms, second_sum) = download(ctx, "second", target)?;
    let after = read_counters(ctx, &base);
    if first_sum != second_sum {
        return Err(Failure::smoke(format!(
            "the two fetches of {target} gave different hashes: {first_sum} then {second_sum}"
        )));
    }
    let evidence = match (before, between, after) {
        (Some(b), Some(m), Some(a)) => {
            let first = format!(
                "first fetch: cache hits +{}, misses +{}, upstream fetches +{}",
                m.hits - b.hits,
                m.misses - b.misses,
                m.upstream - b.upstream
            );
            let (hits, misses, upstream) = (a.hits - m.hits, a.misses - m.misses, a.upstream - m.upstream);
            if hits <= 0.0 || misses > 0.0 || upstream > 0.0 {
                return Err(Failure::smoke(format!(
                    "the second fetch of {target} was not served from the registry's storage"
                ))
                .with_detail(format!(
                    "{first}; second fetch: cache hits +{hits}, misses +{misses}, upstream fetches +{upstream} (registry /metrics)"
                ))
                .with_hint("the registry should store what it fetched upstream; check its storage volume and logs"));
            }
            format!(
                "{first}; second fetch with an empty module cache: cache hits +{hits}, misses +0, upstream fetches +0 (registry /metrics); both {first_sum}"
            )
        }
        _ => format!(
            "the registry exposes no go_registry cache counters at /metrics, so only the timings show caching: first {first_ms} ms, second {second_ms} ms; both {first_sum}"
        ),
    };
    Ok(ProbeEvidence {
        first_ms,
        second_ms,
        evidence,
    })
}

/// The protocol check: list, `.info`, `.mod` and `.zip` served, with the recorded digests.
pub fn check_protocol(ctx: &Context, doc: &StateDocument) -> Result<String, Failure> {
    let served = Served {
        ctx,
        base: base_url(ctx)?,
        module: doc.package.as_str(),
        version: doc.version.as_str(),
    };
    let notes = [
        served.check_list()?,
        served.check_info()?,
        served.check_mod(doc)?,
        served.check_zip(doc)?,
    ];
    Ok(notes.join("; "))
}

/// One version of a module as the registry serves it through the GOPROXY protocol.
struct Served<'a> {
    ctx: &'a Context<'a>,
    base: String,
    module: &'a str,
    version: &'a str,
}

impl Served<'_> {
    fn what(&self) -> String {
        format!("{}@{}", self.module, self.version)
    }

    /// `GET …/@v/<version>.<ext>`; anything but a success is a smoke failure.
    fn get(&self, ext: &str) -> Result<Reply, Failure> {
        let url = proxy_url(&self.base, self.module, Some(self.version), ext)?;
        let reply = self.ctx.http.get(&url)?;
        if !reply.is_success() {
            return Err(Failure::smoke(format!(
                "GET {}/@v/{}.{ext} answered HTTP {}",
                self.module,
                self.version,
                reply.status.as_u16()
            ))
            .with_detail(reply.text_excerpt()));
        }
        Ok(reply)
    }

    fn check_list(&self) -> Result<String, Failure> {
        let (module, version) = (self.module, self.version);
        let list = self
            .ctx
            .http
            .get(&proxy_url(&self.base, module, None, "")?)?;
        if listed(&list, version) {
            Ok("listed".to_string())
        } else if gomod::version::is_pseudo_version(version) && list.is_success() {
            Ok(
                "not in @v/list (a pseudo-version; the protocol allows leaving them out)"
                    .to_string(),
            )
        } else {
            Err(Failure::smoke(format!(
                "{module}/@v/list does not name {version} (HTTP {})",
                list.status.as_u16()
            ))
            .with_detail(list.text_excerpt()))
        }
    }

    fn check_info(&self) -> Result<String, Failure> {
        let info = self.get("info")?;
        let served = info.json().ok().and_then(|v| {
            v.get("Version")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        if served.as_deref() != Some(self.version) {
            return Err(Failure::smoke(format!(
                "{}.info does not name the version: {}",
                self.what(),
                info.text_excerpt()
            )));
        }
        Ok("info".to_string())
    }

    fn check_mod(&self, doc: &StateDocument) -> Result<String, Failure> {
        let recorded = recorded(doc, ArtifactKind::Mod, &self.what())?;
        let go_mod = self.get("mod")?;
        let mod_h1 = gomod::hash::hash_go_mod(&go_mod.body);
        if sha256_hex(&go_mod.body) != recorded.sha256 {
            return Err(Failure::smoke(format!(
                "the registry serves a different go.mod for {}: {mod_h1}, published {}",
                self.what(),
                recorded.h1.as_deref().unwrap_or("?")
            )));
        }
        Ok(format!("mod {mod_h1}"))
    }

    fn check_zip(&self, doc: &StateDocument) -> Result<String, Failure> {
        let what = self.what();
        let recorded = recorded(doc, ArtifactKind::Zip, &what)?;
        let zip = self.get("zip")?;
        let served_sha256 = sha256_hex(&zip.body);
        // Corrupted bytes rarely stay a readable zip: name the digests that differ.
        let zip_h1 = gomod::hash::hash_zip(&zip.body).map_err(|e| {
            Failure::smoke(format!(
                "the registry serves other bytes for {what}: sha256 {served_sha256}, published sha256 {}, and they are not a readable zip",
                recorded.sha256
            ))
            .with_detail(e.to_string())
        })?;
        let published = recorded.h1.as_deref().unwrap_or("");
        if zip_h1 != published {
            return Err(Failure::smoke(format!(
                "the registry serves a different zip for {what}: {zip_h1}, published {published}"
            )));
        }
        let same_bytes = served_sha256 == recorded.sha256;
        Ok(format!(
            "zip {zip_h1} ({} bytes{})",
            zip.body.len(),
            if same_bytes {
                ", byte-identical"
            } else {
                ", same files, other zip bytes"
            }
        ))
    }
}

/// The artifact of `kind` the state recorded for `what`.
fn recorded<'d>(
    doc: &'d StateDocument,
    kind: ArtifactKind,
    what: &str,
) -> Result<&'d pkgrun_core::state::Artifact, Failure> {
    doc.artifacts
        .iter()
        .find(|a| a.kind == kind)
        .ok_or_else(|| {
            Failure::smoke(format!(
                "the state of {what} records no {kind:?} artifact to compare with"
            ))
            .with_hint(
                "publish again: the state document was not written by this version of pkgrun",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_core::process::{ChildExit, Line, Output, ProcessError, Stream};

    /// Issue 18: a failing `go mod download -json` is one message, not its JSON lines.
    #[test]
    fn a_failed_download_is_one_message_from_the_json_error() {
        let stdout = [
            "{",
            "\t\"Path\": \"github.com/google/uuid\",",
            "\t\"Version\": \"v1.6.0\",",
            "\t\"Error\": \"github.com/google/uuid@v1.6.0: reading http://127.0.0.1:9/github.com/google/uuid/@v/v1.6.0.info: 502 Bad Gateway\"",
            "}",
        ];
        let lines = stdout
            .iter()
            .map(|t| Line {
                stream: Stream::Stdout,
                text: t.to_string(),
            })
            .collect();
        let err = ProcessError::Failed {
            name: "go mod download".into(),
            exit: ChildExit::Code(1),
            output: Output {
                lines,
                duration: Duration::ZERO,
            },
        };
        let f = download_failure("github.com/google/uuid@v1.6.0", &err);
        assert_eq!(
            f.message,
            "go mod download github.com/google/uuid@v1.6.0 failed"
        );
        assert_eq!(
            f.detail.as_deref(),
            Some("github.com/google/uuid@v1.6.0: reading http://127.0.0.1:9/github.com/google/uuid/@v/v1.6.0.info: 502 Bad Gateway")
        );
    }

    #[test]
    fn counters_are_summed_over_labels() {
        let text = "# HELP go_registry_cache_hits Proxy reads served from storage\n# TYPE go_registry_cache_hits counter\ngo_registry_cache_hits_total{kind=\"zip\"} 2\ngo_registry_cache_hits_total{kind=\"info\"} 3\ngo_registry_cache_misses_total{kind=\"zip\"} 1\ngo_registry_upstream_fetches_total{outcome=\"ok\"} 1\n";
        assert_eq!(
            parse_counters(text),
            Some(Counters {
                hits: 5.0,
                misses: 1.0,
                upstream: 1.0
            })
        );
        assert_eq!(parse_counters("# athens metrics\nfoo 1\n"), None);
    }

    #[test]
    fn go_sum_lines() {
        let sum = "m v1 h1:zip=\nm v1/go.mod h1:mod=\nother v1 h1:x=\n";
        assert_eq!(go_sum_h1(sum, "m", "v1").as_deref(), Some("h1:zip="));
        assert_eq!(go_sum_h1(sum, "m", "v1/go.mod").as_deref(), Some("h1:mod="));
        assert_eq!(go_sum_h1(sum, "m", "v2"), None);
    }

    fn vars<'a>(
        pairs: &'a [(&'a str, &'a str)],
    ) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    }

    #[test]
    fn build_cache_follows_the_go_command_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_str().unwrap();
        let explicit = format!("{root}/explicit");
        let xdg = format!("{root}/xdg");
        assert_eq!(
            shared_build_cache(vars(&[("GOCACHE", &explicit), ("HOME", root)])),
            Some(PathBuf::from(&explicit))
        );
        assert_eq!(
            shared_build_cache(vars(&[("XDG_CACHE_HOME", &xdg), ("HOME", root)])),
            Some(PathBuf::from(&xdg).join("go-build"))
        );
        assert_eq!(
            shared_build_cache(vars(&[("GOCACHE", ""), ("HOME", root)])),
            Some(tmp.path().join(".cache/go-build"))
        );
        assert!(tmp.path().join(".cache/go-build").is_dir());
    }

    #[test]
    fn no_shared_build_cache_when_off_relative_unset_or_unwritable() {
        assert_eq!(shared_build_cache(vars(&[("GOCACHE", "off")])), None);
        assert_eq!(shared_build_cache(vars(&[("GOCACHE", "rel/cache")])), None);
        assert_eq!(shared_build_cache(vars(&[])), None);
        // A file where the cache directory would be: it cannot be created.
        let tmp = tempfile::tempdir().unwrap();
        let blocked = tmp.path().join("file");
        fs_err::write(&blocked, "").unwrap();
        let inside = blocked.join("cache");
        assert_eq!(
            shared_build_cache(vars(&[("GOCACHE", inside.to_str().unwrap())])),
            None
        );
    }
}
