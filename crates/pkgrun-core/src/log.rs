//! The log line format shared by pkgrun, its child steps, shell scripts and adapters.
//!
//! ```text
//! [<scope>] <timestamp> <level> <message>
//! [packages:go-publish] 2026-11-27T22:10:05Z step build ameide-sdk-go
//! [packages:go-publish] 2026-11-27T22:10:05Z info | go: downloading ...
//! [packages:go-publish] 2026-11-27T22:10:08Z ok   build ameide-sdk-go (took 3.2s)
//! [packages:go-publish] 2026-11-27T22:10:09Z fail upload (took 0.4s): exit status 1
//! ```
//!
//! * scope: `packages:<lang>-<phase>`, or what `--prefix`/`LOG_PREFIX` says
//!   ([`DEFAULT_SCOPE`] otherwise).
//! * timestamp: RFC 3339 UTC, whole seconds, `Z`.
//! * level: `step` `info` `ok` `warn` `fail`, padded with spaces to 4 characters.
//! * a step prints a start line and an `ok`/`fail` line with `(took N.Ns)`.
//! * child output lines are `info | <line>`.
//! * a message with several lines is printed as several log lines of the same level.
//! * colour (ANSI) wraps only the level word, only when asked for, never with `NO_COLOR`.
//!
//! Everything goes to one writer (stderr in the binary); each line is written with a
//! single `write_all` under a lock so lines from threads never interleave. Write
//! errors are ignored: logging must never be the reason a step fails.

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::version::Timestamp;

/// Scope used when neither `--prefix` nor `LOG_PREFIX` is given.
pub const DEFAULT_SCOPE: &str = "packages:pkgrun";

/// A log level word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Step,
    Info,
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Step,
        Level::Info,
        Level::Ok,
        Level::Warn,
        Level::Fail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Step => "step",
            Level::Info => "info",
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }

    fn ansi(self) -> &'static str {
        match self {
            Level::Step => "\x1b[36m",
            Level::Info => "\x1b[34m",
            Level::Ok => "\x1b[32m",
            Level::Warn => "\x1b[33m",
            Level::Fail => "\x1b[31m",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for [`Level::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{0}`: expected one of step, info, ok, warn, fail")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLevel(s.to_string()))
    }
}

/// Formats one log line, including the trailing newline.
pub fn format_line(scope: &str, at: Timestamp, level: Level, message: &str, color: bool) -> String {
    let word = level.as_str();
    let pad = " ".repeat(4 - word.len());
    let level = if color {
        format!("{}{word}\x1b[0m{pad}", level.ansi())
    } else {
        format!("{word}{pad}")
    };
    format!("[{scope}] {at} {level} {message}\n")
}

/// `took 3.2s`: seconds with one decimal.
pub fn format_took(d: Duration) -> String {
    format!("took {:.1}s", d.as_secs_f64())
}

/// Whether to colour: only when requested and `NO_COLOR` is unset or empty.
pub fn color_enabled(requested: bool, no_color: Option<&str>) -> bool {
    requested && no_color.is_none_or(str::is_empty)
}

/// Whether a `VERBOSE` value turns verbose output on (`1`, `true`, `yes`, `on`).
pub fn verbose_enabled(value: Option<&str>) -> bool {
    matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "yes" | "on")
    )
}

/// Where time comes from: wall time for the timestamp, monotonic time for durations.
pub trait Clock: Send + Sync {
    fn wall(&self) -> Timestamp;
    /// Monotonic time since an arbitrary origin.
    fn monotonic(&self) -> Duration;
}

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> Timestamp {
        Timestamp::now()
    }
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<(Timestamp, Duration)>>,
}

impl ManualClock {
    pub fn new(wall: Timestamp) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new((wall, Duration::ZERO))),
        }
    }

    /// Moves monotonic time forward (wall time follows in whole seconds).
    pub fn advance(&self, by: Duration) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.1 += by;
    }
}

