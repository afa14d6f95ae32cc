//! `pkgrun version [LANG…]`: the version each package would be published with now.

use anyhow::Result;
use pkgrun_core::env::ProcessEnv;
use pkgrun_core::plan::{self, select_languages};
use pkgrun_core::version::Timestamp;

use super::{load_config_for, Outcome};
use crate::cli::{Globals, VersionArgs};
use crate::report::CliError;

pub fn run(args: VersionArgs, globals: &Globals) -> Result<Outcome> {
    let config = load_config_for(globals, &args.langs)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let planned = plan::versions(&config, &langs, &ProcessEnv, Timestamp::now())?;
    for p in &planned.packages {
        println!("{} {}", p.state_key, p.version);
    }
    Ok(Outcome::SUCCESS)
}
