//! The state document (`pkgrun.state/v1`) and the state directory that holds them.
//!
//! # Format
//!
//! One JSON object per published package, in `<state_dir>/<state_key>.json`, plus one
//! `<state_dir>/<lang>-version` file per language holding the bare version and a
//! newline (the CI build output; `pkgrun env` turns it into
//! `{PREFIX}_{LANG}_SDK_VERSION`). The JSON Schema is
//! `schemas/pkgrun.state.v1.schema.json` in the repository. Example:
//!
//! ```json
//! {
//!   "schema": "pkgrun.state/v1",
//!   "language": "go",
//!   "package": "go.packages.dev.ameide.io/ameide-sdk-go",
//!   "state_key": "ameide-sdk-go",
//!   "version": "v0.0.0-20261127221005-0123456789ab",
//!   "registry": "http://127.0.0.1:5000",
//!   "git_sha": "0123456789ab",
//!   "published_at": "2026-11-27T22:10:05Z",
//!   "publish": { "outcome": "uploaded" },
//!   "dependencies": [ { "package": "go.packages.dev.ameide.io/ameide-telemetry-go",
//!                       "version": "v0.0.0-20261127221005-0123456789ab" } ],
//!   "artifacts": [ { "file": "v0.0.0-….zip", "kind": "zip", "size": 1234,
//!                    "sha256": "…", "h1": "h1:…" } ],
//!   "smoke": { "status": "passed",
//!              "checks": [ { "name": "protocol", "status": "passed", "duration_ms": 12,
//!                            "detail": "…" } ],
//!              "upstream_probe": { "target": "github.com/google/uuid@v1.6.0",
//!                                  "status": "passed", "first_ms": 900, "second_ms": 20,
//!                                  "evidence": "…" } },
//!   "durations_ms": { "build": 1, "upload": 2, "smoke": 3, "total": 6 }
//! }
//! ```
//!
//! * `registry`: the registry base URL, never with credentials.
//! * `git_sha`: 12 lowercase hex characters. `published_at`: RFC 3339 UTC, whole seconds.
//! * `publish.outcome`: `uploaded`, or `already-present` when identical bytes existed.
//! * `dependencies`: sibling packages of the same run this one was pinned to.
//! * `artifacts[].kind`: `zip`, `mod`, `info` (go), `wheel`, `sdist` (python),
//!   `tarball` (ts). Optional fields: `h1` (go), `integrity` and `shasum` (ts).
//! * `smoke.status`: `not-run`, `passed` or `failed`; each check and the upstream probe
//!   have `passed`, `failed` or `skipped`. `upstream_probe` is absent when not run.
//! * `durations_ms`: milliseconds per phase; names are free-form (`total` is usual).
//!
//! Writes are atomic: a temporary file in the same directory, fsynced, renamed over
//! the target, then the directory fsynced; a failed run never leaves a half-written
//! file. [`StateStore::clean`] removes the directory's contents and never the
//! directory itself (in a cluster it is a mounted volume).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// The `schema` value of every v1 document.
pub const SCHEMA_V1: &str = "pkgrun.state/v1";

/// The document's schema tag; only `pkgrun.state/v1` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Schema {
    #[default]
    #[serde(rename = "pkgrun.state/v1")]
    V1,
}

/// One package's state. See the module docs for the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDocument {
    pub schema: Schema,
    pub language: Lang,
    pub package: String,
    pub state_key: String,
    pub version: String,
    pub registry: String,
    pub git_sha: String,
    pub published_at: String,
    pub publish: Publish,
    pub dependencies: Vec<DependencyPin>,
    pub artifacts: Vec<Artifact>,
    pub smoke: Smoke,
    pub durations_ms: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    pub outcome: PublishOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublishOutcome {
    /// This run uploaded the artifacts.
    Uploaded,
    /// The registry already had this version with identical bytes.
    AlreadyPresent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencyPin {
    pub package: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Zip,
    Mod,
    Info,
    Wheel,
    Sdist,
    Tarball,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub file: String,
    pub kind: ArtifactKind,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    /// Go module zip hash, `h1:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h1: Option<String>,
    /// npm `dist.integrity`, `sha512-…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
    /// npm `dist.shasum` (sha1, hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shasum: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmokeStatus {
    NotRun,
    Passed,
    Failed,
}

impl SmokeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SmokeStatus::NotRun => "not-run",
            SmokeStatus::Passed => "passed",
            SmokeStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    pub status: SmokeStatus,
    pub checks: Vec<SmokeCheckResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_probe: Option<UpstreamProbe>,
}

