//! One module per verb; [`dispatch`] routes a parsed command to it.

pub mod config;
pub mod env;
pub mod health;
pub mod images;
pub mod layer;
pub mod log;
pub mod pipeline;
pub mod state;
pub mod state_push;
pub mod state_sync;
pub mod step;
pub mod version;

use anyhow::Result;
use pkgrun_core::log::Logger;
use pkgrun_core::{Config, ExitStatus, Lang};

use crate::cli::{Command, ConfigCommand, Globals, StateCommand};

/// How a command ended: a contract status, or (for `pkgrun step`) a child's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(ExitStatus),
    Code(u8),
}

impl Outcome {
    pub const SUCCESS: Outcome = Outcome::Status(ExitStatus::Success);
}

pub fn dispatch(command: Command, globals: &Globals) -> Result<Outcome> {
    match command {
        Command::Log(args) => log::run(args, globals),
        Command::Step(args) => step::run(args, globals),
        Command::Publish(args) => pipeline::run(pipeline::Phases::Publish, args, globals),
        Command::Smoke(args) => pipeline::run(pipeline::Phases::Smoke, args, globals),
        Command::Run(args) => pipeline::run(pipeline::Phases::Run, args, globals),
        Command::State(StateCommand::Show { json }) => state::show(json, globals),
        Command::State(StateCommand::Clean) => state::clean(globals),
        Command::State(StateCommand::Sync(args)) => state_sync::run(args, globals),
        Command::State(StateCommand::Push(args)) => state_push::run(args, globals),
        Command::Layer(args) => layer::run(args, globals),
        Command::Env(args) => env::run(args, globals),
        Command::Health(args) => health::run(args, globals),
        Command::Version(args) => version::run(args, globals),
        Command::Config(ConfigCommand::Check { env }) => config::check(env, globals),
        Command::Images(command) => images::run(command, globals),
    }
}

/// The config named by `--config`/`PKGRUN_CONFIG`, else the nearest `pkgrun.toml` upward,
/// with every language validated.
pub fn load_config(globals: &Globals) -> Result<Config> {
    load_config_for(globals, &[])
}

/// [`load_config`] for a command that acts on `langs` only (empty: all): sections of
/// other languages are not validated, so a runner image that holds only its own
/// language's packages can run (see [`Config::load_languages`]).
pub fn load_config_for(globals: &Globals, langs: &[Lang]) -> Result<Config> {
    let config = match &globals.config {
        Some(path) => Config::load_languages(path, langs)?,
        None => Config::discover_languages(&std::env::current_dir()?, langs)?,
    };
    Ok(config)
}

/// The logger for this invocation: stderr, with the global scope, colour and verbosity.
pub fn logger(globals: &Globals) -> Logger {
    Logger::stderr(globals.prefix.clone())
        .with_color(globals.color)
        .with_verbose(globals.verbose)
}
