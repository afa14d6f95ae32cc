//! State documents for suites that need one without running a pipeline.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use pkgrun_core::state::StateDocument;
use serde_json::Value;

/// A minimal valid `pkgrun.state/v1` document with a passed smoke.
pub fn state_document(lang: &str, state_key: &str, package: &str, version: &str) -> StateDocument {
    serde_json::from_value(serde_json::json!({
        "schema": "pkgrun.state/v1", "language": lang, "package": package, "state_key": state_key,
        "version": version, "registry": "http://127.0.0.1:5000", "git_sha": "0123456789ab",
        "published_at": "2026-11-27T22:10:05Z", "publish": {"outcome": "uploaded"},
        "dependencies": [], "artifacts": [],
        "smoke": {"status": "passed", "checks": []}, "durations_ms": {"total": 1}
    }))
    .expect("a valid state document")
}

/// The bytes pkgrun writes for a document, in a state file and in a ConfigMap key alike.
pub fn state_file_text(doc: &StateDocument) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(doc).expect("serialise")
    )
}

/// Every file of the example workspace `root`'s state directory, by name, with its bytes
/// (a leftover `.pkgrun-*.tmp` shows as a new name).
pub fn state_files(root: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let dir = root.join("tmp/tilt-packages");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            files.insert(name.into_owned(), std::fs::read(&path)?);
        }
    }
    ensure!(!files.is_empty(), "no state in {}", dir.display());
    Ok(files)
}

/// The state document `<key>.json` of the example workspace `root`, as JSON.
pub fn state_json(root: &Path, key: &str) -> Result<Value> {
    let path = root.join("tmp/tilt-packages").join(format!("{key}.json"));
    Ok(serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("read {}", path.display()))?,
    )?)
}
