//! Issue 18's runtime cells (docs/faults.md, "Timeouts and signals"): a registry that
//! stalls mid-body, one that accepts no connection, and SIGINT/SIGTERM mid-run.
//!
//! The `pkgrun` binary runs against the REAL Go registry of the workspace, reached through
//! the FAKE fault proxy (`pkgrun_e2e::fault_proxy`) that stalls or delays the requests a
//! test's rule picks. The connect timeout uses a REAL loopback listener whose accept queue
//! is full, so the kernel drops the SYNs and `connect()` hangs (no fake involved).
//!
//! Short limits come from the documented variables (`PKGRUN_HTTP_READ_TIMEOUT`,
//! `PKGRUN_HTTP_CONNECT_TIMEOUT`); nothing here asserts a duration.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use pkgrun_e2e::go::{pkgrun_with_go_env, GoRegistry, GoRegistryOptions};
use pkgrun_e2e::process::Run;
use pkgrun_e2e::state::{state_files, state_json};
use pkgrun_e2e::workspace::{example_copy_offline, pkgrun_with_python_env};
use pkgrun_e2e::{Devpi, Fault, FaultProxy, Rule};

const OTHER_SHA: &str = "fedcba9876543210fedcba9876543210fedcba98";
const PY_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Go {
    registry: GoRegistry,
    proxy: FaultProxy,
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Go {
    /// The registry, the proxy in front of it, a workspace, and a first publish without
    /// faults so that there is state to keep.
    fn published() -> Result<Go> {
        let registry = GoRegistry::start(GoRegistryOptions::default())?;
        let proxy = FaultProxy::start(registry.url())?;
        let (tmp, root) = example_copy_offline()?;
        let go = Go {
            registry,
            proxy,
            tmp,
            root,
        };
        let first = go.run(&["publish", "go"], None, &[])?;
        ensure!(first.code == 0, "publish without faults:\n{first}");
        Ok(go)
    }

    fn command(&self, args: &[&str], sha: Option<&str>, env: &[(&str, &str)]) -> Command {
        let mut cmd = pkgrun_with_go_env(&self.root, &self.proxy.url(), self.registry.token());
        cmd.args(args);
        if let Some(sha) = sha {
            cmd.env("SOURCE_GIT_SHA", sha);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str], sha: Option<&str>, env: &[(&str, &str)]) -> Result<Run> {
        let out = Run::from(
            self.command(args, sha, env)
                .output()
                .context("run pkgrun")?,
        );
        ensure!(
            !out.stderr.contains(self.registry.token())
                && !out.stdout.contains(self.registry.token()),
            "the token was printed:\n{out}"
        );
        Ok(out)
    }

    fn proxy_named(&self, out: &Run) -> bool {
        out.stderr
            .contains(&format!("127.0.0.1:{}", self.proxy.port()))
    }
}

// ------------------------------------------------------------------ stall mid-body

#[test]
fn go_a_read_stalled_mid_body_fails_each_attempt_on_the_read_timeout_then_exits_5() -> Result<()> {
    let go = Go::published()?;
    let sdk = state_json(&go.root, "ameide-sdk-go")?;
    let version = sdk["version"].as_str().context("version")?.to_string();
    let publish_before = sdk["publish"].clone();
    // pkgrun's protocol check reads the zip; its 4 attempts stall after 10 bytes (the
    // consumer's go command, which reads it after them, gets it whole).
    go.proxy.add(
        Rule::new(Fault::StallMidBody { after: 10 })
            .method("GET")
            .path_ends_with(&format!("ameide-sdk-go/@v/{version}.zip"))
            .times(4),
    );

    let started = Instant::now();
    let out = go.run(&["smoke", "go"], None, &[("PKGRUN_HTTP_READ_TIMEOUT", "1")])?;
    // Bounded: without the read timeout each attempt would wait the whole-request limit
    // (300 s). A generous bound, far from both: not a measurement.
    ensure!(
        started.elapsed() < Duration::from_secs(120),
        "the stalled reads were not cut by the read timeout ({:?}):\n{out}",
        started.elapsed()
    );
    ensure!(out.code == 5, "expected exit 5:\n{out}");
    ensure!(
        out.stderr.contains("did not answer after 4 attempts") && go.proxy_named(&out),
        "the message does not name the registry:\n{out}"
    );
    ensure!(
        out.stderr
            .matches("the answer stalled after 10 bytes")
            .count()
            >= 3
            && out.stderr.matches("retrying in").count() == 3,
        "the stalled attempts are not logged as read timeouts:\n{out}"
    );
    ensure!(go.proxy.faults_served() == 4, "{:?}", go.proxy.seen());
    let sdk = state_json(&go.root, "ameide-sdk-go")?;
    ensure!(
        sdk["publish"] == publish_before && sdk["version"] == version.as_str(),
        "the smoke changed what was published: {sdk}"
    );

    go.proxy.clear();
    let again = go.run(&["smoke", "go"], None, &[("PKGRUN_HTTP_READ_TIMEOUT", "1")])?;
    ensure!(again.code == 0, "re-run after the fault cleared:\n{again}");
    Ok(())
}

#[test]
fn go_an_upload_whose_answer_stalls_exits_5_keeps_the_state_and_a_rerun_completes() -> Result<()> {
    let go = Go::published()?;
    let before = state_files(&go.root)?;
    // The registry gets (and stores) every upload; its answer stalls after the headers.
    go.proxy
        .add(Rule::new(Fault::StallMidBody { after: 1 }).method("POST"));

    let env = [("PKGRUN_HTTP_READ_TIMEOUT", "1")];
    let out = go.run(&["publish", "go"], Some(OTHER_SHA), &env)?;
    ensure!(out.code == 5, "expected exit 5:\n{out}");
    ensure!(
        out.stderr.contains("did not answer after 4 attempts")
            && out.stderr.contains("read timeout")
            && go.proxy_named(&out),
        "{out}"
    );
    ensure!(
        go.proxy.faults_served() == 4,
        "the upload is retried like a read (4 attempts, each stalled): {:?}",
        go.proxy.seen()
    );
    ensure!(state_files(&go.root)? == before, "state changed:\n{out}");

    go.proxy.clear();
    let again = go.run(&["run", "go"], Some(OTHER_SHA), &env)?;
    ensure!(again.code == 0, "re-run after the fault cleared:\n{again}");
    ensure!(
        state_files(&go.root)? != before,
        "the re-run wrote no state"
    );
    Ok(())
}

// ------------------------------------------------------------------ connect timeout

/// A REAL loopback listener that never accepts, with a backlog of 0 and its one queue
/// slot taken: the kernel drops further SYNs, so a `connect()` hangs until its timeout.
struct BlackHole {
    listener: TcpListener,
    _queued: TcpStream,
}

impl BlackHole {
    fn start() -> Result<BlackHole> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(0)?)?;
        let queued = TcpStream::connect(listener.local_addr()?)?;
        let hole = BlackHole {
            listener,
            _queued: queued,
        };
        // Prove the trick on this kernel: one more connection must not complete.
        let probe =
            TcpStream::connect_timeout(&hole.listener.local_addr()?, Duration::from_millis(500));
        match probe {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(hole),
            other => bail!("a full accept queue did not make connect() hang: {other:?}"),
        }
    }

    fn url(&self) -> Result<String> {
        Ok(format!("http://{}", self.listener.local_addr()?))
    }
}

