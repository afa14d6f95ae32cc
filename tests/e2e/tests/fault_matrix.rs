//! The fault matrix (issue 18, docs/faults.md): the `pkgrun` binary against REAL registries
//! (the workspace's go-registry, devpi, Verdaccio) reached through the FAKE fault proxy
//! (`pkgrun_e2e::fault_proxy`), which forwards everything except the requests a test's
//! rule picks, and answers those with the fault.
//!
//! Each language is a [`Row`] (its registry, proxy and workspace); the cells are written
//! once against it. For each fault: the documented exit code, one message naming the
//! registry, retries only where the client retries (logged, and counted at the proxy),
//! previous state files byte for byte as they were, no file left in the run's private
//! TMPDIR, and a re-run after the fault is cleared that completes. Cells share one
//! registry per test (its start is the slow part), each fault cleared before the next.
//! The last test adds the state ConfigMap, on the real test kube-apiserver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};
use pkgrun_e2e::go::{pkgrun_with_go_env, GoRegistry, GoRegistryOptions};
use pkgrun_e2e::process::Run;
use pkgrun_e2e::state::{state_files, state_json};
use pkgrun_e2e::workspace::{example_copy_offline, pkgrun_with_python_env, pkgrun_with_ts_env};
use pkgrun_e2e::{Devpi, Fault, FaultProxy, KubeApiServer, Rule, Verdaccio};
use serde_json::Value;

const OTHER_SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";
const THIRD_SHA: &str = "1111111111222222222233333333334444444444";

/// No credential anywhere in the run's output (a credential in a URL is covered by
/// `secrets_audit`; the go command refuses one over plain http).
fn no_secrets(run: &Run, secrets: &[&str]) -> Result<()> {
    for s in secrets {
        ensure!(
            !run.stderr.contains(s) && !run.stdout.contains(s),
            "a secret was printed:\n{run}"
        );
    }
    Ok(())
}

/// `SOURCE_GIT_SHA` number `n` of a test: distinct in its first 12 hex digits (what a Go
/// pseudo-version keeps), so every `n` is a new version in every language.
fn sha(n: u8) -> String {
    format!("{n:02x}{}", "5a".repeat(19))
}

/// A workspace (see [`workspace`]) with a HOME and a private TMPDIR for the runs in it.
struct Scratch {
    tmp: tempfile::TempDir,
    root: PathBuf,
    tmpdir: PathBuf,
}

impl Scratch {
    fn new() -> Result<Scratch> {
        let (tmp, root) = example_copy_offline()?;
        let tmpdir = tmp.path().join("tmpdir");
        std::fs::create_dir_all(&tmpdir)?;
        std::fs::create_dir_all(tmp.path().join("home"))?;
        Ok(Scratch { tmp, root, tmpdir })
    }

    fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    /// Runs `cmd` with the private TMPDIR: `secret` printed nowhere, no temp file left.
    fn run(&self, cmd: &mut Command, secret: &str) -> Result<Run> {
        cmd.env("TMPDIR", &self.tmpdir);
        let out = Run::from(cmd.output().context("run pkgrun")?);
        no_secrets(&out, &[secret])?;
        let left: Vec<_> = std::fs::read_dir(&self.tmpdir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        ensure!(
            left.is_empty(),
            "temp files left in TMPDIR: {left:?}\n{out}"
        );
        Ok(out)
    }

    fn state_files(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        state_files(&self.root)
    }

    fn state(&self, key: &str) -> Result<Value> {
        state_json(&self.root, key)
    }
}

fn status(status: u16) -> Fault {
    Fault::Status {
        status,
        retry_after: None,
    }
}

/// How many requests the proxy answered with `status` itself.
fn served(proxy: &FaultProxy, code: u16) -> usize {
    proxy
        .seen()
        .iter()
        .filter(|s| matches!(s.fault, Some(Fault::Status { status, .. }) if status == code))
        .count()
}

/// One language's REAL registry, and how its row reaches it: the language's consts and
/// rules, written once per language; the cells below are written once for all.
trait Registry: Sized {
    /// The language argument of `pkgrun`.
    const LANG: &'static str;
    /// The upload requests: method and a part of their path.
    const UPLOAD: (&'static str, &'static str);
    /// Upload requests of one publish of every package at a new version.
    const UPLOADS: usize;
    /// The state key of the telemetry package, which the conflict cells change.
    const TELEMETRY: &'static str;
    /// A file of the telemetry package, and text appended to it that changes its bytes.
    const CHANGE: (&'static str, &'static str);
    /// The release override (variable, version) the conflict cells publish under: a
    /// snapshot version carries the run's time, so only an override is published twice.
    const OVERRIDE: (&'static str, &'static str);
    /// How a digest of this registry is written (both are named on a conflict).
    const DIGEST: &'static str;
    /// Words of the smoke failure when a download is not what was published.
    const MISMATCH: &'static str;

