//! The live per-language progress view of `publish`/`smoke`/`run` on a terminal
//! (README, `pkgrun run --progress`): one line per language with its spinner, elapsed time and current step.
//!
//! It sits *behind* the logger: the pipeline logs exactly as it does in plain mode, and
//! [`LiveWriter`] reads those standard lines (`[packages:<lang>-<phase>] <time> <level>
//! <message>`, a format fixed by golden tests) back to move each language's line. So
//! nothing in the adapters knows about terminals, and plain mode is the same code path
//! minus this writer. `warn` and `fail` lines, and lines of no language, are printed
//! above the live lines as they come; child-process output stays hidden as in plain mode.
//!
//! Live only when stderr is a terminal, `CI` is unset, output is not verbose, and
//! `--progress` is not `plain`; `--progress live` forces it (e.g. under `script`).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::ValueEnum;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pkgrun_core::log::Level;
use pkgrun_core::Lang;

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ProgressMode {
    /// Live on a terminal, plain elsewhere (CI set, not a TTY, verbose).
    #[default]
    Auto,
    /// Always the live view.
    Live,
    /// Always plain log lines.
    Plain,
}

/// Whether the live view is shown.
pub fn is_live(mode: ProgressMode, stderr_is_tty: bool, ci: bool, verbose: bool) -> bool {
    match mode {
        ProgressMode::Live => true,
        ProgressMode::Plain => false,
        ProgressMode::Auto => stderr_is_tty && !ci && !verbose,
    }
}

/// [`is_live`] for this process.
pub fn is_live_here(mode: ProgressMode, verbose: bool) -> bool {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    is_live(mode, std::io::stderr().is_terminal(), ci, verbose)
}

/// One live line per language.
pub struct LiveView {
    multi: MultiProgress,
    bars: BTreeMap<Lang, ProgressBar>,
}

impl LiveView {
    /// Lines for `langs` on stderr.
    pub fn stderr(langs: &[Lang]) -> Arc<Self> {
        Self::new(langs, ProgressDrawTarget::stderr())
    }