#[test]
fn go_a_registry_that_accepts_no_connection_exits_5_after_bounded_connect_attempts() -> Result<()> {
    let hole = BlackHole::start()?;
    let url = hole.url()?;
    let (_tmp, root) = example_copy_offline()?;
    let mut cmd = pkgrun_with_go_env(&root, &url, "connect-timeout-token");
    cmd.args(["publish", "go"])
        .env("PKGRUN_HTTP_CONNECT_TIMEOUT", "1");
    let out = Run::from(cmd.output().context("run pkgrun")?);
    ensure!(out.code == 5, "expected exit 5:\n{out}");
    let port = url.rsplit(':').next().unwrap_or_default();
    ensure!(
        out.stderr.contains("did not answer after 4 attempts")
            && out.stderr.contains(&format!("127.0.0.1:{port}")),
        "the message does not name the registry:\n{out}"
    );
    ensure!(
        out.stderr
            .matches("no connection within 1.0s (connect timeout)")
            .count()
            >= 3
            && out.stderr.matches("retrying in").count() == 3,
        "the attempts are not logged as connect timeouts:\n{out}"
    );
    ensure!(
        !root.join("tmp/tilt-packages").exists()
            || std::fs::read_dir(root.join("tmp/tilt-packages"))?
                .next()
                .is_none(),
        "state was written for an unreachable registry"
    );
    Ok(())
}