    fn start() -> Result<Self>;
    fn url(&self) -> String;
    /// The credential that must never be printed.
    fn secret(&self) -> &str;
    /// `pkgrun` in `root` with the language's environment contract, the registry
    /// reached at `via` (the proxy).
    fn command(&self, root: &Path, home: &Path, via: &str, sha: &str) -> Command;
    /// The read of the telemetry package's listing just before its upload (once), with
    /// `fault` (`None`: the Go adapter uploads without looking first).
    fn look(fault: Fault) -> Option<Rule>;
    /// The downloads of the published artifacts, with `fault`.
    fn downloads(fault: Fault) -> Rule;
}

/// A row of the matrix: the registry behind the FAKE proxy, and the workspace it
/// publishes from.
struct Row<R: Registry> {
    registry: R,
    proxy: FaultProxy,
    scratch: Scratch,
}

impl<R: Registry> Row<R> {
    fn new() -> Result<Row<R>> {
        let registry = R::start()?;
        let proxy = FaultProxy::start(&registry.url())?;
        Ok(Row {
            registry,
            proxy,
            scratch: Scratch::new()?,
        })
    }

    fn command(&self, sha: &str) -> Command {
        let s = &self.scratch;
        self.registry
            .command(&s.root, &s.home(), &self.proxy.url(), sha)
    }

    fn uploads(&self, fault: Fault) -> Rule {
        Rule::new(fault)
            .method(R::UPLOAD.0)
            .path_contains(R::UPLOAD.1)
    }

    fn upload_count(&self) -> usize {
        self.proxy.count(R::UPLOAD.0, R::UPLOAD.1)
    }

    /// The registry as messages name it (the proxy's address).
    fn named(&self) -> String {
        format!("127.0.0.1:{}", self.proxy.port())
    }

    fn pkgrun_env(&self, args: &[&str], sha: &str, env: &[(&str, &str)]) -> Result<Run> {
        let mut cmd = self.command(sha);
        cmd.args(args).envs(env.iter().copied());
        self.scratch.run(&mut cmd, self.registry.secret())
    }

    fn pkgrun(&self, args: &[&str], sha: &str) -> Result<Run> {
        self.pkgrun_env(args, sha, &[])
    }

    /// Applies `rules`, runs `args` (the proxy's counts start from zero), clears them.
    fn with_faults(&self, rules: Vec<Rule>, args: &[&str], sha: &str) -> Result<Run> {
        self.with_faults_env(rules, args, sha, &[])
    }

    fn with_faults_env(
        &self,
        rules: Vec<Rule>,
        args: &[&str],
        sha: &str,
        env: &[(&str, &str)],
    ) -> Result<Run> {
        self.proxy.forget();
        for rule in rules {
            self.proxy.add(rule);
        }
        let out = self.pkgrun_env(args, sha, env);
        self.proxy.clear();
        out
    }

    /// A publish at `sha` that must complete (the first, or a re-run after a fault).
    fn published(&self, sha: &str) -> Result<Run> {
        self.published_env(sha, &[])
    }

