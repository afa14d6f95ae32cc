//! Child processes that never outlive a test, and small waiting helpers.

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound once and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// A child process started in its own process group. Dropping the guard (or [`ChildGuard::stop`])
/// sends SIGTERM to the whole group, waits briefly, then SIGKILLs it, so servers with worker
/// processes (Verdaccio, devpi) do not leak past a failed test.
pub struct ChildGuard {
    name: String,
    child: Child,
    log: Option<PathBuf>,
    stopped: bool,
}

impl ChildGuard {
    /// Spawns `cmd` in a new process group; stdio is left as configured on `cmd`.
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Self> {
        let child = cmd.process_group(0).spawn()?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: None,
            stopped: false,
        })
    }

    /// Spawns `cmd` with stdout and stderr appended to `log` (read it with [`ChildGuard::log`]).
    pub fn spawn_logged(name: &str, cmd: &mut Command, log: &Path) -> io::Result<Self> {
        let out = File::options().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let mut guard = Self::spawn(name, cmd)?;
        guard.log = Some(log.to_owned());
        Ok(guard)
    }

    /// The child's piped standard input, if it was piped and not taken yet.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// The child's piped standard output, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit and returns its status (the group is not signalled).
    pub fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        let status = self.child.wait()?;
        self.stopped = true;
        Ok(status)
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The captured output so far (empty when not started with [`ChildGuard::spawn_logged`]).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Stops the process group: SIGTERM, up to 5 s grace, then SIGKILL. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pgid = Pid::from_raw(self.child.id() as i32);
        // Errors mean the group is already gone, which is the goal.
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Also reaches grandchildren that ignored SIGTERM after the leader exited.
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Waits until `url` answers 2xx, failing early (with the log) if the process exits.
    pub fn wait_http_ok(&mut self, url: &str, timeout: Duration) -> Result<()> {
        let client = loopback_client(Duration::from_secs(5));
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                bail!(
                    "{} exited before {url} was ready; its output:\n{}",
                    self.name,
                    self.log()
                );
            }
            if matches!(client.get(url).send(), Ok(r) if r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not answer {url} within {timeout:?}; its output:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `url` until it answers with a 2xx status, or fails after `timeout`.
pub fn wait_http_ok(url: &str, timeout: Duration) -> Result<()> {
    let client = loopback_client(Duration::from_secs(5));
    let deadline = Instant::now() + timeout;
    loop {
        let last = match client.get(url).send() {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("status {}", r.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            bail!("{url} not ready within {timeout:?} (last: {last})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `start` up to three times while it fails because its port was taken in the meantime
/// ([`free_port`] releases the port before the server binds it, so parallel tests can race).
pub(crate) fn retry_port_race<T>(mut start: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match start() {
            Err(e)
                if attempt < 3 && {
                    let msg = format!("{e:#}");
                    msg.contains("EADDRINUSE") || msg.contains("Address already in use")
                } =>
            {
                continue
            }
            other => return other,
        }
    }
}

/// An HTTP client for loopback servers: never goes through an environment proxy.
pub(crate) fn loopback_client(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("build an HTTP client")
}

/// A finished command's exit code (-1 when killed by a signal) and output as text; its
/// `Display` shows all three, for assertion messages.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion and returns its output, whatever the exit status.
pub fn output(cmd: &mut Command) -> Result<std::process::Output> {
    cmd.output().with_context(|| format!("spawn {cmd:?}"))
}

/// Runs `cmd` to completion and returns its stdout, failing with all of its output
/// (and the command line) when it does not exit 0.
pub fn ok(cmd: &mut Command) -> Result<String> {
    let label = format!("{cmd:?}");
    run_ok(&label, cmd)
}

/// Runs `cmd` to completion, failing with its output when it does not exit 0.
pub(crate) fn run_ok(what: &str, cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("spawn {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: i32) -> bool {
        nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
    }

    #[test]
    fn stop_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The shell ignores SIGTERM and leaves a background grandchild behind.
        let script = format!(
            "trap '' TERM; sleep 300 & echo $! > {}; wait",
            pidfile.display()
        );
        let mut guard = ChildGuard::spawn("sh", Command::new("sh").args(["-c", &script])).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pidfile.exists() || std::fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
            assert!(Instant::now() < deadline, "grandchild never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let grandchild: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(grandchild));
        guard.stop();
        assert!(!guard.is_running());
        // The grandchild was re-parented, so it may linger as a zombie of init for a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(grandchild) && !is_zombie(grandchild) {
            assert!(
                Instant::now() < deadline,
                "grandchild {grandchild} survived the guard"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    }

    #[test]
    fn wait_http_ok_fails_when_nothing_listens() {
        let url = format!("http://127.0.0.1:{}/", free_port());
        assert!(wait_http_ok(&url, Duration::from_millis(300)).is_err());
    }
}