// ------------------------------------------------------------------ SIGINT / SIGTERM

/// Live processes whose environment has `TMPDIR=<dir>`: pkgrun and every descendant it
/// started (children get TMPDIR through the allow-list), wherever they were reparented.
fn processes_with_tmpdir(dir: &Path) -> Vec<String> {
    let needle = format!("TMPDIR={}", dir.display()).into_bytes();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|&b| b == 0)
            .any(|var| var == needle.as_slice())
        {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

/// Everything left in `dir`, recursively.
fn files_in(dir: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            left.push(path.display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    left
}

/// Polls `ready` (every 100 ms, at most `limit`): the point the test waits for.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !ready() {
        ensure!(start.elapsed() < limit, "never reached: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// `cmd` (a `pkgrun` command) started in the background with a private, empty TMPDIR
/// under `scratch`; `pause` is waited for, then `signal` is sent. Returns the run and the
/// TMPDIR. `secret` must not appear in the output.
fn interrupted(
    mut cmd: Command,
    scratch: &Path,
    secret: &str,
    signal: nix::sys::signal::Signal,
    pause: impl FnMut() -> bool,
) -> Result<(Run, PathBuf)> {
    let private = scratch.join(format!("tmpdir-{}", signal.as_str()));
    std::fs::create_dir_all(&private)?;
    let log = scratch.join(format!("pkgrun-{}.stderr", signal.as_str()));
    cmd.env("TMPDIR", &private)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?);
    let mut child = cmd.spawn().context("start pkgrun")?;
    let paused = wait_until("the pause point", Duration::from_secs(180), pause);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    if let Err(e) = paused {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
        bail!("{e}\n--- stderr\n{}", std::fs::read_to_string(&log)?);
    }
    nix::sys::signal::kill(pid, signal)?;
    let output = child.wait_with_output()?;
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: std::fs::read_to_string(&log)?,
    };
    ensure!(
        !run.stderr.contains(secret),
        "the secret was printed:\n{run}"
    );
    Ok((run, private))
}

/// What every interrupted run must leave: nothing in its TMPDIR, no process of its own.
fn nothing_left(run: &Run, private: &Path) -> Result<()> {
    // A killed child is reaped by the kernel's reparenting, not at once: give it a moment.
    let mut left = processes_with_tmpdir(private);
    for _ in 0..20 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = processes_with_tmpdir(private);
    }
    ensure!(left.is_empty(), "processes left running: {left:?}\n{run}");
    let files = files_in(private);
    ensure!(files.is_empty(), "files left in TMPDIR: {files:?}\n{run}");
    Ok(())
}

/// How every interrupted run must end: the conventional exit code, the signal logged,
/// nothing left behind, the previous state files byte for byte.
fn ended_by_signal(
    signal: &str,
    out: &Run,
    private: &Path,
    root: &Path,
    before: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    let code = if signal == "SIGINT" { 130 } else { 143 };
    ensure!(
        out.code == code,
        "expected exit {code} (128 + {signal}):\n{out}"
    );
    ensure!(out.stderr.contains(&format!("{signal} received")), "{out}");
    nothing_left(out, private)?;
    ensure!(&state_files(root)? == before, "state changed:\n{out}");
    Ok(())
}

