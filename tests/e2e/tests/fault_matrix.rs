//! The fault matrix (issue 18, docs/faults.md): the `pkgrun` binary against REAL registries
//! (the workspace's go-registry, devpi, Verdaccio) reached through the FAKE fault proxy
//! (`pkgrun_e2e::fault_proxy`), which forwards everything except the requests a test's
//! rule picks, and answers those with the fault.
//!
//! For each fault: the documented exit code, one message naming the registry, retries only where the client retries (logged), previous state files byte
//! for byte as they were, and a re-run after the fault is cleared that completes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};
use pkgrun_e2e::go::{pkgrun_with_go_env, GoRegistry, GoRegistryOptions};
use pkgrun_e2e::process::Run;
use pkgrun_e2e::workspace::{example_copy, pkgrun_with_python_env, pkgrun_with_ts_env};
use pkgrun_e2e::{Devpi, Fault, FaultProxy, Rule, Verdaccio};
use serde_json::Value;

const OTHER_SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";
const THIRD_SHA: &str = "1111111111222222222233333333334444444444";

/// A copy of the example monorepo without its upstream probes: the matrix is about the
/// private registries, and without the probes no request leaves loopback.
fn workspace() -> Result<(tempfile::TempDir, PathBuf)> {
    let (tmp, root) = example_copy()?;
    let config = root.join("pkgrun.toml");
    let text = std::fs::read_to_string(&config)?;
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("upstream_probe"))
        .collect();
    ensure!(kept.len() + 3 == text.lines().count(), "{text}");
    std::fs::write(&config, kept.join("\n") + "\n")?;
    Ok((tmp, root))
}

fn run(cmd: &mut Command) -> Result<Run> {
    Ok(Run::from(cmd.output().context("run pkgrun")?))
}

/// Every state file under `root`'s state directory, by name, with its bytes.
fn state_files(root: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let dir = root.join("tmp/tilt-packages");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            files.insert(name.into_owned(), std::fs::read(&path)?);
        }
    }
    ensure!(!files.is_empty(), "no state in {}", dir.display());
    Ok(files)
}

fn state(root: &Path, key: &str) -> Result<Value> {
    let path = root.join("tmp/tilt-packages").join(format!("{key}.json"));
    Ok(serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("read {}", path.display()))?,
    )?)
}

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

// ---------------------------------------------------------------- Go (go-registry)

