//! `pkgrun log <level> <message…>`: one log line for shell scripts.

use anyhow::Result;

use super::{logger, Outcome};
use crate::cli::{Globals, LogArgs};

pub fn run(args: LogArgs, globals: &Globals) -> Result<Outcome> {
    logger(globals).log(args.level.into(), &args.message.join(" "));
    Ok(Outcome::SUCCESS)
}