impl Clock for ManualClock {
    fn wall(&self) -> Timestamp {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let secs = g.0.unix() + g.1.as_secs() as i64;
        Timestamp::from_unix(secs).unwrap_or(g.0)
    }
    fn monotonic(&self) -> Duration {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// An in-memory writer, cloneable, for capturing log output in tests.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes log lines for one scope. Cheap to clone; clones share the writer.
#[derive(Clone)]
pub struct Logger {
    scope: String,
    color: bool,
    verbose: bool,
    sink: Sink,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("scope", &self.scope)
            .field("color", &self.color)
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// A logger writing to `writer` with the system clock, no colour, not verbose.
    pub fn new(scope: impl Into<String>, writer: impl Write + Send + 'static) -> Self {
        Logger {
            scope: scope.into(),
            color: false,
            verbose: false,
            sink: Arc::new(Mutex::new(Box::new(writer))),
            clock: Arc::new(SystemClock::default()),
        }
    }

    /// A logger writing to stderr.
    pub fn stderr(scope: impl Into<String>) -> Self {
        Self::new(scope, std::io::stderr())
    }

    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same writer, colour, verbosity and clock under another scope
    /// (e.g. `packages:go-publish` then `packages:go-smoke`).
    pub fn scoped(&self, scope: impl Into<String>) -> Logger {
        Logger {
            scope: scope.into(),
            ..self.clone()
        }
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Writes one line per line of `message` at `level`.
    pub fn log(&self, level: Level, message: &str) {
        let at = self.clock.wall();
        let mut text = String::new();
        let mut lines = message.lines().peekable();
        if lines.peek().is_none() {
            text.push_str(&format_line(&self.scope, at, level, "", self.color));
        }
        for line in lines {
            text.push_str(&format_line(
                &self.scope,
                at,
                level,
                line.trim_end_matches('\r'),
                self.color,
            ));
        }
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let _ = sink.write_all(text.as_bytes());
        let _ = sink.flush();
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    pub fn ok(&self, message: &str) {
        self.log(Level::Ok, message);
    }

    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }

    pub fn fail(&self, message: &str) {
        self.log(Level::Fail, message);
    }

    /// A child process's output line: `info | <line>`.
    pub fn child_line(&self, line: &str) {
        self.log(Level::Info, &format!("| {line}"));
    }

    /// Prints `step <name>` and returns the running step.
    pub fn step(&self, name: impl Into<String>) -> Step {
        let name = name.into();
        self.log(Level::Step, &name);
        Step {
            logger: self.clone(),
            name,
            started: self.clock.monotonic(),
        }
    }

    /// Runs `f` as a step: `ok` with its duration on `Ok`, `fail … : <error>` on `Err`.
    pub fn run_step<T, E: fmt::Display>(
        &self,
        name: impl Into<String>,
        f: impl FnOnce() -> Result<T, E>,
    ) -> (Result<T, E>, Duration) {
        let step = self.step(name);
        let result = f();
        let took = match &result {
            Ok(_) => step.ok(),
            Err(e) => step.fail(&e.to_string()),
        };
        (result, took)
    }
}

/// A started step; finish it with [`Step::ok`] or [`Step::fail`].
#[derive(Debug)]
#[must_use = "a step must be finished with ok() or fail()"]
pub struct Step {
    logger: Logger,
    name: String,
    started: Duration,
}

impl Step {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn elapsed(&self) -> Duration {
        self.logger.clock.monotonic().saturating_sub(self.started)
    }

    /// Prints `ok   <name> (took N.Ns)` and returns the duration.
    pub fn ok(self) -> Duration {
        let took = self.elapsed();
        self.logger
            .log(Level::Ok, &format!("{} ({})", self.name, format_took(took)));
        took
    }

    /// Prints `fail <name> (took N.Ns): <reason>` and returns the duration.
    pub fn fail(self, reason: &str) -> Duration {
        let took = self.elapsed();
        self.logger.log(
            Level::Fail,
            &format!("{} ({}): {reason}", self.name, format_took(took)),
        );
        took
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_unix(1_795_817_405).unwrap()
    }

    fn logger() -> (Logger, Capture, ManualClock) {
        let cap = Capture::new();
        let clock = ManualClock::new(at());
        let log =
            Logger::new("packages:go-publish", cap.clone()).with_clock(Arc::new(clock.clone()));
        (log, cap, clock)
    }

    #[test]
    fn golden_lines() {
        let (log, cap, clock) = logger();
        let step = log.step("build ameide-sdk-go");
        log.child_line("go: downloading ...");
        clock.advance(Duration::from_millis(3_249));
        assert_eq!(step.ok(), Duration::from_millis(3_249));
        log.warn("token file is world-readable");
        let failed = log.step("upload");
        clock.advance(Duration::from_millis(800));
        failed.fail("exit status 1");
        log.info("two\nlines");
        assert_eq!(
            cap.contents(),
            "[packages:go-publish] 2026-11-27T22:10:05Z step build ameide-sdk-go\n\
             [packages:go-publish] 2026-11-27T22:10:05Z info | go: downloading ...\n\
             [packages:go-publish] 2026-11-27T22:10:08Z ok   build ameide-sdk-go (took 3.2s)\n\
             [packages:go-publish] 2026-11-27T22:10:08Z warn token file is world-readable\n\
             [packages:go-publish] 2026-11-27T22:10:08Z step upload\n\
             [packages:go-publish] 2026-11-27T22:10:09Z fail upload (took 0.8s): exit status 1\n\
             [packages:go-publish] 2026-11-27T22:10:09Z info two\n\
             [packages:go-publish] 2026-11-27T22:10:09Z info lines\n"
        );
    }

    #[test]
    fn color_wraps_only_the_level_word() {
        assert_eq!(
            format_line("s", at(), Level::Ok, "m", true),
            "[s] 2026-11-27T22:10:05Z \x1b[32mok\x1b[0m   m\n"
        );
        assert_eq!(
            format_line("s", at(), Level::Ok, "m", false),
            "[s] 2026-11-27T22:10:05Z ok   m\n"
        );
    }

    #[test]
    fn no_color_wins() {
        assert!(color_enabled(true, None));
        assert!(color_enabled(true, Some("")));
        assert!(!color_enabled(true, Some("1")));
        assert!(!color_enabled(false, None));
    }

    #[test]
    fn verbose_values() {
        assert!(verbose_enabled(Some("1")));
        assert!(verbose_enabled(Some("true")));
        assert!(!verbose_enabled(Some("0")));
        assert!(!verbose_enabled(None));
    }

    #[test]
    fn run_step_reports_errors() {
        let (log, cap, _) = logger();
        let (r, _) = log.run_step("parse", || Err::<(), _>("bad input"));
        assert!(r.is_err());
        assert!(
            cap.contents()
                .ends_with("fail parse (took 0.0s): bad input\n"),
            "{}",
            cap.contents()
        );
    }

    #[test]
    fn levels_parse() {
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
        }
        assert!("error".parse::<Level>().is_err());
    }
}
