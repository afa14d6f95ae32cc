//! Running a child process as a named, logged step.
//!
//! [`run_step`] prints `step <name>`, runs the command with stdin closed, captures
//! stdout and stderr line by line in arrival order (two reader threads feeding one
//! channel), and finishes with `ok <name> (took …)` or `fail <name> (took …): <reason>`
//! where the reason is `exit status N`, `killed by signal N` or `timed out after Ns`.
//! Output lines are hidden unless the logger is verbose (then streamed live as
//! `info | <line>`); when the step fails and they were hidden, all captured lines are
//! printed before the `fail` line.
//!
//! Secrets go to the child through its environment ([`StepCommand::env_secret`]),
//! never its arguments: arguments are shown in errors, environment values are not.
//! Children run third-party code (build backends, install scripts, the published package
//! itself), so each starts from an empty environment plus an allow-list of pkgrun's
//! variables ([`crate::child_env`]: the base every program needs and the tool's own
//! configuration); no credential of the environment contract, of any language
//! ([`credential_vars`]), is ever inherited: the one step that needs one is given it with
//! `env_secret`. `pkgrun step` wraps the user's own command and inherits the whole
//! environment ([`StepCommand::inherit_whole_env`]).
//!
//! By default stdout and stderr are separate pipes (callers can read stdout alone); the
//! order of lines *between* the two is then only as exact as thread scheduling. With
//! [`StepCommand::merge_output`] both go to one pipe, like `2>&1`, and lines keep the
//! exact order the child wrote them (`pkgrun step` does this).
//!
//! Every child leads its own process group, registered with [`crate::shutdown`] while it
//! runs: a timeout kills the whole group, and a SIGINT/SIGTERM to pkgrun is forwarded to
//! it (as SIGINT, then SIGKILL after a grace) before pkgrun exits. If a child
//! leaves a background process holding its output pipes open, pkgrun stops reading
//! [`PIPE_GRACE`] after the child itself exited.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::child_env::{self, Tool};
use crate::log::Logger;
use crate::secret::Secret;
use crate::shutdown;

/// How long to keep reading output after the child exited, for pipes still held open
/// by background processes it started.
pub const PIPE_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone)]
enum EnvValue {
    Plain(OsString),
    Secret(Secret),
}

/// A command to run as a step. Built like `std::process::Command`.
#[derive(Clone)]
pub struct StepCommand {
    name: String,
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, EnvValue)>,
    env_remove: Vec<OsString>,
    env_clear: bool,
    inherit_whole_env: bool,
    tool: Option<Tool>,
    cwd: Option<PathBuf>,
    timeout: Option<Duration>,
    merge_output: bool,
    echo_on_failure: bool,
}

/// The names among `names` that hold a credential of the environment contract of any
/// language: each secret variable (`GO_REGISTRY_TOKEN`, `NPM_AUTH_TOKEN`) and, for a
/// prefixed one, `<PREFIX>_<NAME>` with any prefix (`AMEIDE_PYPI_PASSWORD`).
pub fn credential_vars<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    use crate::ecosystem::EnvKind;
    let secrets: Vec<_> = crate::Lang::ALL
        .iter()
        .flat_map(|lang| lang.ecosystem().env_vars())
        .filter(|var| var.kind == EnvKind::Secret)
        .collect();
    names
        .into_iter()
        .filter(|name| {
            secrets.iter().any(|var| {
                if var.prefixed {
                    name.len() > var.name.len() + 1
                        && name.ends_with(var.name)
                        && name[..name.len() - var.name.len()].ends_with('_')
                } else {
                    *name == var.name
                }
            })
        })
        .collect()
}

