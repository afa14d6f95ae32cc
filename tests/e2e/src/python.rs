//! Fresh Python virtual environments for consumer-side checks.
//!
//! `python3 -m venv` spends most of its time (15 s on a loaded 2-core machine) bootstrapping
//! pip into the venv with ensurepip. A [`Venv`] is created `--without-pip` instead and driven
//! by the pinned pip of `<tools>/pytools` through `pip --python <venv>/bin/python`, which
//! installs into the venv exactly as the venv's own pip would.

use crate::process::run_ok;
use crate::tools_dir;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty virtual environment.
pub struct Venv {
    path: PathBuf,
}

impl Venv {
    /// Creates an empty venv at `path` with the machine's `python3`.
    pub fn create(path: &Path) -> Result<Self> {
        run_ok(
            "python3 -m venv",
            Command::new("python3")
                .args(["-m", "venv", "--without-pip"])
                .arg(path),
        )?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<venv>/bin/python`.
    pub fn python(&self) -> PathBuf {
        self.path.join("bin/python")
    }

    /// A `pip` command that installs into this venv (add `install …` arguments). It uses the
    /// machine's pip configuration; clear `PIP_FIND_LINKS`/`PIP_CONFIG_FILE` on the command
    /// when only a given `--index-url` may be used.
    pub fn pip(&self) -> Command {
        let mut cmd = Command::new(tools_dir().join("pytools/bin/python"));
        cmd.args(["-m", "pip", "--python"]).arg(self.python());
        cmd
    }
}