struct GoSetup {
    registry: GoRegistry,
    proxy: FaultProxy,
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl GoSetup {
    fn new() -> Result<GoSetup> {
        let registry = GoRegistry::start(GoRegistryOptions::default())?;
        let proxy = FaultProxy::start(registry.url())?;
        let (tmp, root) = workspace()?;
        Ok(GoSetup {
            registry,
            proxy,
            _tmp: tmp,
            root,
        })
    }

    /// `pkgrun <args>` through the proxy, with `SOURCE_GIT_SHA` = `sha` when given.
    fn pkgrun(&self, args: &[&str], sha: Option<&str>) -> Result<Run> {
        let mut cmd = pkgrun_with_go_env(&self.root, &self.proxy.url(), self.registry.token());
        cmd.args(args);
        if let Some(sha) = sha {
            cmd.env("SOURCE_GIT_SHA", sha);
        }
        let out = run(&mut cmd)?;
        no_secrets(&out, &[self.registry.token()])?;
        Ok(out)
    }

    /// A first publish with no fault, so that there is state to keep.
    fn published(self) -> Result<Self> {
        let first = self.pkgrun(&["publish", "go"], None)?;
        ensure!(first.code == 0, "publish without faults:\n{first}");
        Ok(self)
    }
}

#[test]
fn go_upload_answered_401_exits_3_names_the_registry_and_keeps_the_state() -> Result<()> {
    let go = GoSetup::new()?.published()?;
    let before = state_files(&go.root)?;
    go.proxy.add(
        Rule::new(Fault::Status {
            status: 401,
            retry_after: None,
        })
        .method("POST"),
    );

    let out = go.pkgrun(&["publish", "go"], Some(OTHER_SHA))?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(out.stderr.contains("HTTP 401"), "{out}");
    ensure!(
        out.stderr
            .contains(&format!("127.0.0.1:{}", go.proxy.port())),
        "the message does not name the registry:\n{out}"
    );
    // Each refused module once (the SDK is tried too: it does not need a new telemetry).
    ensure!(
        !out.stderr.contains("retrying in") && go.proxy.faults_served() <= 2,
        "a 401 must not be retried: {:?}\n{out}",
        go.proxy.seen()
    );
    ensure!(state_files(&go.root)? == before, "state changed:\n{out}");

    go.proxy.clear();
    let again = go.pkgrun(&["publish", "go"], Some(OTHER_SHA))?;
    ensure!(again.code == 0, "re-run after the fault cleared:\n{again}");
    ensure!(
        state_files(&go.root)? != before,
        "the re-run wrote no state"
    );
    Ok(())
}

#[test]
fn go_a_502_503_burst_on_reads_and_uploads_recovers_with_logged_retries() -> Result<()> {
    let go = GoSetup::new()?;
    go.proxy.add(
        Rule::new(Fault::Status {
            status: 503,
            retry_after: None,
        })
        .method("POST")
        .path_contains("/upload")
        .times(2),
    );
    go.proxy.add(
        Rule::new(Fault::Status {
            status: 502,
            retry_after: None,
        })
        .method("GET")
        .path_contains("/@v/")
        .times(2),
    );

    let out = go.pkgrun(&["run", "go"], None)?;
    ensure!(out.code == 0, "expected the burst to be absorbed:\n{out}");
    ensure!(go.proxy.faults_served() == 4, "{:?}", go.proxy.seen());
    ensure!(
        out.stderr.matches("retrying in").count() >= 4
            && out.stderr.contains("HTTP 503")
            && out.stderr.contains("HTTP 502"),
        "the retries are not logged:\n{out}"
    );
    // Two uploads (SDK and telemetry) plus the two refused attempts.
    ensure!(
        go.proxy.count("POST", "/upload") == 4,
        "{:?}",
        go.proxy.seen()
    );
    for key in ["ameide-sdk-go", "ameide-telemetry-go"] {
        let doc = state(&go.root, key)?;
        ensure!(doc["publish"]["outcome"] == "uploaded", "{doc}");
        ensure!(doc["smoke"]["status"] == "passed", "{doc}");
    }
    Ok(())
}

#[test]
fn go_flipped_bytes_on_the_downloaded_zip_fail_the_smoke_with_4_naming_the_digests() -> Result<()> {
    let go = GoSetup::new()?.published()?;
    let sdk = state(&go.root, "ameide-sdk-go")?;
    let version = sdk["version"].as_str().context("version")?;
    go.proxy.add(
        Rule::new(Fault::FlipBytes)
            .method("GET")
            .path_ends_with(&format!("ameide-sdk-go/@v/{version}.zip")),
    );

    let out = go.pkgrun(&["smoke", "go"], None)?;
    ensure!(out.code == 4, "expected exit 4:\n{out}");
    ensure!(go.proxy.faults_served() >= 1, "the zip was never fetched");
    let sdk = state(&go.root, "ameide-sdk-go")?;
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

    go.proxy.clear();
    let again = go.pkgrun(&["smoke", "go"], None)?;
    ensure!(again.code == 0, "re-run after the fault cleared:\n{again}");
    Ok(())
}

#[test]
fn go_an_upload_dropped_midway_or_its_answer_lost_is_retried_to_success() -> Result<()> {
    let go = GoSetup::new()?;
    // The registry never sees the first upload: the retry uploads.
    go.proxy
        .add(Rule::new(Fault::DropMidUpload).method("POST").times(1));
    let out = go.pkgrun(&["publish", "go"], None)?;
    ensure!(out.code == 0, "dropped mid-upload:\n{out}");
    ensure!(
        out.stderr.contains("retrying in"),
        "no logged retry:\n{out}"
    );
    ensure!(
        go.proxy.count("POST", "/upload") == 3,
        "{:?}",
        go.proxy.seen()
    );
    let uploaded = state(&go.root, "ameide-telemetry-go")?;
    ensure!(uploaded["publish"]["outcome"] == "uploaded", "{uploaded}");

    // The registry stores the upload but its answer is lost: the retry finds the same
    // bytes there (already-present), which is the truth of what the registry holds.
    go.proxy.clear();
    go.proxy
        .add(Rule::new(Fault::DropAnswer).method("POST").times(1));
    let out = go.pkgrun(&["publish", "go"], Some(OTHER_SHA))?;
    ensure!(out.code == 0, "answer lost:\n{out}");
    ensure!(
        out.stderr.contains("retrying in"),
        "no logged retry:\n{out}"
    );
    let outcomes: Vec<String> = ["ameide-sdk-go", "ameide-telemetry-go"]
        .iter()
        .map(|k| Ok(state(&go.root, k)?["publish"]["outcome"].to_string()))
        .collect::<Result<_>>()?;
    ensure!(
        outcomes.iter().any(|o| o.contains("already-present")),
        "the re-sent upload was not found present: {outcomes:?}"
    );
    Ok(())
}

#[test]
fn go_registry_down_exits_5_keeps_the_state_and_a_rerun_after_it_is_back_completes() -> Result<()> {
    let mut go = GoSetup::new()?.published()?;
    let before = state_files(&go.root)?;
    go.proxy.stop();

    let out = go.pkgrun(&["publish", "go"], Some(OTHER_SHA))?;
    ensure!(out.code == 5, "expected exit 5:\n{out}");
    ensure!(
        out.stderr.contains("did not answer after 4 attempts")
            && out
                .stderr
                .contains(&format!("127.0.0.1:{}", go.proxy.port())),
        "{out}"
    );
    ensure!(state_files(&go.root)? == before, "state changed:\n{out}");

    go.proxy.resume()?;
    let again = go.pkgrun(&["run", "go"], Some(OTHER_SHA))?;
    ensure!(
        again.code == 0,
        "re-run after the registry is back:\n{again}"
    );
    Ok(())
}

#[test]
fn go_upload_answered_413_exits_3_without_retry() -> Result<()> {
    let go = GoSetup::new()?;
    go.proxy.add(
        Rule::new(Fault::Status {
            status: 413,
            retry_after: None,
        })
        .method("POST"),
    );
    let out = go.pkgrun(&["publish", "go"], None)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(out.stderr.contains("HTTP 413"), "{out}");
    ensure!(
        !out.stderr.contains("retrying in") && go.proxy.count("POST", "/upload") == 1,
        "a 413 must not be retried:\n{out}"
    );
    Ok(())
}

#[test]
fn go_a_read_dropped_mid_body_is_retried() -> Result<()> {
    let go = GoSetup::new()?.published()?;
    let sdk = state(&go.root, "ameide-sdk-go")?;
    let version = sdk["version"].as_str().context("version")?;
    go.proxy.add(
        Rule::new(Fault::DropMidBody { after: 10 })
            .method("GET")
            .path_ends_with(&format!("ameide-sdk-go/@v/{version}.zip"))
            .times(1),
    );
    let out = go.pkgrun(&["smoke", "go"], None)?;
    ensure!(out.code == 0, "a read cut mid-body must be retried:\n{out}");
    ensure!(
        out.stderr.contains("retrying in"),
        "no logged retry:\n{out}"
    );
    Ok(())
}

// ---------------------------------------------------------------- Python (devpi)

const PY_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct PySetup {
    devpi: Devpi,
    proxy: FaultProxy,
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl PySetup {
    fn new() -> Result<PySetup> {
        let devpi = Devpi::start()?;
        let proxy = FaultProxy::start(&devpi.url())?;
        let (tmp, root) = workspace()?;
        Ok(PySetup {
            devpi,
            proxy,
            _tmp: tmp,
            root,
        })
    }

    fn pkgrun(&self, args: &[&str], sha: &str) -> Result<Run> {
        let via = |u: String| u.replace(&self.devpi.url(), &self.proxy.url());
        let mut cmd = pkgrun_with_python_env(&self.root, &self.devpi, sha);
        cmd.env("AMEIDE_PYPI_REPOSITORY_URL", via(self.devpi.upload_url()))
            .env("PIP_INDEX_URL", via(self.devpi.simple_url()))
            .args(args);
        let out = run(&mut cmd)?;
        no_secrets(&out, &[self.devpi.password()])?;
        Ok(out)
    }

    /// Applies `rule`, runs `args`, clears the rules.
    fn with_fault(&self, rule: Rule, args: &[&str], sha: &str) -> Result<Run> {
        self.proxy.add(rule);
        let out = self.pkgrun(args, sha);
        self.proxy.clear();
        out
    }
}

/// One devpi for the whole Python row (its start is the slow part): each step's fault is
/// cleared before the next.
#[test]
fn python_burst_401_redirect_lost_answer_tampered_download_and_429() -> Result<()> {
    let py = PySetup::new()?;
    let port = format!("127.0.0.1:{}", py.proxy.port());

    // A 503 burst on the uploads and a 502 burst on the index reads: absorbed by retries.
    py.proxy.add(
        Rule::new(Fault::Status {
            status: 503,
            retry_after: None,
        })
        .method("POST")
        .times(2),
    );
    py.proxy.add(
        Rule::new(Fault::Status {
            status: 502,
            retry_after: None,
        })
        .method("GET")
        .times(2),
    );
    let first = py.pkgrun(&["publish", "python"], PY_SHA)?;
    ensure!(py.proxy.faults_served() == 4, "{:?}", py.proxy.seen());
    py.proxy.clear();
    ensure!(first.code == 0, "the burst must be absorbed:\n{first}");
    ensure!(first.stderr.matches("retrying in").count() >= 2, "{first}");
    let before = state_files(&py.root)?;

    // 401 on upload: exit 3, the registry named, no retry, state kept.
    let status = |s| {
        Rule::new(Fault::Status {
            status: s,
            retry_after: None,
        })
        .method("POST")
    };
    let out = py.with_fault(status(401), &["publish", "python"], OTHER_SHA)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(
        out.stderr.contains("401") && out.stderr.contains(&port),
        "{out}"
    );
    ensure!(
        !out.stderr.contains("retrying in"),
        "a 401 must not be retried:\n{out}"
    );
    ensure!(state_files(&py.root)? == before, "state changed:\n{out}");

    // An upload answered with a redirect: not followed, not counted as uploaded.
    let redirect = Rule::new(Fault::Redirect {
        status: 302,
        location: py.devpi.upload_url(),
    })
    .method("POST");
    let out = py.with_fault(redirect, &["publish", "python"], OTHER_SHA)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(out.stderr.contains("nothing was uploaded"), "{out}");
    ensure!(state_files(&py.root)? == before, "state changed:\n{out}");

    // The registry stores an upload but its answer is lost: the retry completes the run.
    let lost = Rule::new(Fault::DropAnswer).method("POST").times(1);
    let out = py.with_fault(lost, &["publish", "python"], OTHER_SHA)?;
    ensure!(out.code == 0, "a lost answer must be retried:\n{out}");
    ensure!(out.stderr.contains("retrying in"), "{out}");

    // Flipped bytes on every file download: the smoke fails with 4 naming the sha256.
    let flip = Rule::new(Fault::FlipBytes)
        .method("GET")
        .path_contains("/+f/");
    let out = py.with_fault(flip, &["smoke", "python"], OTHER_SHA)?;
    ensure!(out.code == 4, "expected exit 4:\n{out}");
    ensure!(
        out.stderr.contains("serves bytes with sha256"),
        "the digest mismatch is not named:\n{out}"
    );

    // 429 with Retry-After: 1 on a project page pkgrun reads, then a whole run completes.
    let busy = Rule::new(Fault::Status {
        status: 429,
        retry_after: Some(1),
    })
    .method("GET")
    .path_contains("+simple/ameide-telemetry/")
    .times(1);
    let out = py.with_fault(busy, &["run", "python"], THIRD_SHA)?;
    ensure!(out.code == 0, "re-run after the faults cleared:\n{out}");
    ensure!(out.stderr.contains("retrying in 1.0s"), "{out}");
    Ok(())
}

// ---------------------------------------------------------------- TypeScript (Verdaccio)

/// One Verdaccio for the whole TypeScript row.
#[test]
fn ts_burst_401_redirect_dropped_upload_tampered_tarball_and_registry_down() -> Result<()> {
    let verdaccio = Verdaccio::start()?;
    let mut proxy = FaultProxy::start(&verdaccio.url())?;
    let port = format!("127.0.0.1:{}", proxy.port());
    let (tmp, root) = workspace()?;
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home)?;
    let pkgrun = |args: &[&str], sha: &str, proxy: &FaultProxy| -> Result<Run> {
        let mut cmd = pkgrun_with_ts_env(&root, &home);
        cmd.env("NPM_REGISTRY_URL", proxy.url())
            .env("NPM_AUTH_TOKEN", verdaccio.token())
            .env("SOURCE_GIT_SHA", sha)
            .args(args);
        let out = run(&mut cmd)?;
        no_secrets(&out, &[verdaccio.token()])?;
        Ok(out)
    };
    let with_fault = |rule: Rule, args: &[&str], sha: &str, proxy: &FaultProxy| {
        proxy.add(rule);
        let out = pkgrun(args, sha, proxy);
        proxy.clear();
        out
    };

    let burst = Rule::new(Fault::Status {
        status: 503,
        retry_after: None,
    })
    .method("PUT")
    .times(2);
    let first = with_fault(burst, &["publish", "ts"], PY_SHA, &proxy)?;
    ensure!(first.code == 0, "the burst must be absorbed:\n{first}");
    ensure!(first.stderr.matches("retrying in").count() >= 2, "{first}");
    let before = state_files(&root)?;

    let refuse = Rule::new(Fault::Status {
        status: 401,
        retry_after: None,
    })
    .method("PUT");
    let out = with_fault(refuse, &["publish", "ts"], OTHER_SHA, &proxy)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(
        out.stderr.contains("401") && out.stderr.contains(&port),
        "{out}"
    );
    ensure!(
        !out.stderr.contains("retrying in"),
        "a 401 must not be retried:\n{out}"
    );
    ensure!(state_files(&root)? == before, "state changed:\n{out}");

    let redirect = Rule::new(Fault::Redirect {
        status: 307,
        location: verdaccio.url(),
    })
    .method("PUT");
    let out = with_fault(redirect, &["publish", "ts"], OTHER_SHA, &proxy)?;
    ensure!(out.code == 3, "expected exit 3:\n{out}");
    ensure!(out.stderr.contains("nothing was uploaded"), "{out}");
    ensure!(state_files(&root)? == before, "state changed:\n{out}");

    // Dropped mid-upload (Verdaccio never sees it), then an answer lost after Verdaccio
    // stored it (the retry gets 409, resolved by the same-bytes rule): both complete.
    proxy.add(Rule::new(Fault::DropMidUpload).method("PUT").times(1));
    proxy.add(Rule::new(Fault::DropAnswer).method("PUT").skip(1).times(1));
    let out = pkgrun(&["publish", "ts"], OTHER_SHA, &proxy)?;
    proxy.clear();
    ensure!(out.code == 0, "dropped uploads must be retried:\n{out}");
    ensure!(out.stderr.matches("retrying in").count() >= 2, "{out}");
    let before = state_files(&root)?;

    // Flipped bytes on the first tarball download (pkgrun's own protocol check): exit 4.
    // (Flipping every download also makes it 4, but npm's own retries of its integrity
    // failures then take minutes.)
    let flip = Rule::new(Fault::FlipBytes)
        .method("GET")
        .path_ends_with(".tgz")
        .times(1);
    let out = with_fault(flip, &["smoke", "ts"], OTHER_SHA, &proxy)?;
    ensure!(out.code == 4, "expected exit 4:\n{out}");
    ensure!(
        out.stderr.contains("the tarball served for") && out.stderr.contains("hashes to sha512-"),
        "the digest mismatch is not named:\n{out}"
    );

    proxy.stop();
    let out = pkgrun(&["publish", "ts"], THIRD_SHA, &proxy)?;
    ensure!(out.code == 5, "expected exit 5:\n{out}");
    ensure!(
        out.stderr.contains(&port),
        "the registry is not named:\n{out}"
    );

    proxy.resume()?;
    let again = pkgrun(&["run", "ts"], THIRD_SHA, &proxy)?;
    ensure!(
        again.code == 0,
        "re-run after the registry is back:\n{again}"
    );
    ensure!(state_files(&root)? != before, "the re-run wrote no state");
    Ok(())
}