impl Smoke {
    /// Smoke has not run (yet): what publish writes before smoke.
    pub fn not_run() -> Self {
        Smoke {
            status: SmokeStatus::NotRun,
            checks: Vec::new(),
            upstream_probe: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheckResult {
    pub name: String,
    pub status: CheckStatus,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Fetching one upstream package twice through the registry: proves proxying and caching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamProbe {
    pub target: String,
    pub status: CheckStatus,
    pub first_ms: u64,
    pub second_ms: u64,
    pub evidence: String,
}

/// Why the state directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a pkgrun.state/v1 document", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("state key {0:?} is not a usable file name")]
    BadKey(String),
}

impl crate::Hint for StateError {
    fn exit_status(&self) -> crate::ExitStatus {
        crate::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            StateError::Parse { .. } => Some(
                "remove or fix that file; `pkgrun state clean` empties the state directory".into(),
            ),
            _ => None,
        }
    }
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A state directory on disk.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<state_key>.json`.
    pub fn document_path(&self, state_key: &str) -> PathBuf {
        self.dir.join(format!("{state_key}.json"))
    }

    /// `<dir>/<lang>-version`.
    pub fn version_path(&self, lang: Lang) -> PathBuf {
        self.dir.join(format!("{lang}-version"))
    }

    /// Writes `doc` atomically to `<state_key>.json`, creating the directory.
    pub fn write_document(&self, doc: &StateDocument) -> Result<PathBuf, StateError> {
        if doc.state_key.is_empty()
            || doc.state_key.starts_with('.')
            || doc.state_key.contains(['/', '\\'])
        {
            return Err(StateError::BadKey(doc.state_key.clone()));
        }
        let path = self.document_path(&doc.state_key);
        let mut json = serde_json::to_vec_pretty(doc).expect("state documents always serialise");
        json.push(b'\n');
        self.write_atomic(&path, &json)?;
        Ok(path)
    }

    /// Writes the bare version and a newline to `<lang>-version`, atomically.
    pub fn write_version(&self, lang: Lang, version: &str) -> Result<PathBuf, StateError> {
        let path = self.version_path(lang);
        self.write_atomic(&path, format!("{}\n", version.trim()).as_bytes())?;
        Ok(path)
    }

    /// The version in `<lang>-version`, or `None` if the file does not exist.
    pub fn read_version(&self, lang: Lang) -> Result<Option<String>, StateError> {
        let path = self.version_path(lang);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|v| !v.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Reads `<state_key>.json`, or `None` if it does not exist.
    pub fn read_document(&self, state_key: &str) -> Result<Option<StateDocument>, StateError> {
        let path = self.document_path(state_key);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| StateError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Every `*.json` document in the directory, sorted by state key. A missing
    /// directory has no documents.
    pub fn documents(&self) -> Result<Vec<StateDocument>, StateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Io {
                    action: "list",
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", &self.dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") && !name.starts_with('.') && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut docs = Vec::new();
        for path in paths {
            let bytes = std::fs::read(&path).map_err(io_err("read", &path))?;
            let doc = serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
                path: path.clone(),
                source,
            })?;
            docs.push(doc);
        }
        docs.sort_by(|a: &StateDocument, b| a.state_key.cmp(&b.state_key));
        Ok(docs)
    }

    /// Removes everything inside the directory, never the directory itself.
    /// Returns how many entries were removed; a missing directory is created empty.
    pub fn clean(&self) -> Result<usize, StateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
                return Ok(0);
            }
            Err(source) => {
                return Err(StateError::Io {
                    action: "list",
                    path: self.dir.clone(),
                    source,
                })
            }
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(io_err("list", &self.dir))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(io_err("inspect", &path))?;
            if file_type.is_dir() {
                std::fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            } else {
                std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
            removed += 1;
        }
        Ok(removed)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        write_atomically(path, bytes)
    }
}

/// Replaces `path` with `bytes` through a temp file in the same directory and a rename
/// (created if missing), so a reader sees the old file or the new one, never half of one.
/// Readable by other users (CI steps, Tilt, sidecars) like any file the umask allows; a
/// bare temp file would be 0600. Used for state files, run reports and image records.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    // A signal waits for this write to end (no `.pkgrun-*.tmp` left, the old file or the
    // new one) and lets none start after it.
    let _writing = crate::shutdown::write_guard();
    let mut tmp = tempfile::Builder::new()
        .prefix(".pkgrun-")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file in", dir))?;
    tmp.write_all(bytes).map_err(io_err("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err("sync", path))?;
    tmp.persist(path).map_err(|e| StateError::Io {
        action: "replace",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    // Make the rename itself durable.
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every shape of document the code can write: each optional field present and
    /// absent, every enum value.
    pub(crate) fn sample_documents() -> Vec<StateDocument> {
        let base = StateDocument {
            schema: Schema::V1,
            language: Lang::Go,
            package: "go.packages.dev.ameide.io/ameide-sdk-go".into(),
            state_key: "ameide-sdk-go".into(),
            version: "v0.0.0-20261127221005-0123456789ab".into(),
            registry: "http://127.0.0.1:5000".into(),
            git_sha: "0123456789ab".into(),
            published_at: "2026-11-27T22:10:05Z".into(),
            publish: Publish {
                outcome: PublishOutcome::Uploaded,
            },
            dependencies: vec![DependencyPin {
                package: "go.packages.dev.ameide.io/ameide-telemetry-go".into(),
                version: "v0.0.0-20261127221005-0123456789ab".into(),
            }],
            artifacts: vec![Artifact {
                file: "v0.0.0-20261127221005-0123456789ab.zip".into(),
                kind: ArtifactKind::Zip,
                size: 1234,
                sha256: "a".repeat(64),
                h1: Some("h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
                integrity: None,
                shasum: None,
            }],
            smoke: Smoke {
                status: SmokeStatus::Passed,
                checks: vec![SmokeCheckResult {
                    name: "protocol".into(),
                    status: CheckStatus::Passed,
                    duration_ms: 12,
                    detail: Some("list, info, mod, zip match".into()),
                }],
                upstream_probe: Some(UpstreamProbe {
                    target: "github.com/google/uuid@v1.6.0".into(),
                    status: CheckStatus::Passed,
                    first_ms: 900,
                    second_ms: 20,
                    evidence: "second fetch served from cache".into(),
                }),
            },
            durations_ms: [("build", 1), ("upload", 2), ("smoke", 3), ("total", 6)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        let ts = StateDocument {
            language: Lang::Ts,
            package: "@ameideio/ameide-sdk-ts".into(),
            state_key: "ameide-sdk-ts".into(),
            version: "0.1.0-dev.20261127221005.g012345678901".into(),
            publish: Publish {
                outcome: PublishOutcome::AlreadyPresent,
            },
            dependencies: vec![],
            artifacts: vec![Artifact {
                file: "ameideio-ameide-sdk-ts-0.1.0.tgz".into(),
                kind: ArtifactKind::Tarball,
                size: 99,
                sha256: "b".repeat(64),
                h1: None,
                integrity: Some("sha512-AAAA".into()),
                shasum: Some("c".repeat(40)),
            }],
            smoke: Smoke {
                status: SmokeStatus::Failed,
                checks: vec![
                    SmokeCheckResult {
                        name: "import".into(),
                        status: CheckStatus::Failed,
                        duration_ms: 5,
                        detail: None,
                    },
                    SmokeCheckResult {
                        name: "upstream".into(),
                        status: CheckStatus::Skipped,
                        duration_ms: 0,
                        detail: None,
                    },
                ],
                upstream_probe: Some(UpstreamProbe {
                    target: "lodash@4.17.21".into(),
                    status: CheckStatus::Failed,
                    first_ms: 1,
                    second_ms: 2,
                    evidence: "".into(),
                }),
            },
            durations_ms: BTreeMap::new(),
            ..base.clone()
        };
        let mut python = StateDocument {
            language: Lang::Python,
            package: "ameide-sdk".into(),
            state_key: "ameide-sdk".into(),
            version: "0.1.0.dev20261127221005+g0123456789ab".into(),
            smoke: Smoke::not_run(),
            ..base.clone()
        };
        python.artifacts = [
            ArtifactKind::Wheel,
            ArtifactKind::Sdist,
            ArtifactKind::Mod,
            ArtifactKind::Info,
        ]
        .into_iter()
        .map(|kind| Artifact {
            file: format!("{kind:?}"),
            kind,
            size: 0,
            sha256: "d".repeat(64),
            h1: None,
            integrity: None,
            shasum: None,
        })
        .collect();
        vec![base, ts, python]
    }

    #[test]
    fn round_trips_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path().join("state"));
        for doc in sample_documents() {
            let path = store.write_document(&doc).unwrap();
            assert_eq!(path, store.document_path(&doc.state_key));
            assert_eq!(
                store.read_document(&doc.state_key).unwrap().as_ref(),
                Some(&doc)
            );
        }
        let keys: Vec<_> = store
            .documents()
            .unwrap()
            .into_iter()
            .map(|d| d.state_key)
            .collect();
        assert_eq!(keys, ["ameide-sdk", "ameide-sdk-go", "ameide-sdk-ts"]);
        let leftovers: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn state_files_are_readable_by_other_users() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let doc = store.write_document(&sample_documents()[0]).unwrap();
        let version = store
            .write_version(Lang::Go, "v0.0.0-20261127221005-0123456789ab")
            .unwrap();
        for path in [doc, version] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            // Under the usual umask (022 or 002): group and others can read, unlike a temp file.
            assert_eq!(mode & 0o044, 0o044, "{} has mode {mode:o}", path.display());
        }
    }

    #[test]
    fn json_field_names_match_the_contract() {
        let v = serde_json::to_value(&sample_documents()[1]).unwrap();
        assert_eq!(v["schema"], "pkgrun.state/v1");
        assert_eq!(v["language"], "ts");
        assert_eq!(v["publish"]["outcome"], "already-present");
        assert_eq!(v["smoke"]["status"], "failed");
        assert_eq!(v["artifacts"][0]["kind"], "tarball");
        assert!(v["artifacts"][0].get("h1").is_none());
        let nr = serde_json::to_value(Smoke::not_run()).unwrap();
        assert_eq!(nr, serde_json::json!({"status": "not-run", "checks": []}));
    }

    #[test]
    fn version_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        assert_eq!(store.read_version(Lang::Go).unwrap(), None);
        store.write_version(Lang::Go, "v0.0.0-1-abc").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("go-version")).unwrap(),
            "v0.0.0-1-abc\n"
        );
        assert_eq!(
            store.read_version(Lang::Go).unwrap().as_deref(),
            Some("v0.0.0-1-abc")
        );
    }

    #[test]
    fn clean_keeps_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = StateStore::new(&state);
        store.write_version(Lang::Ts, "1.0.0").unwrap();
        store.write_document(&sample_documents()[0]).unwrap();
        std::fs::create_dir_all(state.join("sub/deeper")).unwrap();
        std::fs::write(state.join(".hidden"), "x").unwrap();
        assert_eq!(store.clean().unwrap(), 4);
        assert!(state.is_dir());
        assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
    }

    #[test]
    fn bad_documents_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.json"), "{\"schema\":\"other\"}").unwrap();
        let err = StateStore::new(dir.path()).documents().unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
        let bad_key = StateDocument {
            state_key: "../escape".into(),
            ..sample_documents()[0].clone()
        };
        assert!(matches!(
            StateStore::new(dir.path()).write_document(&bad_key),
            Err(StateError::BadKey(_))
        ));
    }
}

/// The JSON Schema shipped in `schemas/` agrees with what the code writes.
#[cfg(test)]
mod schema_tests {
    use super::tests::sample_documents;

    const SCHEMA: &str = include_str!("../../../schemas/pkgrun.state.v1.schema.json");

    fn validator() -> jsonschema::Validator {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        jsonschema::draft202012::new(&schema).expect("the schema itself is valid")
    }

    #[test]
    fn every_written_document_validates() {
        let v = validator();
        for doc in sample_documents() {
            let dir = tempfile::tempdir().unwrap();
            let store = super::StateStore::new(dir.path());
            let path = store.write_document(&doc).unwrap();
            let written: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            let errors: Vec<String> = v.iter_errors(&written).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", doc.state_key);
        }
    }

    #[test]
    fn schema_rejects_missing_required_fields_and_unknown_values() {
        let v = validator();
        let good = serde_json::to_value(&sample_documents()[0]).unwrap();
        assert!(v.is_valid(&good));
        for field in ["git_sha", "smoke", "artifacts", "durations_ms", "schema"] {
            let mut bad = good.clone();
            bad.as_object_mut().unwrap().remove(field);
            assert!(!v.is_valid(&bad), "accepted a document without {field}");
        }
        let mut bad = good.clone();
        bad["publish"]["outcome"] = "maybe".into();
        assert!(!v.is_valid(&bad));
        let mut bad = good;
        bad["registry_password"] = "x".into();
        assert!(!v.is_valid(&bad));
    }
}
