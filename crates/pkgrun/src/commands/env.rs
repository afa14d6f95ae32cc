//! `pkgrun env`: the `{PREFIX}_{LANG}_SDK_VERSION` contract from `<lang>-version` files.
//!
//! All requested languages must have a version file; otherwise nothing is printed and
//! the exit code is 2 (a partial contract would let a build use stale SDKs silently).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use pkgrun_core::plan::select_languages;
use pkgrun_core::state::StateStore;

use super::{load_config, logger, Outcome};
use crate::cli::{EnvArgs, EnvFormat, Globals};
use crate::report::CliError;

pub fn run(args: EnvArgs, globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let langs = select_languages(&config, &args.langs).map_err(|m| CliError::usage(m, None))?;
    let store = StateStore::new(config.state_dir());
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for lang in langs {
        match store.read_version(lang)? {
            Some(v) => found.push((lang, config.override_var(lang), v)),
            None => missing.push(lang),
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|l| format!("{l} ({})", store.version_path(*l).display()))
            .collect();
        return Err(CliError::usage(
            format!("no published version recorded for {}", list.join(", ")),
            Some(if found.is_empty() {
                "run the publish first: it writes <state_dir>/<lang>-version".to_string()
            } else {
                format!(
                    "run the publish for {} first (it writes <state_dir>/<lang>-version), or name only the languages you need: `pkgrun env {}`",
                    missing.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", "),
                    found
                        .iter()
                        .map(|(l, _, _)| l.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }),
        )
        .into());
    }
    for (_, name, value) in &found {
        if value.contains(|c: char| {
            c.is_whitespace() || c == '\'' || c == '"' || c == '$' || c == '`' || c == '\\'
        }) {
            return Err(CliError::usage(
                format!("the recorded version for {name} ({value:?}) contains characters no version has"),
                Some("run `pkgrun state clean` and publish again".into()),
            )
            .into());
        }
    }
    let text: String = found
        .iter()
        .map(|(_, name, value)| match args.format {
            EnvFormat::Shell => format!("export {name}='{value}'\n"),
            EnvFormat::Dotenv | EnvFormat::Github => format!("{name}={value}\n"),
        })
        .collect();
    let github_output = std::env::var_os("GITHUB_OUTPUT").filter(|v| !v.is_empty());
    let target = match (&args.output, args.format) {
        (Some(path), _) => Some(path.clone()),
        (None, EnvFormat::Github) => github_output.map(Into::into),
        (None, _) => None,
    };
    match target {
        None => print!("{text}"),
        Some(path) => {
            let append = args.format == EnvFormat::Github;
            write_file(&path, &text, append)?;
            logger(globals).ok(&format!(
                "{} {} variable{} to {}",
                if append { "appended" } else { "wrote" },
                found.len(),
                if found.len() == 1 { "" } else { "s" },
                path.display()
            ));
        }
    }
    Ok(Outcome::SUCCESS)
}

fn write_file(path: &Path, text: &str, append: bool) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