impl fmt::Debug for StepCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<String> = self
            .envs
            .iter()
            .map(|(k, v)| match v {
                EnvValue::Plain(v) => format!("{}={}", k.to_string_lossy(), v.to_string_lossy()),
                EnvValue::Secret(_) => format!("{}=[redacted]", k.to_string_lossy()),
            })
            .collect();
        f.debug_struct("StepCommand")
            .field("name", &self.name)
            .field("command", &self.display_command())
            .field("env", &env)
            .field("cwd", &self.cwd)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl StepCommand {
    /// A step called `name` running `program`.
    /// The child inherits the allow-list of [`crate::child_env`] for the tool `program`
    /// is (from its file name), see [`StepCommand::tool_env`].
    pub fn new(name: impl Into<String>, program: impl AsRef<OsStr>) -> Self {
        StepCommand {
            name: name.into(),
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            envs: Vec::new(),
            env_remove: Vec::new(),
            env_clear: false,
            inherit_whole_env: false,
            tool: Tool::of_program(std::path::Path::new(program.as_ref())),
            cwd: None,
            timeout: None,
            merge_output: false,
            echo_on_failure: true,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((
            key.as_ref().to_os_string(),
            EnvValue::Plain(value.as_ref().to_os_string()),
        ));
        self
    }

    /// Passes a secret through the child's environment.
    pub fn env_secret(mut self, key: impl AsRef<OsStr>, value: &Secret) -> Self {
        self.envs
            .push((key.as_ref().to_os_string(), EnvValue::Secret(value.clone())));
        self
    }

    /// Lets the child inherit pkgrun's whole environment, the contract's credentials
    /// included (only for a command the user runs on purpose, as with `pkgrun step`).
    pub fn inherit_whole_env(mut self) -> Self {
        self.inherit_whole_env = true;
        self
    }

    /// Which tool's own configuration variables the child inherits (`None`: only the
    /// base list), when the program's file name does not say it.
    pub fn tool_env(mut self, tool: Option<Tool>) -> Self {
        self.tool = tool;
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env_remove.push(key.as_ref().to_os_string());
        self
    }

    /// Starts the child from an empty environment (plus what `env` adds).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends stderr into the same pipe as stdout so lines keep the exact order the
    /// child wrote them; every line is then reported as [`Stream::Stdout`].
    pub fn merge_output(mut self) -> Self {
        self.merge_output = true;
        self
    }

    /// Does not print the captured lines when the step fails: for a child whose output
    /// is machine-readable (`go mod download -json`) and that the caller turns into one
    /// message itself. `VERBOSE` still streams them.
    pub fn hide_output_on_failure(mut self) -> Self {
        self.echo_on_failure = false;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Program and arguments, shell-like; safe to print (no secrets are arguments).
    pub fn display_command(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| {
                let s = a.to_string_lossy();
                if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"')
                {
                    format!("'{}'", s.replace('\'', "'\\''"))
                } else {
                    s.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// [`StepCommand::command`] with output not merged (the caller sets stdout/stderr).
    fn command_without_merge(mut self) -> std::io::Result<(Command, Option<OwnedFd>)> {
        self.merge_output = false;
        self.command()
    }

    /// The command to spawn, and the read end of the shared pipe when output is merged.
    fn command(&self) -> std::io::Result<(Command, Option<OwnedFd>)> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).stdin(Stdio::null());
        let merged = if self.merge_output {
            // CLOEXEC so that only the child's fds 1 and 2 (set by dup2) keep the pipe
            // open, not copies leaked into this or other children.
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            cmd.stdout(Stdio::from(write.try_clone()?))
                .stderr(Stdio::from(write));
            Some(read)
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        };
        if self.env_clear || !self.inherit_whole_env {
            cmd.env_clear();
        }
        if !self.env_clear && !self.inherit_whole_env {
            for (key, value) in std::env::vars_os() {
                if key
                    .to_str()
                    .is_some_and(|k| child_env::inherits(k, self.tool))
                {
                    cmd.env(key, value);
                }
            }
        }
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        for (key, value) in &self.envs {
            match value {
                EnvValue::Plain(v) => cmd.env(key, v),
                EnvValue::Secret(s) => cmd.env(key, s.expose()),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        // Its own group, so that a timeout or pkgrun's shutdown stops everything it started.
        cmd.process_group(0);
        Ok((cmd, merged))
    }
}

/// Runs `cmd` with the same environment rules as [`run_step`], without logging and
/// with its output discarded: whether it exits 0 within its timeout (default 30 s). For
/// preflight probes such as "can this interpreter import `build`".
pub fn succeeds_quietly(cmd: &StepCommand) -> bool {
    let Ok((mut command, _)) = cmd.clone().command_without_merge() else {
        return false;
    };
    let Ok(mut child) = shutdown::spawn(command.stdout(Stdio::null()).stderr(Stdio::null())) else {
        return false;
    };
    let limit = cmd.timeout.unwrap_or(Duration::from_secs(30));
    let start = Instant::now();
    let succeeded = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
        }
    };
    shutdown::reaped(child.id());
    succeeded
}

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of child output, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
}

/// What a step printed, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub lines: Vec<Line>,
    pub duration: Duration,
}

impl Output {
    fn joined(&self, stream: Stream) -> String {
        self.lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| format!("{}\n", l.text))
            .collect()
    }

    /// The stdout lines, each followed by `\n`.
    pub fn stdout(&self) -> String {
        self.joined(Stream::Stdout)
    }

    /// The stderr lines, each followed by `\n`.
    pub fn stderr(&self) -> String {
        self.joined(Stream::Stderr)
    }
}

