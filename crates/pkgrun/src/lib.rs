//! The `pkgrun` command line: argument parsing ([`cli`]), one module per verb
//! ([`commands`]), the live progress view on a terminal ([`progress`]), and turning errors into `error:`/`Caused by:`/`hint:` output and
//! the exit codes of the contract ([`report`]).
//!
//! Output rules: data (tables, JSON, versions, env lines) goes to stdout; log lines
//! and errors go to stderr.

// This crate is the one place that prints to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod commands;
pub mod images;
pub mod progress;
pub mod report;
pub mod reports;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command, prints any error, and returns the exit code.
pub fn run() -> ExitCode {
    install_panic_hook();
    let cli = cli::Cli::parse();
    let globals = cli.globals();
    if let Err(e) = install_signal_handler(&globals) {
        let err = anyhow::anyhow!("cannot install the SIGINT/SIGTERM handler: {e}");
        return report::print_error(&err, &globals).into();
    }
    let outcome = match commands::dispatch(cli.command, &globals) {
        Ok(outcome) => outcome,
        Err(err) => commands::Outcome::Status(report::print_error(&err, &globals)),
    };
    match outcome {
        commands::Outcome::Status(s) => s.into(),
        commands::Outcome::Code(code) => ExitCode::from(code),
    }
}

/// On SIGINT or SIGTERM: stop the children, remove the temporary directories, leave the
/// state files as they are (see `pkgrun_core::shutdown`), and exit 130 or 143 (128 + the
/// signal), as a shell reports a command a signal ended.
fn install_signal_handler(globals: &cli::Globals) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let log = commands::logger(globals);
    std::thread::Builder::new()
        .name("pkgrun-signals".into())
        .spawn(move || {
            let Some(signal) = signals.forever().next() else {
                return;
            };
            let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            log.warn(&format!(
                "{name} received: stopping child processes and removing temporary files (state files are left as they were)"
            ));
            let stopped = pkgrun_core::shutdown::stop();
            log.warn(&format!(
                "stopped: {} child process group(s) ({} killed after {}s), {} temporary director{} removed",
                stopped.groups,
                stopped.killed,
                pkgrun_core::shutdown::CHILD_GRACE.as_secs(),
                stopped.removed,
                if stopped.removed == 1 { "y" } else { "ies" }
            ));
            for left in &stopped.left {
                log.fail(&format!("could not remove {left}"));
            }
            std::process::exit(128 + signal)
        })?;
    Ok(())
}

/// A panic is a bug: exit 1, as the contract says, with one `error:` message, whatever
/// the profile's panic strategy (the release profile aborts, which would end the process
/// with SIGABRT; the dev profile unwinds to exit 101). The hook runs before either, in
/// whichever thread panicked, and ends the whole process.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write as _;
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        let _ = write!(
            std::io::stderr().lock(),
            "error: pkgrun hit a bug: {message}{location}{backtrace}\nhint: please report it with the command line and this output (RUST_BACKTRACE=1 adds a backtrace)\n"
        );
        std::process::exit(i32::from(pkgrun_core::ExitStatus::Bug.code()))
    }));
}
