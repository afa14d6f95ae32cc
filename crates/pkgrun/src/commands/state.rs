//! `pkgrun state show [--json]` and `pkgrun state clean`.

use anyhow::Result;
use pkgrun_core::state::StateStore;

use super::{load_config, logger, Outcome};
use crate::cli::Globals;

pub fn show(json: bool, globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let store = StateStore::new(config.state_dir());
    let docs = store.documents()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
        return Ok(Outcome::SUCCESS);
    }
    if docs.is_empty() {
        logger(globals).info(&format!(
            "no state documents in {} (a publish writes them)",
            store.dir().display()
        ));
        return Ok(Outcome::SUCCESS);
    }
    let header = ["STATE KEY", "LANGUAGE", "VERSION", "SMOKE", "PUBLISHED AT"];
    let rows: Vec<[String; 5]> = docs
        .iter()
        .map(|d| {
            [
                d.state_key.clone(),
                d.language.to_string(),
                d.version.clone(),
                d.smoke.status.as_str().to_string(),
                d.published_at.clone(),
            ]
        })
        .collect();
    print!("{}", table(&header, &rows));
    Ok(Outcome::SUCCESS)
}

/// Left-aligned columns separated by two spaces, no trailing spaces.
fn table(header: &[&str; 5], rows: &[[String; 5]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub fn clean(globals: &Globals) -> Result<Outcome> {
    let config = load_config(globals)?;
    let store = StateStore::new(config.state_dir());
    let removed = store.clean()?;
    logger(globals).ok(&format!(
        "emptied {} ({removed} entr{} removed)",
        store.dir().display(),
        if removed == 1 { "y" } else { "ies" }
    ));
    Ok(Outcome::SUCCESS)
}