    fn published_env(&self, sha: &str, env: &[(&str, &str)]) -> Result<Run> {
        let out = self.with_faults_env(vec![], &["publish", R::LANG], sha, env)?;
        ensure!(
            out.code == 0,
            "publish at {sha} {env:?} without faults:\n{out}"
        );
        Ok(out)
    }
}

// ---------------------------------------------------------------- cells of every row

/// An upload answered `code` (401, 403, 404, 413): exit 3, one message naming the registry
/// and what to do, nothing sent again, the state as it was.
fn refused_upload<R: Registry>(row: &Row<R>, code: u16, what_to_do: &str, sha: &str) -> Result<()> {
    let before = row.scratch.state_files()?;
    let out = row.with_faults(vec![row.uploads(status(code))], &["publish", R::LANG], sha)?;
    ensure!(
        out.code == 3,
        "HTTP {code} on upload: expected exit 3:\n{out}"
    );
    ensure!(
        out.stderr.contains(&format!("HTTP {code}")) && out.stderr.contains(&row.named()),
        "the message does not name the answer and the registry:\n{out}"
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    ensure!(
        errors.len() == 1 && errors[0].contains(&format!("HTTP {code}")),
        "one error naming the answer: {errors:?}"
    );
    ensure!(
        out.stderr.contains(what_to_do),
        "the message does not say what to do ({what_to_do:?}):\n{out}"
    );
    // Each package's first upload is refused once (a failed package stops its own row).
    ensure!(
        !out.stderr.contains("retrying in") && served(&row.proxy, code) <= 2,
        "HTTP {code} must not be retried: {:?}\n{out}",
        row.proxy.seen()
    );
    ensure!(
        row.scratch.state_files()? == before,
        "state changed:\n{out}"
    );
    Ok(())
}

/// The faults of [`conflict_same_bytes`] and [`conflict_other_bytes`]: the upload
/// answered 409 and, where the adapter looks first, the look missing the version (as if
/// another publisher came between the look and the upload).
fn conflict_rules<R: Registry>(row: &Row<R>) -> Vec<Rule> {
    let mut rules: Vec<Rule> = R::look(status(404)).into_iter().collect();
    rules.push(row.uploads(status(409)));
    rules
}

/// 409 on upload while the registry holds the version with the bytes of this build (it
/// was published under the release override just before): it counts as published
/// (`already-present`), exit 0.
fn conflict_same_bytes<R: Registry>(row: &Row<R>, sha: &str) -> Result<()> {
    row.published_env(sha, &[R::OVERRIDE])?;
    let out = row.with_faults_env(
        conflict_rules(row),
        &["publish", R::LANG],
        sha,
        &[R::OVERRIDE],
    )?;
    ensure!(out.code == 0, "409 with the same bytes:\n{out}");
    ensure!(
        served(&row.proxy, 409) >= 1,
        "no upload was answered 409: {:?}",
        row.proxy.seen()
    );
    let doc = row.scratch.state(R::TELEMETRY)?;
    ensure!(
        doc["publish"]["outcome"] == "already-present",
        "{doc}\n{out}"
    );
    Ok(())
}

/// 409 on upload while the registry holds the version with other bytes (the sources
/// changed, same release override): exit 3 naming the registry and both digests, state kept; with
/// the sources restored, a re-run after the fault clears completes.
fn conflict_other_bytes<R: Registry>(row: &Row<R>, sha: &str) -> Result<()> {
    let before = row.scratch.state_files()?;
    let file = row.scratch.root.join(R::CHANGE.0);
    let original = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
    let mut changed = original.clone();
    changed.extend_from_slice(R::CHANGE.1.as_bytes());
    std::fs::write(&file, changed)?;
    let out = row.with_faults_env(
        conflict_rules(row),
        &["publish", R::LANG],
        sha,
        &[R::OVERRIDE],
    );
    std::fs::write(&file, &original)?;
    let out = out?;

    ensure!(
        out.code == 3,
        "409 with other bytes: expected exit 3:\n{out}"
    );
    let named = out
        .stderr
        .lines()
        .find(|l| l.contains("this build has"))
        .with_context(|| format!("no conflict message:\n{out}"))?;
    ensure!(
        named.contains("registry has") && named.matches(R::DIGEST).count() >= 2,
        "both digests must be named: {named}"
    );
    ensure!(
        out.stderr.contains(&row.named()),
        "the registry is not named:\n{out}"
    );
    ensure!(served(&row.proxy, 409) >= 1, "{:?}", row.proxy.seen());
    ensure!(
        row.scratch.state_files()? == before,
        "state changed:\n{out}"
    );
    row.published_env(sha, &[R::OVERRIDE])?;
    let doc = row.scratch.state(R::TELEMETRY)?;
    ensure!(doc["publish"]["outcome"] == "already-present", "{doc}");
    Ok(())
}

/// A read pkgrun makes itself (the listing before the upload) cut mid-body, full
/// `Content-Length` promised: retried like no answer, the publish completes.
fn read_cut_mid_body<R: Registry>(row: &Row<R>, sha: &str) -> Result<()> {
    let cut = R::look(Fault::DropMidBody { after: 10 })
        .context("the row has no read before its upload")?;
    let out = row.with_faults(vec![cut], &["publish", R::LANG], sha)?;
    ensure!(out.code == 0, "a read cut mid-body must be retried:\n{out}");
    ensure!(
        row.proxy.faults_served() == 1 && out.stderr.matches("retrying in").count() == 1,
        "one logged retry: {:?}\n{out}",
        row.proxy.seen()
    );
    Ok(())
}

/// The first upload answered 429 with `Retry-After: 1`, every upload answered late (a
/// short `Fault::Delay`): the 429 is waited out once, as asked; a slow answer is an
/// answer (no other retry, no upload sent twice).
fn busy_once_then_slow_uploads<R: Registry>(row: &Row<R>, sha: &str) -> Result<()> {
    let busy = row
        .uploads(Fault::Status {
            status: 429,
            retry_after: Some(1),
        })
        .times(1);
    let slow = row.uploads(Fault::Delay(std::time::Duration::from_millis(300)));
    let out = row.with_faults(vec![busy, slow], &["publish", R::LANG], sha)?;
    ensure!(out.code == 0, "429 once, then slow uploads:\n{out}");
    ensure!(
        out.stderr.contains("retrying in 1.0s") && out.stderr.matches("retrying in").count() == 1,
        "the 429 must be waited out once, as asked:\n{out}"
    );
    ensure!(
        row.upload_count() == R::UPLOADS + 1,
        "each upload once, plus the one answered 429: {:?}",
        row.proxy.seen()
    );
    Ok(())
}

/// The published artifacts served altered (`fault`: flipped bytes, or truncated to a
/// well-formed short answer): the smoke fails with 4 naming the digests; a re-run after
/// the fault clears passes.
fn tampered_download<R: Registry>(row: &Row<R>, fault: Fault, sha: &str) -> Result<()> {
    let out = row.with_faults(vec![R::downloads(fault.clone())], &["smoke", R::LANG], sha)?;
    ensure!(
        out.code == 4,
        "{fault:?} on the download: expected exit 4:\n{out}"
    );
    ensure!(
        out.stderr.contains(R::MISMATCH),
        "the digest mismatch is not named:\n{out}"
    );
    let again = row.pkgrun(&["smoke", R::LANG], sha)?;
    ensure!(again.code == 0, "smoke after the fault cleared:\n{again}");
    Ok(())
}

/// The registry down (the proxy stops listening): exit 5 naming it after the bounded
/// attempts, state kept; once it is back, a re-run completes.
fn registry_down<R: Registry>(row: &mut Row<R>, sha: &str) -> Result<()> {
    let before = row.scratch.state_files()?;
    row.proxy.stop();
    let out = row.pkgrun(&["publish", R::LANG], sha);
    row.proxy.resume()?;
    let out = out?;
    ensure!(out.code == 5, "registry down: expected exit 5:\n{out}");
    ensure!(
        out.stderr.contains("did not answer after 4 attempts") && out.stderr.contains(&row.named()),
        "{out}"
    );
    ensure!(
        row.scratch.state_files()? == before,
        "state changed:\n{out}"
    );
    row.published(sha)?;
    ensure!(
        row.scratch.state_files()? != before,
        "the re-run wrote no state"
    );
    Ok(())
}

// ---------------------------------------------------------------- Go (go-registry)

const GO_SHA: &str = pkgrun_e2e::go::TEST_GIT_SHA;

type GoRow = Row<GoRegistry>;

impl GoRow {
    /// A first publish with no fault, so that there is state to keep.
    fn with_state(self) -> Result<Self> {
        self.published(GO_SHA)?;
        Ok(self)
    }
}

impl Registry for GoRegistry {
    const LANG: &'static str = "go";
    const OVERRIDE: (&'static str, &'static str) = ("AMEIDE_GO_SDK_VERSION", "v0.4.0");
    const UPLOAD: (&'static str, &'static str) = ("POST", "/upload");
    const UPLOADS: usize = 2;
    const TELEMETRY: &'static str = "ameide-telemetry-go";
    const CHANGE: (&'static str, &'static str) = (
        "packages/ameide_telemetry_go/telemetry.go",
        "\n// A change after this commit was published.\n",
    );
    const DIGEST: &'static str = "h1:";
    const MISMATCH: &'static str = "serves other bytes";

    fn start() -> Result<Self> {
        GoRegistry::start(GoRegistryOptions::default())
    }
    fn url(&self) -> String {
        GoRegistry::url(self).to_string()
    }
    fn secret(&self) -> &str {
        self.token()
    }
    fn command(&self, root: &Path, _home: &Path, via: &str, sha: &str) -> Command {
        let mut cmd = pkgrun_with_go_env(root, via, self.token());
        cmd.env("SOURCE_GIT_SHA", sha);
        cmd
    }
    fn look(_: Fault) -> Option<Rule> {
        None
    }
    fn downloads(fault: Fault) -> Rule {
        Rule::new(fault).method("GET").path_ends_with(".zip")
    }
}

/// 401, 403, 404 and 413 on upload, one registry: each exits 3 without retry and keeps
/// the state; a re-run after the faults clear completes.
#[test]
fn go_uploads_refused_401_403_404_413_exit_3_unretried_and_keep_the_state() -> Result<()> {
    let go = GoRow::new()?.with_state()?;
    refused_upload(&go, 401, "hint: check GO_REGISTRY_TOKEN", OTHER_SHA)?;
    refused_upload(
        &go,
        403,
        "does not accept uploads with GO_REGISTRY_TOKEN",
        OTHER_SHA,
    )?;
    refused_upload(&go, 404, "hint: check GO_REGISTRY_URL", OTHER_SHA)?;
    refused_upload(
        &go,
        413,
        "hint: the registry (or a proxy in front of it) limits",
        OTHER_SHA,
    )?;
    let before = go.scratch.state_files()?;
    go.published(OTHER_SHA)?;
    ensure!(
        go.scratch.state_files()? != before,
        "the re-run wrote no state"
    );
    Ok(())
}

/// 409 with the same and with other bytes, 429 once then slow uploads, a truncated zip:
/// one registry, each fault cleared before the next.
#[test]
fn go_409_same_and_other_bytes_429_once_slow_uploads_and_truncated_zip() -> Result<()> {
    let go = GoRow::new()?.with_state()?;
    // The registry itself answers a re-upload of the same bytes 200 `already-present`;
    // a 409 in its place is resolved by reading the stored zip back.
    conflict_same_bytes(&go, GO_SHA)?;
    conflict_other_bytes(&go, GO_SHA)?;
    busy_once_then_slow_uploads(&go, OTHER_SHA)?;
    tampered_download(&go, Fault::Truncate { keep: 100 }, OTHER_SHA)?;
    Ok(())
}

#[test]
fn go_a_502_503_burst_on_reads_and_uploads_recovers_with_logged_retries() -> Result<()> {
    let go = GoRow::new()?;
    go.proxy.add(go.uploads(status(503)).times(2));
    go.proxy.add(
        Rule::new(status(502))
            .method("GET")
            .path_contains("/@v/")
            .times(2),
    );

    let out = go.pkgrun(&["run", "go"], GO_SHA)?;
    ensure!(out.code == 0, "expected the burst to be absorbed:\n{out}");
    ensure!(go.proxy.faults_served() == 4, "{:?}", go.proxy.seen());
    ensure!(
        out.stderr.matches("retrying in").count() >= 4
            && out.stderr.contains("HTTP 503")
            && out.stderr.contains("HTTP 502"),
        "the retries are not logged:\n{out}"
    );
    // Two uploads (SDK and telemetry) plus the two refused attempts.
    ensure!(go.upload_count() == 4, "{:?}", go.proxy.seen());
    for key in ["ameide-sdk-go", "ameide-telemetry-go"] {
        let doc = go.scratch.state(key)?;
        ensure!(doc["publish"]["outcome"] == "uploaded", "{doc}");
        ensure!(doc["smoke"]["status"] == "passed", "{doc}");
    }
    Ok(())
}

#[test]
fn go_flipped_bytes_on_the_downloaded_zip_fail_the_smoke_with_4_naming_the_digests() -> Result<()> {
    let go = GoRow::new()?.with_state()?;
    let sdk = go.scratch.state("ameide-sdk-go")?;
    let version = sdk["version"].as_str().context("version")?;
    let flip = Rule::new(Fault::FlipBytes)
        .method("GET")
        .path_ends_with(&format!("ameide-sdk-go/@v/{version}.zip"));
    let out = go.with_faults(vec![flip], &["smoke", "go"], GO_SHA)?;
    ensure!(out.code == 4, "expected exit 4:\n{out}");
    ensure!(go.proxy.faults_served() >= 1, "the zip was never fetched");
    let sdk = go.scratch.state("ameide-sdk-go")?;
    let protocol = sdk["smoke"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|x| x["name"] == "protocol"))
        .context("protocol check")?;
    ensure!(protocol["status"] == "failed", "{protocol}");
    let detail = protocol["detail"].as_str().unwrap_or("");
    ensure!(
        detail.contains("serves other bytes") && detail.contains("published sha256"),
        "the digest mismatch is not named: {protocol}"
    );

    let again = go.pkgrun(&["smoke", "go"], GO_SHA)?;
    ensure!(again.code == 0, "re-run after the fault cleared:\n{again}");
    Ok(())
}

#[test]
fn go_an_upload_dropped_midway_or_its_answer_lost_is_retried_to_success() -> Result<()> {
    let go = GoRow::new()?;
    // The registry never sees the first upload: the retry uploads.
    let dropped = go.uploads(Fault::DropMidUpload).times(1);
    let out = go.with_faults(vec![dropped], &["publish", "go"], GO_SHA)?;
    ensure!(out.code == 0, "dropped mid-upload:\n{out}");
    ensure!(
        out.stderr.contains("retrying in"),
        "no logged retry:\n{out}"
    );
    ensure!(go.upload_count() == 3, "{:?}", go.proxy.seen());
    let uploaded = go.scratch.state("ameide-telemetry-go")?;
    ensure!(uploaded["publish"]["outcome"] == "uploaded", "{uploaded}");

    // The registry stores the upload but its answer is lost: the retry finds the same
    // bytes there (already-present), which is the truth of what the registry holds.
    let lost = go.uploads(Fault::DropAnswer).times(1);
    let out = go.with_faults(vec![lost], &["publish", "go"], OTHER_SHA)?;
    ensure!(out.code == 0, "answer lost:\n{out}");
    ensure!(
        out.stderr.contains("retrying in"),
        "no logged retry:\n{out}"
    );
    let outcomes: Vec<String> = ["ameide-sdk-go", "ameide-telemetry-go"]
        .iter()
        .map(|k| Ok(go.scratch.state(k)?["publish"]["outcome"].to_string()))
        .collect::<Result<_>>()?;
    ensure!(
        outcomes.iter().any(|o| o.contains("already-present")),
        "the re-sent upload was not found present: {outcomes:?}"
    );
    Ok(())
}

#[test]
fn go_registry_down_exits_5_keeps_the_state_and_a_rerun_after_it_is_back_completes() -> Result<()> {
    let mut go = GoRow::new()?.with_state()?;
    registry_down(&mut go, OTHER_SHA)
}

#[test]
fn go_a_read_dropped_mid_body_is_retried() -> Result<()> {
    let go = GoRow::new()?.with_state()?;
    let sdk = go.scratch.state("ameide-sdk-go")?;
    let version = sdk["version"].as_str().context("version")?;
    let cut = Rule::new(Fault::DropMidBody { after: 10 })
        .method("GET")
        .path_ends_with(&format!("ameide-sdk-go/@v/{version}.zip"))
        .times(1);
    let out = go.with_faults(vec![cut], &["smoke", "go"], GO_SHA)?;
    ensure!(out.code == 0, "a read cut mid-body must be retried:\n{out}");
    ensure!(
        out.stderr.contains("retrying in"),
        "no logged retry:\n{out}"
    );
    Ok(())
}

// ---------------------------------------------------------------- Python (devpi)

const PY_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

type PyRow = Row<Devpi>;

impl Registry for Devpi {
    const LANG: &'static str = "python";
    const OVERRIDE: (&'static str, &'static str) = ("AMEIDE_PYTHON_SDK_VERSION", "1.4.0");
    const UPLOAD: (&'static str, &'static str) = ("POST", "/");
    const UPLOADS: usize = 4;
    const TELEMETRY: &'static str = "ameide-telemetry-python";
    const CHANGE: (&'static str, &'static str) = (
        "packages/ameide_telemetry_python/README.md",
        "\nA change after this commit was published.\n",
    );
    const DIGEST: &'static str = "sha256 ";
    const MISMATCH: &'static str = "serves bytes with sha256";

