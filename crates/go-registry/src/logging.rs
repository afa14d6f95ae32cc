//! The project's log line format for `tracing` events (README "Log format"; the line itself
//! is written by `pkgrun_core::log::format_line`, the formatter pkgrun's own lines use):
//!
//! ```text
//! [packages:go-registry] 2026-11-27T22:10:05Z info listening addr=127.0.0.1:5000
//! ```
//!
//! Scope in brackets, RFC 3339 UTC timestamp in whole seconds, the level word padded to four
//! characters (`INFO`/`DEBUG`/`TRACE` -> `info`, `WARN` -> `warn`, `ERROR` -> `fail`), then the
//! message and the event's other fields as `key=value`. Span context is not printed: request
//! spans would make every line long, and the fields that matter are put on the event itself.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The scope of every line this service prints.
pub const SCOPE: &str = "packages:go-registry";

/// A `FormatEvent` writing the project's line format with a fixed scope.
#[derive(Debug, Clone)]
pub struct LineFormat {
    scope: String,
}

impl LineFormat {
    /// A formatter writing `[<scope>]` at the start of each line.
    pub fn new(scope: impl Into<String>) -> Self {
        LineFormat {
            scope: scope.into(),
        }
    }
}

impl Default for LineFormat {
    fn default() -> Self {
        LineFormat::new(SCOPE)
    }
}

/// The project's level for a tracing level: `ERROR` is `fail`, `WARN` is `warn`, the
/// rest `info`.
fn project_level(level: &Level) -> pkgrun_core::log::Level {
    match *level {
        Level::ERROR => pkgrun_core::log::Level::Fail,
        Level::WARN => pkgrun_core::log::Level::Warn,
        _ => pkgrun_core::log::Level::Info,
    }
}

/// Collects the message and the other fields of an event.
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            push_field(&mut self.rest, field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message.push_str(&format!("{value:?}"));
        } else {
            push_field(&mut self.rest, field.name(), &format!("{value:?}"));
        }
    }
}

fn push_field(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    // Quote values with spaces so a line stays splittable on whitespace; `{:?}` also
    // escapes control characters (so callers pass client-sent values as they are).
    if value.is_empty() || value.contains(char::is_whitespace) || value.contains(char::is_control) {
        out.push_str(&format!("{value:?}"));
    } else {
        out.push_str(value);
    }
}

/// `text` with control characters (newlines, escape sequences, NUL, ...) written as
/// `\u{..}` escapes: module paths and versions come from clients, and must not forge
/// log lines or drive a terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One log line (without the trailing newline) at a given time.
pub fn format_line(
    scope: &str,
    now: time::OffsetDateTime,
    level: &Level,
    message: &str,
    fields: &str,
) -> String {
    // Child lines and multi-line messages must not break the one-line-per-event rule.
    let message = escape_controls(message);
    let line = pkgrun_core::log::format_line(
        scope,
        pkgrun_core::version::Timestamp::from_datetime(now),
        project_level(level),
        &format!("{message}{fields}"),
        false,
    );
    line.trim_end_matches('\n').to_string()
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut fields);
        let line = format_line(
            &self.scope,
            time::OffsetDateTime::now_utc(),
            event.metadata().level(),
            &fields.message,
            &fields.rest,
        );
        writeln!(writer, "{line}")
    }
}

/// Install the global subscriber: project line format on stderr, filtered by `filter`
/// (an `EnvFilter` directive such as `info` or `go_registry=debug,tower_http=debug`).
pub fn init(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(LineFormat::default())
        .try_init();
    install_panic_hook();
}

/// Report a panic as one `fail` line (where and what, no backtrace): the handler's
/// request is answered with a 500 by the router's panic guard.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown payload".to_string());
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic at {at}: {what}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_project_format() {
        let now = time::macros::datetime!(2026-11-27 22:10:05.734 UTC);
        assert_eq!(
            format_line(
                SCOPE,
                now,
                &Level::INFO,
                "listening",
                " addr=127.0.0.1:5000"
            ),
            "[packages:go-registry] 2026-11-27T22:10:05Z info listening addr=127.0.0.1:5000"
        );
        assert_eq!(
            format_line(SCOPE, now, &Level::WARN, "slow", ""),
            "[packages:go-registry] 2026-11-27T22:10:05Z warn slow"
        );
        assert_eq!(
            format_line(SCOPE, now, &Level::ERROR, "a\nb", ""),
            "[packages:go-registry] 2026-11-27T22:10:05Z fail a\\nb"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let now = time::macros::datetime!(2026-11-27 22:10:05 UTC);
        // A forged second line and a terminal escape sequence from a client-chosen path.
        let line = format_line(
            SCOPE,
            now,
            &Level::INFO,
            "rejected m\r\n[packages:go-registry] fake \u{1b}[31mred\u{0}",
            "",
        );
        assert!(!line.contains(|c: char| c.is_control()), "{line:?}");
        assert!(
            line.ends_with("rejected m\\r\\n[packages:go-registry] fake \\u{1b}[31mred\\u{0}"),
            "{line}"
        );
        let mut s = String::new();
        push_field(&mut s, "module", "m\u{1b}x");
        assert!(!s.contains('\u{1b}'), "{s:?}");
    }

    #[test]
    fn fields_with_spaces_are_quoted() {
        let mut s = String::new();
        push_field(&mut s, "reason", "two words");
        push_field(&mut s, "n", "3");
        assert_eq!(s, " reason=\"two words\" n=3");
    }
}