/// How a failed child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    Code(i32),
    Signal(i32),
    TimedOut(Duration),
}

impl ChildExit {
    /// A shell-like exit code: the code, `128 + N` for a signal, 124 for a timeout
    /// (as coreutils `timeout` does).
    pub fn shell_code(self) -> i32 {
        match self {
            ChildExit::Code(c) => c,
            ChildExit::Signal(n) => 128 + n,
            ChildExit::TimedOut(_) => 124,
        }
    }
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildExit::Code(c) => write!(f, "exit status {c}"),
            ChildExit::Signal(n) => write!(f, "killed by signal {n}"),
            ChildExit::TimedOut(d) => write!(f, "timed out after {:.1}s", d.as_secs_f64()),
        }
    }
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("step `{name}`: cannot start `{program}`")]
    Spawn {
        name: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("step `{name}` failed: {exit}")]
    Failed {
        name: String,
        exit: ChildExit,
        output: Output,
    },
    #[error("step `{name}`: waiting for the child failed")]
    Wait {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl ProcessError {
    /// The captured output, when the child ran.
    pub fn output(&self) -> Option<&Output> {
        match self {
            ProcessError::Failed { output, .. } => Some(output),
            _ => None,
        }
    }
}

enum Event {
    Line(Stream, String),
    Eof,
}

fn reader(stream: Stream, pipe: impl Read + Send + 'static, tx: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if tx.send(Event::Line(stream, text)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Event::Eof);
    });
}