    fn start() -> Result<Self> {
        Devpi::start()
    }
    fn url(&self) -> String {
        Devpi::url(self)
    }
    fn secret(&self) -> &str {
        self.password()
    }
    fn command(&self, root: &Path, _home: &Path, via: &str, sha: &str) -> Command {
        let via = |u: String| u.replace(&Devpi::url(self), via);
        let mut cmd = pkgrun_with_python_env(root, self, sha);
        cmd.env("AMEIDE_PYPI_REPOSITORY_URL", via(self.upload_url()))
            .env("PIP_INDEX_URL", via(self.simple_url()));
        cmd
    }
    fn look(fault: Fault) -> Option<Rule> {
        Some(
            Rule::new(fault)
                .method("GET")
                .path_contains("+simple/ameide-telemetry/")
                .times(1),
        )
    }
    fn downloads(fault: Fault) -> Rule {
        Rule::new(fault).method("GET").path_contains("/+f/")
    }
}

/// One devpi for the whole Python row (its start is the slow part): each step's fault is
/// cleared before the next.
#[test]
fn python_burst_401_redirect_lost_answer_tampered_download_and_429() -> Result<()> {
    let py = PyRow::new()?;

    // A 503 burst on the uploads and a 502 burst on the index reads: absorbed by retries.
    let uploads = py.uploads(status(503)).times(2);
    let reads = Rule::new(status(502)).method("GET").times(2);
    let first = py.with_faults(vec![uploads, reads], &["publish", "python"], PY_SHA)?;
    ensure!(first.code == 0, "the burst must be absorbed:\n{first}");
    ensure!(py.proxy.faults_served() == 4, "{:?}", py.proxy.seen());
    ensure!(first.stderr.matches("retrying in").count() >= 2, "{first}");
    let before = py.scratch.state_files()?;

    refused_upload(&py, 401, "hint: check AMEIDE_PYPI_USERNAME", OTHER_SHA)?;

    // An upload answered with a redirect: not followed, not counted as uploaded.
    let redirect = py.uploads(Fault::Redirect {
        status: 302,
        location: py.registry.upload_url(),
    });
    let out = py.with_faults(vec![redirect], &["publish", "python"], OTHER_SHA)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(out.stderr.contains("nothing was uploaded"), "{out}");
    ensure!(py.scratch.state_files()? == before, "state changed:\n{out}");

    // The registry stores an upload but its answer is lost: the retry completes the run.
    let lost = py.uploads(Fault::DropAnswer).times(1);
    let out = py.with_faults(vec![lost], &["publish", "python"], OTHER_SHA)?;
    ensure!(out.code == 0, "a lost answer must be retried:\n{out}");
    ensure!(out.stderr.contains("retrying in"), "{out}");

    // Flipped bytes on every file download: the smoke fails with 4 naming the sha256.
    tampered_download(&py, Fault::FlipBytes, OTHER_SHA)?;

    // 429 with Retry-After: 1 on a project page pkgrun reads, then a whole run completes.
    let busy = Rule::new(Fault::Status {
        status: 429,
        retry_after: Some(1),
    })
    .method("GET")
    .path_contains("+simple/ameide-telemetry/")
    .times(1);
    let out = py.with_faults(vec![busy], &["run", "python"], THIRD_SHA)?;
    ensure!(out.code == 0, "re-run after the faults cleared:\n{out}");
    ensure!(out.stderr.contains("retrying in 1.0s"), "{out}");
    Ok(())
}

/// The rest of the Python row on a second devpi: 403/404/413 on upload, 409 with the same
/// bytes, other bytes and other bytes of the same contents, a read cut mid-body, 429 once
/// then slow uploads, truncated downloads, the registry down.
#[test]
fn python_refusals_409s_cut_read_429_slow_uploads_truncated_files_and_registry_down() -> Result<()>
{
    let mut py = PyRow::new()?;
    py.published(&sha(1))?;
    refused_upload(
        &py,
        403,
        "and that the user may upload to this index",
        &sha(2),
    )?;
    refused_upload(&py, 404, "hint: check AMEIDE_PYPI_REPOSITORY_URL", &sha(2))?;
    refused_upload(
        &py,
        413,
        "hint: the registry (or a proxy in front of it) limits",
        &sha(2),
    )?;
    py.published(&sha(2))?;

    conflict_same_bytes(&py, &sha(2))?;
    conflict_other_bytes(&py, &sha(2))?;
    // Other bytes of the same contents (a build time in the archives) count as the same
    // release, whether the look before the upload saw the file or a 409 revealed it.
    let rebuilt = py.with_faults_env(
        conflict_rules(&py),
        &["publish", "python"],
        &sha(2),
        &[Devpi::OVERRIDE, ("SOURCE_DATE_EPOCH", "946684800")],
    )?;
    ensure!(
        rebuilt.code == 0,
        "409, other bytes, same contents:\n{rebuilt}"
    );
    ensure!(
        served(&py.proxy, 409) >= 1 && rebuilt.stderr.contains("but the same contents"),
        "{:?}\n{rebuilt}",
        py.proxy.seen()
    );

    read_cut_mid_body(&py, &sha(3))?;
    busy_once_then_slow_uploads(&py, &sha(4))?;
    tampered_download(&py, Fault::Truncate { keep: 100 }, &sha(4))?;
    registry_down(&mut py, &sha(5))?;
    Ok(())
}

// ---------------------------------------------------------------- TypeScript (Verdaccio)

type TsRow = Row<Verdaccio>;

impl Registry for Verdaccio {
    const LANG: &'static str = "ts";
    const OVERRIDE: (&'static str, &'static str) = ("AMEIDE_TS_SDK_VERSION", "1.4.0");
    const UPLOAD: (&'static str, &'static str) = ("PUT", "/");
    const UPLOADS: usize = 2;
    const TELEMETRY: &'static str = "ameide-telemetry-ts";
    const CHANGE: (&'static str, &'static str) = (
        "packages/ameide_telemetry_ts/src/index.ts",
        "\nexport const changedAfterPublishing = true;\n",
    );
    const DIGEST: &'static str = "sha512-";
    const MISMATCH: &'static str = "hashes to sha512-";

