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
pub mod progress;
pub mod report;
pub mod reports;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command, prints any error, and returns the exit code.
pub fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    let globals = cli.globals();
    let outcome = match commands::dispatch(cli.command, &globals) {
        Ok(outcome) => outcome,
        Err(err) => commands::Outcome::Status(report::print_error(&err, &globals)),
    };
    match outcome {
        commands::Outcome::Status(s) => s.into(),
        commands::Outcome::Code(code) => ExitCode::from(code),
    }
}
