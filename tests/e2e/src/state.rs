//! State documents for suites that need one without running a pipeline.

use pkgrun_core::state::StateDocument;

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
