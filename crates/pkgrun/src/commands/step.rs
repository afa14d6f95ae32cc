//! `pkgrun step --name <n> -- <cmd…>`: run a command as a logged step.
//!
//! Exit code: the child's own; 128+N when killed by signal N; 124 on `--timeout`;
//! 127 when the command cannot be started (the shell conventions).

use std::time::Duration;

use anyhow::Result;
use pkgrun_core::process::{run_step, ProcessError, StepCommand};
use pkgrun_core::ExitStatus;

use super::{logger, Outcome};
use crate::cli::{Globals, StepArgs};
use crate::report::CliError;

pub fn run(args: StepArgs, globals: &Globals) -> Result<Outcome> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::usage("no command given after `--`", None))?;
    // One pipe for stdout and stderr: lines keep the exact order the command wrote them,
    // as with the scripts/lib adapters.
    // The user's own command: it keeps the whole environment, credentials included.
    let mut cmd = StepCommand::new(&args.name, program)
        .args(rest)
        .merge_output()
        .inherit_whole_env();
    if let Some(seconds) = args.timeout {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(CliError::usage(
                format!("--timeout {seconds} is not a positive number of seconds"),
                None,
            )
            .into());
        }
        cmd = cmd.timeout(Duration::from_secs_f64(seconds));
    }
    Ok(match run_step(&logger(globals), &cmd) {
        Ok(_) => Outcome::Code(0),
        Err(ProcessError::Failed { exit, .. }) => {
            Outcome::Code(exit.shell_code().clamp(1, 255) as u8)
        }
        Err(ProcessError::Spawn { .. }) => Outcome::Code(127),
        Err(ProcessError::Wait { .. }) => Outcome::Status(ExitStatus::Bug),
    })
}