#[test]
fn go_sigterm_mid_upload_exits_143_leaves_no_temp_file_and_keeps_the_state() -> Result<()> {
    let go = Go::published()?;
    let before = state_files(&go.root)?;
    // The upload waits in the proxy (the registry has not seen it yet) while pkgrun is
    // signalled.
    go.proxy.add(
        Rule::new(Fault::Delay(Duration::from_secs(120)))
            .method("POST")
            .times(1),
    );
    let (out, private) = interrupted(
        go.command(&["run", "go"], Some(OTHER_SHA), &[]),
        go.tmp.path(),
        go.registry.token(),
        nix::sys::signal::Signal::SIGTERM,
        // The first publish's uploads passed untouched: wait for the held one.
        || go.proxy.faults_served() >= 1,
    )?;
    ended_by_signal("SIGTERM", &out, &private, &go.root, &before)?;
    ensure!(
        out.stderr.contains("1 temporary directory removed"),
        "{out}"
    );

    go.proxy.clear();
    let again = go.run(&["run", "go"], Some(OTHER_SHA), &[])?;
    ensure!(again.code == 0, "re-run after the signal:\n{again}");
    Ok(())
}

#[test]
fn go_sigint_while_a_consumer_go_command_runs_stops_it_and_exits_130() -> Result<()> {
    let go = Go::published()?;
    let before = state_files(&go.root)?;
    let version = state_json(&go.root, "ameide-sdk-go")?["version"]
        .as_str()
        .context("version")?
        .to_string();
    // pkgrun's protocol check reads the SDK's go.mod once; the next read of it is the
    // consumer check's go command, which stalls on it: a child is running.
    let go_mod = format!("ameide-sdk-go/@v/{version}.mod");
    go.proxy.add(
        Rule::new(Fault::StallMidBody { after: 1 })
            .method("GET")
            .path_ends_with(&go_mod)
            .skip(1),
    );
    let (out, private) = interrupted(
        go.command(&["smoke", "go"], None, &[]),
        go.tmp.path(),
        go.registry.token(),
        nix::sys::signal::Signal::SIGINT,
        || go.proxy.count("GET", &go_mod) >= 2,
    )?;
    ended_by_signal("SIGINT", &out, &private, &go.root, &before)?;
    ensure!(
        out.stderr.contains("stopped: 1 child process group"),
        "the go command was not stopped by pkgrun:\n{out}"
    );

    go.proxy.clear();
    let again = go.run(&["smoke", "go"], None, &[])?;
    ensure!(again.code == 0, "re-run after the signal:\n{again}");
    Ok(())
}

/// Python: the same SIGTERM mid-upload with the REAL devpi behind the FAKE proxy (the
/// build, `uv build`, ran before the upload and its files must be gone too).
#[test]
fn python_sigterm_mid_upload_exits_143_leaves_no_temp_file_and_keeps_the_state() -> Result<()> {
    let devpi = Devpi::start()?;
    let proxy = FaultProxy::start(&devpi.url())?;
    let (tmp, root) = example_copy_offline()?;
    let command = |sha: &str| {
        let via = |u: String| u.replace(&devpi.url(), &proxy.url());
        let mut cmd = pkgrun_with_python_env(&root, &devpi, sha);
        cmd.env("AMEIDE_PYPI_REPOSITORY_URL", via(devpi.upload_url()))
            .env("PIP_INDEX_URL", via(devpi.simple_url()))
            .args(["run", "python"]);
        cmd
    };
    let first = Run::from(command(PY_SHA).output()?);
    ensure!(first.code == 0, "run without faults:\n{first}");
    let before = state_files(&root)?;
    proxy.add(
        Rule::new(Fault::Delay(Duration::from_secs(120)))
            .method("POST")
            .times(1),
    );
    let (out, private) = interrupted(
        command(OTHER_SHA),
        tmp.path(),
        devpi.password(),
        nix::sys::signal::Signal::SIGTERM,
        || proxy.faults_served() >= 1,
    )?;
    ended_by_signal("SIGTERM", &out, &private, &root, &before)?;
    ensure!(
        out.stderr.contains("1 temporary directory removed"),
        "{out}"
    );

    proxy.clear();
    let again = Run::from(command(OTHER_SHA).output()?);
    ensure!(again.code == 0, "re-run after the signal:\n{again}");
    Ok(())
}