    pub fn new(langs: &[Lang], target: ProgressDrawTarget) -> Arc<Self> {
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template("{spinner} {prefix:<6} {elapsed:>4}  {wide_msg}")
            .expect("a valid template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
        let bars = langs
            .iter()
            .map(|&lang| {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(lang.as_str());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                (lang, bar)
            })
            .collect();
        Arc::new(LiveView { multi, bars })
    }

    /// A writer for the logger; each complete line it receives moves the view.
    pub fn writer(self: &Arc<Self>) -> LiveWriter {
        LiveWriter {
            view: Arc::clone(self),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// The current message of `lang`'s line (what a user sees after the spinner).
    pub fn message(&self, lang: Lang) -> Option<String> {
        self.bars.get(&lang).map(|b| b.message())
    }

    /// Ends `lang`'s line with its result.
    pub fn finish(&self, lang: Lang, result: &str) {
        if let Some(bar) = self.bars.get(&lang) {
            bar.finish_with_message(result.to_string());
        }
    }

    /// Replaces the live lines by one permanent line per language (its result and how
    /// long it took), so what follows on the terminal starts on a line of its own.
    pub fn close(&self) {
        let lines: Vec<String> = self
            .bars
            .iter()
            .map(|(lang, bar)| {
                format!(
                    "{:<6} {:>5.1}s  {}",
                    lang.as_str(),
                    bar.elapsed().as_secs_f64(),
                    bar.message()
                )
            })
            .collect();
        for bar in self.bars.values() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
        // Past indicatif: its last drawn line has no newline (the cursor waits there for
        // the next redraw), and nothing is redrawn after this.
        if !self.multi.is_hidden() {
            let mut stderr = std::io::stderr().lock();
            for line in lines {
                let _ = writeln!(stderr, "{line}");
            }
        }
    }

    fn line(&self, line: &str) {
        match parse_line(line) {
            Some(parsed) => self.apply(parsed, line),
            None => self.print(line),
        }
    }

    fn apply(&self, line: LogLine<'_>, raw: &str) {
        let bar = line.lang.and_then(|lang| self.bars.get(&lang));
        match (bar, line.level) {
            (Some(_), Level::Info) if line.message.starts_with("| ") => {}
            (Some(bar), Level::Warn | Level::Fail) => {
                self.print(raw);
                bar.set_message(format!("{}: {}", line.phase, line.message));
            }
            (Some(bar), _) => bar.set_message(format!("{}: {}", line.phase, line.message)),
            (None, _) => self.print(raw),
        }
    }

    fn print(&self, line: &str) {
        if self.multi.is_hidden() {
            return;
        }
        let _ = self.multi.println(line);
    }
}

/// The logger's sink in live mode. Log lines arrive whole; partial writes are kept until
/// their newline arrives.
pub struct LiveWriter {
    view: Arc<LiveView>,
    pending: Mutex<Vec<u8>>,
}

impl Write for LiveWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.extend_from_slice(buf);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            self.view
                .line(String::from_utf8_lossy(&line).trim_end_matches('\n'));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A standard log line taken apart.
#[derive(Debug, PartialEq, Eq)]
struct LogLine<'a> {
    /// From a `packages:<lang>-<phase>` scope; `None` for other scopes.
    lang: Option<Lang>,
    phase: &'a str,
    level: Level,
    message: &'a str,
}

/// `[scope] <time> <level> <message>` (no colour: the live view styles its own lines).
fn parse_line(line: &str) -> Option<LogLine<'_>> {
    let rest = line.strip_prefix('[')?;
    let (scope, rest) = rest.split_once("] ")?;
    let (_time, rest) = rest.split_once(' ')?;
    let (word, message) = rest.split_once(' ').unwrap_or((rest, ""));
    let level: Level = word.parse().ok()?;
    let (lang, phase) = scope
        .strip_prefix("packages:")
        .and_then(|s| s.split_once('-'))
        .and_then(|(lang, phase)| Some((lang.parse::<Lang>().ok()?, phase)))
        .map_or((None, scope), |(l, p)| (Some(l), p));
    Some(LogLine {
        lang,
        phase,
        level,
        message: message.trim_start(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgrun_core::log::Logger;

    #[test]
    fn live_only_on_a_terminal_outside_ci_and_not_verbose() {
        use ProgressMode::*;
        assert!(is_live(Auto, true, false, false));
        assert!(!is_live(Auto, false, false, false), "not a TTY");
        assert!(!is_live(Auto, true, true, false), "CI is set");
        assert!(
            !is_live(Auto, true, false, true),
            "verbose streams child output"
        );
        assert!(!is_live(Plain, true, false, false));
        assert!(is_live(Live, false, true, false));
    }

    #[test]
    fn the_standard_line_format_is_read_back() {
        let line = "[packages:go-publish] 2026-11-27T22:10:05Z step build ameide-sdk-go";
        assert_eq!(
            parse_line(line),
            Some(LogLine {
                lang: Some(Lang::Go),
                phase: "publish",
                level: Level::Step,
                message: "build ameide-sdk-go"
            })
        );
        let other = parse_line("[packages:pkgrun] 2026-11-27T22:10:05Z ok   done").unwrap();
        assert_eq!(
            (other.lang, other.level, other.message),
            (None, Level::Ok, "done")
        );
        assert_eq!(parse_line("plain text"), None);
    }

    #[test]
    fn each_language_line_follows_its_own_steps_and_hides_child_output() {
        let view = LiveView::new(&[Lang::Go, Lang::Ts], ProgressDrawTarget::hidden());
        let log = Logger::new("packages:pkgrun", view.writer());
        let go = log.scoped("packages:go-publish");
        let ts = log.scoped("packages:ts-smoke");
        assert_eq!(view.message(Lang::Go).as_deref(), Some("waiting"));
        let step = go.step("build example.com/acme/sdk");
        let _ts_step = ts.step("consumer check @acme/sdk-ts");
        assert_eq!(
            view.message(Lang::Go).as_deref(),
            Some("publish: build example.com/acme/sdk")
        );
        go.child_line("go: downloading something");
        assert_eq!(
            view.message(Lang::Go).as_deref(),
            Some("publish: build example.com/acme/sdk")
        );
        step.fail("exit 1");
        assert!(view
            .message(Lang::Go)
            .unwrap()
            .starts_with("publish: build example.com/acme/sdk (took"));
        assert_eq!(
            view.message(Lang::Ts).as_deref(),
            Some("smoke: consumer check @acme/sdk-ts")
        );
        view.finish(Lang::Go, "failed");
        assert_eq!(view.message(Lang::Go).as_deref(), Some("failed"));
    }

    #[test]
    fn partial_writes_wait_for_their_newline() {
        let view = LiveView::new(&[Lang::Python], ProgressDrawTarget::hidden());
        let mut w = view.writer();
        w.write_all(b"[packages:python-publish] 2026-11-27T22:10:05Z step upl")
            .unwrap();
        assert_eq!(view.message(Lang::Python).as_deref(), Some("waiting"));
        w.write_all(b"oad ameide-sdk\n").unwrap();
        assert_eq!(
            view.message(Lang::Python).as_deref(),
            Some("publish: upload ameide-sdk")
        );
    }
}