/// Runs `cmd` as a step logged through `logger`. See the module docs.
pub fn run_step(logger: &Logger, cmd: &StepCommand) -> Result<Output, ProcessError> {
    let step = logger.step(&cmd.name);
    let start = Instant::now();
    // The `Command` (holding our copies of the pipe's write end) is dropped at the end
    // of this statement, so EOF arrives when the child and its descendants close theirs.
    let spawned = cmd.command().and_then(|(mut command, merged)| {
        shutdown::spawn(&mut command).map(|child| (child, merged))
    });
    let (mut child, merged) = match spawned {
        Ok(c) => c,
        Err(source) => {
            let program = cmd.program.to_string_lossy().into_owned();
            step.fail(&format!("cannot start `{program}`: {source}"));
            return Err(ProcessError::Spawn {
                name: cmd.name.clone(),
                program,
                source,
            });
        }
    };
    let (tx, rx) = mpsc::channel();
    let mut open_pipes = 0;
    if let Some(read) = merged {
        reader(Stream::Stdout, std::fs::File::from(read), tx);
        open_pipes += 1;
    } else {
        reader(
            Stream::Stdout,
            child.stdout.take().expect("piped"),
            tx.clone(),
        );
        reader(Stream::Stderr, child.stderr.take().expect("piped"), tx);
        open_pipes += 2;
    }

    let mut lines = Vec::new();
    let mut status = None;
    let mut exited_at: Option<Instant> = None;
    let mut timed_out = None;
    let tick = Duration::from_millis(50);
    loop {
        if open_pipes == 0 && status.is_some() {
            break;
        }
        if let Some(at) = exited_at {
            if at.elapsed() >= PIPE_GRACE {
                break;
            }
        }
        match rx.recv_timeout(tick) {
            Ok(Event::Line(stream, text)) => {
                if logger.is_verbose() {
                    logger.child_line(&text);
                }
                lines.push(Line { stream, text });
            }
            Ok(Event::Eof) => open_pipes -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => open_pipes = 0,
        }
        if status.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    exited_at = Some(Instant::now());
                }
                Ok(None) => {
                    if let Some(limit) = cmd.timeout {
                        if start.elapsed() >= limit && timed_out.is_none() {
                            timed_out = Some(limit);
                            // The child leads its own group (see `command`): kill it all.
                            let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                            if nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL)
                                .is_err()
                            {
                                let _ = child.kill();
                            }
                        }
                    }
                }
                Err(source) => {
                    step.fail(&format!("waiting for the child failed: {source}"));
                    return Err(ProcessError::Wait {
                        name: cmd.name.clone(),
                        source,
                    });
                }
            }
        }
    }
    let status = match status {
        Some(s) => s,
        None => child.wait().map_err(|source| ProcessError::Wait {
            name: cmd.name.clone(),
            source,
        })?,
    };
    shutdown::reaped(child.id());
    let output = Output {
        lines,
        duration: start.elapsed(),
    };
    let exit = match (timed_out, status.code(), status.signal()) {
        (Some(limit), _, _) => ChildExit::TimedOut(limit),
        (None, Some(0), _) => {
            step.ok();
            return Ok(output);
        }
        (None, Some(code), _) => ChildExit::Code(code),
        (None, None, Some(sig)) => ChildExit::Signal(sig),
        (None, None, None) => ChildExit::Code(-1),
    };
    if !logger.is_verbose() && cmd.echo_on_failure {
        for line in &output.lines {
            logger.child_line(&line.text);
        }
    }
    step.fail(&exit.to_string());
    Err(ProcessError::Failed {
        name: cmd.name.clone(),
        exit,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{Capture, ManualClock};
    use crate::version::Timestamp;
    use std::sync::Arc;

    fn logger(verbose: bool) -> (Logger, Capture) {
        let cap = Capture::new();
        let clock = ManualClock::new(Timestamp::from_unix(1_795_817_405).unwrap());
        let log = Logger::new("packages:test", cap.clone())
            .with_clock(Arc::new(clock))
            .with_verbose(verbose);
        (log, cap)
    }

    fn sh(name: &str, script: &str) -> StepCommand {
        StepCommand::new(name, "sh").arg("-c").arg(script)
    }

    const T: &str = "[packages:test] 2026-11-27T22:10:05Z";

    #[test]
    fn success_hides_output_and_returns_it() {
        let (log, cap) = logger(false);
        let out = run_step(
            &log,
            &sh(
                "hello",
                "echo one; echo two >&2; printf 'three\\r\\n'; printf last",
            ),
        )
        .unwrap();
        assert_eq!(out.stdout(), "one\nthree\nlast\n");
        assert_eq!(out.stderr(), "two\n");
        assert_eq!(
            cap.contents(),
            format!("{T} step hello\n{T} ok   hello (took 0.0s)\n")
        );
    }

    #[test]
    fn failure_prints_captured_lines_in_arrival_order_before_fail() {
        let (log, cap) = logger(false);
        let err = run_step(
            &log,
            &sh(
                "broken",
                "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; exit 3",
            ),
        )
        .unwrap_err();
        let ProcessError::Failed { exit, output, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*exit, ChildExit::Code(3));
        assert_eq!(output.lines.len(), 3);
        assert_eq!(
            cap.contents(),
            format!(
                "{T} step broken\n{T} info | out1\n{T} info | err1\n{T} info | out2\n{T} fail broken (took 0.0s): exit status 3\n"
            )
        );
    }

    #[test]
    fn merged_output_keeps_the_exact_write_order() {
        let (log, cap) = logger(false);
        let script = "echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2; exit 1";
        // Repeated: with two pipes this order is a race; with one pipe it is exact.
        for _ in 0..20 {
            let err = run_step(&log, &sh("i", script).merge_output()).unwrap_err();
            let texts: Vec<_> = err
                .output()
                .unwrap()
                .lines
                .iter()
                .map(|l| l.text.clone())
                .collect();
            assert_eq!(texts, ["out 1", "err 1", "out 2", "err 2"]);
        }
        assert!(cap
            .contents()
            .contains(&format!("info | out 1\n{T} info | err 1\n")));
        // A background process holding the pipe does not hang the step (PIPE_GRACE).
        let out = run_step(&log, &sh("bg", "sleep 5 & echo started").merge_output()).unwrap();
        assert_eq!(out.stdout(), "started\n");
    }

    #[test]
    fn hidden_output_is_returned_but_not_printed_on_failure() {
        let (log, cap) = logger(false);
        let err = run_step(
            &log,
            &sh("json", "echo '{'; echo '}'; exit 1").hide_output_on_failure(),
        )
        .unwrap_err();
        assert_eq!(err.output().unwrap().stdout(), "{\n}\n");
        assert_eq!(
            cap.contents(),
            format!("{T} step json\n{T} fail json (took 0.0s): exit status 1\n")
        );
    }

    #[test]
    fn verbose_streams_and_does_not_repeat_on_failure() {
        let (log, cap) = logger(true);
        run_step(&log, &sh("v", "echo a; exit 1")).unwrap_err();
        assert_eq!(
            cap.contents(),
            format!("{T} step v\n{T} info | a\n{T} fail v (took 0.0s): exit status 1\n")
        );
    }

    #[test]
    fn signal_and_spawn_failure() {
        let (log, cap) = logger(false);
        let err = run_step(&log, &sh("sig", "kill -TERM $$")).unwrap_err();
        assert!(
            matches!(
                err,
                ProcessError::Failed {
                    exit: ChildExit::Signal(15),
                    ..
                }
            ),
            "{err}"
        );
        assert!(cap
            .contents()
            .ends_with("fail sig (took 0.0s): killed by signal 15\n"));
        let err = run_step(&log, &StepCommand::new("nope", "/nonexistent/program")).unwrap_err();
        assert!(matches!(err, ProcessError::Spawn { .. }));
        assert!(cap
            .contents()
            .contains("fail nope (took 0.0s): cannot start `/nonexistent/program`"));
    }

    #[test]
    fn timeout_kills_the_group() {
        let (log, cap) = logger(false);
        let err = run_step(
            &log,
            &sh("slow", "echo started; sleep 30 & wait").timeout(Duration::from_millis(300)),
        )
        .unwrap_err();
        let ProcessError::Failed { exit, .. } = err else {
            panic!()
        };
        assert_eq!(exit, ChildExit::TimedOut(Duration::from_millis(300)));
        assert_eq!(exit.shell_code(), 124);
        assert!(cap.contents().contains("info | started"));
        assert!(cap.contents().contains("timed out after 0.3s"));
    }

    #[test]
    fn every_language_s_credentials_are_recognised_whatever_the_prefix() {
        let names = [
            "GO_REGISTRY_TOKEN",
            "NPM_AUTH_TOKEN",
            "AMEIDE_PYPI_PASSWORD",
            "ACME_PYPI_PASSWORD",
            "PYPI_PASSWORD",
            "_PYPI_PASSWORD",
            "GO_REGISTRY_URL",
            "PATH",
            "AMEIDE_PYPI_USERNAME",
        ];
        assert_eq!(
            credential_vars(names),
            [
                "GO_REGISTRY_TOKEN",
                "NPM_AUTH_TOKEN",
                "AMEIDE_PYPI_PASSWORD",
                "ACME_PYPI_PASSWORD"
            ]
        );
    }

    #[test]
    fn children_do_not_inherit_credentials_unless_given_or_allowed() {
        // A name no other test uses: only this test reads it.
        std::env::set_var("PKGRUNTEST_PYPI_PASSWORD", "inherited-9d2e");
        let (log, _) = logger(false);
        let show = "echo ${PKGRUNTEST_PYPI_PASSWORD:-absent}";
        let out = run_step(&log, &sh("plain", show)).unwrap();
        assert_eq!(out.lines[0].text, "absent");
        let given =
            sh("given", show).env_secret("PKGRUNTEST_PYPI_PASSWORD", &Secret::new("given-1"));
        assert_eq!(run_step(&log, &given).unwrap().lines[0].text, "given-1");
        let allowed = sh("allowed", show).inherit_whole_env();
        assert_eq!(
            run_step(&log, &allowed).unwrap().lines[0].text,
            "inherited-9d2e"
        );
    }

    #[test]
    fn children_get_only_the_allow_list_and_their_tool_s_variables() {
        // Names no other test uses: only this test reads them.
        std::env::set_var("PKGRUNTEST_UNLISTED", "unlisted-4b1a");
        std::env::set_var("npm_config_pkgruntest", "npm-setting-77c0");
        let (log, _) = logger(false);
        let show =
            "echo ${PKGRUNTEST_UNLISTED:-absent} ${npm_config_pkgruntest:-absent} ${PATH:+path}";
        let plain = run_step(&log, &sh("plain", show)).unwrap();
        assert_eq!(plain.lines[0].text, "absent absent path");
        let as_node = sh("node", show).tool_env(Some(Tool::Node));
        assert_eq!(
            run_step(&log, &as_node).unwrap().lines[0].text,
            "absent npm-setting-77c0 path"
        );
        let whole = sh("whole", show).inherit_whole_env();
        assert_eq!(
            run_step(&log, &whole).unwrap().lines[0].text,
            "unlisted-4b1a npm-setting-77c0 path"
        );
    }

    #[test]
    fn env_cwd_and_secrets() {
        let (log, _) = logger(false);
        let dir = tempfile::tempdir().unwrap();
        let cmd = sh("env", "pwd; echo \"$PLAIN $TOKEN\"")
            .env("PLAIN", "p")
            .env_secret("TOKEN", &Secret::new("s3cret"))
            .current_dir(dir.path());
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let out = run_step(&log, &cmd).unwrap();
        let lines: Vec<_> = out.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            lines[0],
            dir.path().canonicalize().unwrap().to_str().unwrap()
        );
        assert_eq!(lines[1], "p s3cret");
    }

    #[test]
    fn display_command_quotes() {
        let cmd = StepCommand::new("x", "echo").args(["a b", "c"]);
        assert_eq!(cmd.display_command(), "echo 'a b' c");
    }
}