    fn start() -> Result<Self> {
        Verdaccio::start()
    }
    fn url(&self) -> String {
        Verdaccio::url(self)
    }
    fn secret(&self) -> &str {
        self.token()
    }
    fn command(&self, root: &Path, home: &Path, via: &str, sha: &str) -> Command {
        let mut cmd = pkgrun_with_ts_env(root, home);
        cmd.env("NPM_REGISTRY_URL", via)
            .env("NPM_AUTH_TOKEN", self.token())
            .env("SOURCE_GIT_SHA", sha);
        cmd
    }
    fn look(fault: Fault) -> Option<Rule> {
        Some(
            Rule::new(fault)
                .method("GET")
                .path_ends_with("ameide-telemetry-ts")
                // The build asks for the packument first (is the registry there?).
                .skip(1)
                .times(1),
        )
    }
    /// The first tarball download only (pkgrun's own protocol check): npm retries its
    /// own integrity failures for minutes before the smoke would fail.
    fn downloads(fault: Fault) -> Rule {
        Rule::new(fault)
            .method("GET")
            .path_ends_with(".tgz")
            .times(1)
    }
}

/// One Verdaccio for the whole TypeScript row.
#[test]
fn ts_burst_401_redirect_dropped_upload_tampered_tarball_and_registry_down() -> Result<()> {
    let mut ts = TsRow::new()?;

    let burst = ts.uploads(status(503)).times(2);
    let first = ts.with_faults(vec![burst], &["publish", "ts"], PY_SHA)?;
    ensure!(first.code == 0, "the burst must be absorbed:\n{first}");
    ensure!(first.stderr.matches("retrying in").count() >= 2, "{first}");
    let before = ts.scratch.state_files()?;

    refused_upload(&ts, 401, "hint: check NPM_AUTH_TOKEN", OTHER_SHA)?;

    let redirect = ts.uploads(Fault::Redirect {
        status: 307,
        location: ts.registry.url(),
    });
    let out = ts.with_faults(vec![redirect], &["publish", "ts"], OTHER_SHA)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(out.stderr.contains("nothing was uploaded"), "{out}");
    ensure!(ts.scratch.state_files()? == before, "state changed:\n{out}");

    // Dropped mid-upload (Verdaccio never sees it), then an answer lost after Verdaccio
    // stored it (the retry gets 409, resolved by the same-bytes rule): both complete.
    let dropped = ts.uploads(Fault::DropMidUpload).times(1);
    let lost = ts.uploads(Fault::DropAnswer).skip(1).times(1);
    let out = ts.with_faults(vec![dropped, lost], &["publish", "ts"], OTHER_SHA)?;
    ensure!(out.code == 0, "dropped uploads must be retried:\n{out}");
    ensure!(out.stderr.matches("retrying in").count() >= 2, "{out}");

    // Flipped bytes on the first tarball download (pkgrun's own protocol check): exit 4.
    tampered_download(&ts, Fault::FlipBytes, OTHER_SHA)?;
    registry_down(&mut ts, THIRD_SHA)
}

/// The rest of the TypeScript row on a second Verdaccio: 403/404/413 on upload, 409 with
/// the same and with other bytes, a read cut mid-body, 429 once then slow uploads, a
/// truncated tarball.
#[test]
fn ts_refusals_409s_cut_read_429_slow_uploads_and_truncated_tarball() -> Result<()> {
    let ts = TsRow::new()?;
    ts.published(&sha(1))?;
    refused_upload(&ts, 403, "hint: check NPM_AUTH_TOKEN", &sha(2))?;
    refused_upload(&ts, 404, "hint: check NPM_REGISTRY_URL", &sha(2))?;
    refused_upload(
        &ts,
        413,
        "hint: the registry (or a proxy in front of it) limits",
        &sha(2),
    )?;
    ts.published(&sha(2))?;

    // Verdaccio itself answers 409 for any version it has; the look before the upload
    // is what usually finds it, so the 409 path is reached by missing that look.
    conflict_same_bytes(&ts, &sha(2))?;
    conflict_other_bytes(&ts, &sha(2))?;
    read_cut_mid_body(&ts, &sha(3))?;
    busy_once_then_slow_uploads(&ts, &sha(4))?;
    tampered_download(&ts, Fault::Truncate { keep: 100 }, &sha(4))?;
    Ok(())
}

// ---------------------------------------------------------------- the state ConfigMap

/// The ConfigMap sink under a registry fault, on the real test kube-apiserver: a run the
/// registry makes fail (401 on upload) leaves the state ConfigMap exactly as the previous
/// successful run wrote it; the re-run after the fault clears updates it to the new state.
#[test]
fn go_a_registry_fault_leaves_the_state_configmap_as_it_was_and_a_rerun_updates_it() -> Result<()> {
    const CM: &str = "go-packages-state";
    let server = KubeApiServer::shared();
    let namespace = server.namespace("faults")?;
    let go = GoRow::new()?;
    let sink = |args: &[&str], sha: &str| -> Result<Run> {
        let mut cmd = go.command(sha);
        cmd.args(args)
            .env("KUBECONFIG", server.admin_kubeconfig())
            .env("PKGRUN_CONFIGMAP", CM)
            .env("PKGRUN_NAMESPACE", &namespace);
        go.scratch.run(&mut cmd, go.registry.secret())
    };
    let data = || -> Result<BTreeMap<String, String>> {
        Ok(server
            .configmap(&namespace, CM)?
            .context("the state ConfigMap")?
            .data
            .unwrap_or_default())
    };
    let matches_local = |data: &BTreeMap<String, String>| -> Result<bool> {
        let local = go.scratch.state_files()?;
        Ok(data.len() == local.len()
            && local
                .iter()
                .all(|(k, v)| data.get(k).map(|d| d.as_bytes()) == Some(v.as_slice())))
    };

    let first = sink(&["run", "go"], GO_SHA)?;
    ensure!(first.code == 0, "{first}");
    let written = data()?;
    ensure!(matches_local(&written)?, "the ConfigMap is not the state");

    let before = go.scratch.state_files()?;
    go.proxy.add(go.uploads(status(401)));
    let failed = sink(&["run", "go"], OTHER_SHA)?;
    go.proxy.clear();
    ensure!(failed.code == 3, "expected exit 3:\n{failed}");
    ensure!(
        failed.stderr.contains(&go.named())
            && failed
                .stderr
                .contains(&format!("configmaps {namespace}/{CM} not written")),
        "the registry and the unwritten ConfigMap must be named:\n{failed}"
    );
    ensure!(data()? == written, "the failed run changed the ConfigMap");
    ensure!(
        go.scratch.state_files()? == before,
        "state changed:\n{failed}"
    );

    let again = sink(&["run", "go"], OTHER_SHA)?;
    ensure!(again.code == 0, "re-run after the fault cleared:\n{again}");
    let updated = data()?;
    ensure!(
        updated != written && matches_local(&updated)?,
        "not updated"
    );
    Ok(())
}
