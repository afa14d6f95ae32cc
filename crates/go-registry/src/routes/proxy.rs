//! The GOPROXY read protocol (`GOPROXY=http://host:port`):
//!
//! * `GET /<module>/@v/list`: known versions, one per line (pseudo-versions only with
//!   `--list-pseudo-versions`); stored versions plus the upstream's list.
//! * `GET /<module>/@v/<version>.info|.mod|.zip`: from storage; on a miss, the whole
//!   version (all three files) is fetched from the upstream once, stored atomically, and
//!   then served from storage.
//! * `GET /<module>/@latest`: the upstream's answer, else the best stored version.
//! * `GET /sumdb/<name>/…`: the checksum database, proxied ([`crate::sumdb`]).
//!
//! Module paths and versions in URLs are `!`-escaped (`github.com/!burnt!sushi/...`).
//! Percent-escapes are decoded first (the go command sends none); a path that decodes to
//! invalid UTF-8, a module path that collides with the storage layout, or a version query
//! with characters that could change an upstream URL (`#`, `?`, `%`, `/`, leading `.`) is
//! a 400 and never reaches the upstream.
//!
//! What the upstream serves is cached only after the checks an upload gets
//! ([`crate::validate`]) and, with a checksum database configured, after its `h1:` hashes
//! match the database's record; otherwise the answer is 502 and nothing is stored.
//! Modules with an uploaded version are private: never merged with, nor resolved from,
//! the upstream ([`crate::AppState::upstream_for`]).
//!
//! Status semantics: 404 = "not here" (the go command may try its next proxy); 410 = "can
//! never exist here" (a version that is invalid for the module path, or the upstream said
//! 410); 400 = the path is not a valid escaped module path; 502 = the upstream failed.

use std::cmp::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gomod::version::VersionError;

use crate::error::AppError;
use crate::metrics::KindLabels;
use crate::storage::{CommitOutcome, FileKind, ZIP_FILE};
use crate::upstream::UpstreamError;
use crate::AppState;

/// A parsed proxy request.
#[derive(Debug, PartialEq, Eq)]
pub enum ProxyRequest {
    /// `<module>/@v/list`
    List {
        /// Unescaped module path.
        module: String,
    },
    /// `<module>/@latest`
    Latest {
        /// Unescaped module path.
        module: String,
    },
    /// `<module>/@v/<version>.<ext>`
    File {
        /// Unescaped module path.
        module: String,
        /// Unescaped version (not yet validated as canonical).
        version: String,
        /// Which file.
        kind: FileKind,
    },
    /// `/sumdb/<name>/<rest>`.
    Sumdb {
        /// Database name.
        name: String,
        /// What follows the name (validated by [`crate::sumdb::parse_rest`]).
        rest: String,
    },
}

/// Parse a request path (percent-decoded, with or without the leading `/`).
pub fn parse_path(path: &str) -> Result<ProxyRequest, AppError> {
    let path = path.trim_start_matches('/');
    let not_found = || AppError::NotFound("not found".to_string());
    if let Some(sumdb) = path.strip_prefix("sumdb/") {
        let (name, rest) = sumdb.split_once('/').ok_or_else(not_found)?;
        return Ok(ProxyRequest::Sumdb {
            name: name.to_string(),
            rest: rest.to_string(),
        });
    }
    if let Some(escaped) = path.strip_suffix("/@latest") {
        return Ok(ProxyRequest::Latest {
            module: unescape_module(escaped)?,
        });
    }
    let (escaped, rest) = path.rsplit_once("/@v/").ok_or_else(not_found)?;
    let module = unescape_module(escaped)?;
    if rest == "list" {
        return Ok(ProxyRequest::List { module });
    }
    let (escaped_version, kind) = if let Some(v) = rest.strip_suffix(".info") {
        (v, FileKind::Info)
    } else if let Some(v) = rest.strip_suffix(".mod") {
        (v, FileKind::Mod)
    } else if let Some(v) = rest.strip_suffix(".zip") {
        (v, FileKind::Zip)
    } else {
        return Err(not_found());
    };
    let version = gomod::path::unescape_version(escaped_version)
        .map_err(|e| AppError::BadRequest(format!("bad request: {e}")))?;
    crate::validate::check_layout(&module, Some(&version))?;
    Ok(ProxyRequest::File {
        module,
        version,
        kind,
    })
}

fn unescape_module(escaped: &str) -> Result<String, AppError> {
    let module = gomod::path::unescape_path(escaped)
        .map_err(|e| AppError::BadRequest(format!("bad request: {e}")))?;
    crate::validate::check_layout(&module, None)?;
    Ok(module)
}

/// Whether a non-semver version query (a branch, tag or commit the upstream resolves) is
/// safe to put into an upstream URL as one path element.
fn is_forwardable_query(query: &str) -> bool {
    !query.is_empty()
        && query.len() <= 128
        && !query.starts_with('.')
        && query
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'~'))
}

/// Fallback handler: every GET/HEAD that is not another route.
pub async fn proxy(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let path = match percent_encoding::percent_decode_str(uri.path()).decode_utf8() {
        Ok(p) => p,
        Err(_) => {
            return AppError::BadRequest("bad request: the path is not UTF-8".into())
                .into_response()
        }
    };
    let result = match parse_path(&path) {
        Ok(ProxyRequest::Sumdb { name, rest }) => sumdb(&state, &name, &rest).await,
        Ok(ProxyRequest::List { module }) => list(&state, &module).await,
        Ok(ProxyRequest::Latest { module }) => latest(&state, &module).await,
        Ok(ProxyRequest::File {
            module,
            version,
            kind,
        }) => file(&state, &module, &version, kind).await,
        Err(e) => Err(e),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn kind_label(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Info => "info",
        FileKind::Mod => "mod",
        FileKind::Zip => "zip",
    }
}

fn content_type(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Info => "application/json",
        FileKind::Mod => "text/plain; charset=utf-8",
        FileKind::Zip => "application/zip",
    }
}

fn count_bytes(state: &AppState, kind: &'static str, n: u64) {
    state
        .metrics
        .served_bytes
        .get_or_create(&KindLabels { kind })
        .inc_by(n);
}

async fn file(
    state: &AppState,
    module: &str,
    version: &str,
    kind: FileKind,
) -> Result<Response, AppError> {
    let label = kind_label(kind);
    let not_found = || AppError::NotFound(format!("not found: {module}@{version}"));
    match gomod::version::check_version_for_module(module, version) {
        Ok(()) => {}
        Err(VersionError::NotSemver { .. }) | Err(VersionError::NotCanonical { .. }) => {
            // A query such as a branch name: only the upstream can resolve it, and the
            // answer is not cached (it moves).
            if !is_forwardable_query(version) {
                return Err(AppError::BadRequest(format!(
                    "bad request: version query {version:?} has characters a version cannot have"
                )));
            }
            return match (kind, state.upstream_for(module)) {
                (FileKind::Info, Some(up)) => {
                    let path = format!(
                        "{}/@v/{}.info",
                        escape_module(module)?,
                        gomod::path::escape_version(version)
                            .map_err(|e| AppError::BadRequest(format!("bad request: {e}")))?
                    );
                    match up.get(&path, 1 << 20).await {
                        Ok(body) => Ok(bytes_response(state, "info", content_type(kind), body)),
                        Err(e) => Err(upstream_error(e, module, version)),
                    }
                }
                _ => Err(not_found()),
            };
        }
        Err(e) => return Err(AppError::Gone(format!("not found: {e}"))),
    }

    if let Some(resp) = open_stored(state, module, version, kind).await? {
        state
            .metrics
            .cache_hits
            .get_or_create(&KindLabels { kind: label })
            .inc();
        return Ok(resp);
    }
    state
        .metrics
        .cache_misses
        .get_or_create(&KindLabels { kind: label })
        .inc();
    if state.upstream_for(module).is_none() {
        return Err(not_found());
    }
    fetch_version(state, module, version).await?;
    open_stored(state, module, version, kind)
        .await?
        .ok_or_else(not_found)
}

/// Files up to this size are read in one go; larger ones are streamed.
const SMALL_FILE: u64 = 256 * 1024;

/// Read size when streaming large files.
const STREAM_CHUNK: usize = 256 * 1024;

enum Opened {
    Whole(Bytes),
    Large(std::fs::File, u64),
}

/// One stored file as a response, or `None` if it is not stored. Served from the memory
/// cache when there; otherwise opening, sizing and (for small files) reading happen in a
/// single blocking task: one hop per request.
async fn open_stored(
    state: &AppState,
    module: &str,
    version: &str,
    kind: FileKind,
) -> Result<Option<Response>, AppError> {
    let path = state.storage.file_path(module, version, kind);
    let opened = match state.file_cache.get(&path) {
        Some(bytes) => Some(Opened::Whole(bytes)),
        None => {
            let whole_limit = state.file_cache.max_file().max(SMALL_FILE);
            let st = state.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<Option<Opened>> {
                use std::io::Read;
                let mut file = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e),
                };
                let len = file.metadata()?.len();
                if len <= whole_limit {
                    let mut buf = Vec::with_capacity(len as usize);
                    file.read_to_end(&mut buf)?;
                    let bytes = Bytes::from(buf);
                    st.file_cache.insert(path, bytes.clone());
                    Ok(Some(Opened::Whole(bytes)))
                } else {
                    Ok(Some(Opened::Large(file, len)))
                }
            })
            .await
            .map_err(AppError::internal)??
        }
    };
    let (body, len) = match opened {
        None => return Ok(None),
        Some(Opened::Whole(bytes)) => {
            let len = bytes.len() as u64;
            (Body::from(bytes), len)
        }
        Some(Opened::Large(file, len)) => {
            let file = tokio::fs::File::from_std(file);
            (
                Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
                    file,
                    STREAM_CHUNK,
                )),
                len,
            )
        }
    };
    count_bytes(state, kind_label(kind), len);
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(kind)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(Some(resp))
}

fn bytes_response(
    state: &AppState,
    kind: &'static str,
    ctype: &'static str,
    body: Bytes,
) -> Response {
    count_bytes(state, kind, body.len() as u64);
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    resp
}

fn escape_module(module: &str) -> Result<String, AppError> {
    gomod::path::escape_path(module).map_err(|e| AppError::BadRequest(format!("bad request: {e}")))
}

fn upstream_error(e: UpstreamError, module: &str, version: &str) -> AppError {
    match e {
        UpstreamError::NotFound(410) => AppError::Gone(format!("not found: {module}@{version}")),
        UpstreamError::NotFound(_) => AppError::NotFound(format!("not found: {module}@{version}")),
        UpstreamError::TooLarge(n) => {
            AppError::BadGateway(format!("{module}@{version}: upstream file over {n} bytes"))
        }
        UpstreamError::Failed(msg) => AppError::BadGateway(format!("{module}@{version}: {msg}")),
    }
}

/// Fetch a whole version from the upstream, verify it and store it (once, however many
/// requests miss at the same time).
async fn fetch_version(state: &AppState, module: &str, version: &str) -> Result<(), AppError> {
    let key = format!("{module}@{version}");
    let lock = state.inflight_lock(&key);
    let result = async {
        let _guard = lock.lock().await;
        if state.storage.exists(module, version) {
            return Ok(());
        }
        let up = state
            .upstream_for(module)
            .ok_or_else(|| AppError::NotFound(format!("not found: {key}")))?;
        let count = |outcome: &'static str| {
            state
                .metrics
                .upstream_fetches
                .get_or_create(&crate::metrics::OutcomeLabels { outcome })
                .inc()
        };
        let staged = state.storage.stage()?;
        let (info, mod_file, zip_len) = match download(state, up, module, version, &staged).await {
            Ok(f) => f,
            Err(e) => {
                count(if matches!(e, UpstreamError::NotFound(_)) {
                    "not_found"
                } else {
                    "error"
                });
                return Err(upstream_error(e, module, version));
            }
        };
        let checked = verify(
            state, up, module, version, &info, &mod_file, &staged, zip_len,
        )
        .await;
        if let Err(e) = checked {
            count("rejected");
            tracing::warn!(module, version, "upstream version not cached: {e}");
            return Err(AppError::BadGateway(format!(
                "{key}: the upstream's files failed verification"
            )));
        }
        count("ok");
        let st = state.clone();
        let (m, v) = (module.to_string(), version.to_string());
        let outcome = tokio::task::spawn_blocking(move || {
            st.storage.mark(crate::storage::Origin::Cached, &m)?;
            st.storage.commit(staged, &m, &v, &info, &mod_file)
        })
        .await
        .map_err(AppError::internal)??;
        match outcome {
            CommitOutcome::Stored => tracing::info!(module, version, "cached from upstream"),
            CommitOutcome::AlreadyPresent => {}
            CommitOutcome::Conflict { .. } => {
                tracing::warn!(
                    module,
                    version,
                    "upstream bytes differ from the stored version; serving the stored one"
                )
            }
        }
        Ok(())
    }
    .await;
    drop(lock);
    state.inflight_done(&key);
    result
}

/// Download `.info` and `.mod` into memory and the zip into `staged`.
async fn download(
    state: &AppState,
    up: &crate::upstream::Upstream,
    module: &str,
    version: &str,
    staged: &crate::storage::StagingDir,
) -> Result<(Bytes, Bytes, u64), UpstreamError> {
    let bad = |e: gomod::path::EscapeError| UpstreamError::Failed(e.to_string());
    let base = format!(
        "{}/@v/{}",
        gomod::path::escape_path(module).map_err(bad)?,
        gomod::path::escape_version(version).map_err(bad)?
    );
    let limits = state.config.limits;
    let info = up.get(&format!("{base}.info"), limits.info).await?;
    let mod_file = up.get(&format!("{base}.mod"), limits.mod_file).await?;
    let mut file = tokio::fs::File::create(staged.file(ZIP_FILE))
        .await
        .map_err(|e| UpstreamError::Failed(format!("staging: {e}")))?;
    let zip_len = up
        .get_to_file(&format!("{base}.zip"), limits.zip, &mut file)
        .await?;
    Ok((info, mod_file, zip_len))
}

/// Why fetched files are not cached.
#[derive(Debug, thiserror::Error)]
enum Rejected {
    #[error("{0}")]
    Checks(AppError),
    #[error("checksum database {db} has no record of it")]
    NotInSumdb { db: String },
    #[error("{what} hash {got} differs from the checksum database {db}'s {want}")]
    HashMismatch {
        what: &'static str,
        got: String,
        want: String,
        db: String,
    },
    #[error("checksum database lookup failed: {0}")]
    Lookup(AppError),
}

/// The upload checks, then the checksum database's record (when one is configured).
#[allow(clippy::too_many_arguments)]
async fn verify(
    state: &AppState,
    up: &crate::upstream::Upstream,
    module: &str,
    version: &str,
    info: &Bytes,
    mod_file: &Bytes,
    staged: &crate::storage::StagingDir,
    zip_len: u64,
) -> Result<(), Rejected> {
    let upload = crate::validate::Upload {
        module: module.to_string(),
        version: version.to_string(),
        info: info.to_vec(),
        mod_file: mod_file.to_vec(),
    };
    let (_, validated) = check_staged_zip(state, upload, staged.file(ZIP_FILE), zip_len)
        .await
        .map_err(Rejected::Checks)?;
    let Some(db) = state.config.sumdb.first() else {
        return Ok(());
    };
    let recorded = crate::sumdb::lookup_hashes(up, &db.name, module, version)
        .await
        .map_err(Rejected::Lookup)?
        .ok_or_else(|| Rejected::NotInSumdb {
            db: db.name.clone(),
        })?;
    for (what, got, want) in [
        ("zip", validated.h1, recorded.zip),
        ("go.mod", validated.mod_h1, recorded.go_mod),
    ] {
        if got != want {
            return Err(Rejected::HashMismatch {
                what,
                got,
                want,
                db: db.name.clone(),
            });
        }
    }
    Ok(())
}

/// Read a staged zip (within the global check budget) and run the upload checks on it and
/// `upload`, which is handed back with the result.
pub(crate) async fn check_staged_zip(
    state: &AppState,
    upload: crate::validate::Upload,
    zip_path: std::path::PathBuf,
    zip_len: u64,
) -> Result<(crate::validate::Upload, crate::validate::Validated), AppError> {
    if zip_len > state.config.limits.zip {
        return Err(AppError::PayloadTooLarge(format!(
            "zip is {zip_len} bytes; the limit is {} bytes",
            state.config.limits.zip
        )));
    }
    let _room = state.check_room(zip_len).await;
    let limits = state.config.limits;
    tokio::task::spawn_blocking(move || {
        let zip = std::fs::read(&zip_path)?;
        let validated = crate::validate::validate(&upload, &zip, &limits)?;
        Ok((upload, validated))
    })
    .await
    .map_err(AppError::internal)?
}

async fn list(state: &AppState, module: &str) -> Result<Response, AppError> {
    let st = state.clone();
    let m = module.to_string();
    // One blocking hop: the versions, and whether the module directory exists at all.
    let (mut local, module_known) = tokio::task::spawn_blocking(move || {
        let versions = st.storage.list(&m)?;
        let known = !versions.is_empty() || st.storage.root().join(&m).is_dir();
        Ok::<_, std::io::Error>((versions, known))
    })
    .await
    .map_err(AppError::internal)??;
    let mut found = module_known;
    if let Some(up) = state.upstream_for(module) {
        match up
            .get(&format!("{}/@v/list", escape_module(module)?), 16 << 20)
            .await
        {
            Ok(body) => {
                found = true;
                local.extend(
                    String::from_utf8_lossy(&body)
                        .lines()
                        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
                        .filter(|v| !v.is_empty()),
                );
            }
            Err(UpstreamError::NotFound(_)) => {}
            Err(e) if module_known => {
                tracing::warn!(
                    module,
                    "upstream list failed, answering with stored versions only: {e}"
                )
            }
            Err(e) => return Err(upstream_error(e, module, "list")),
        }
    }
    if !found {
        return Err(AppError::NotFound(format!("not found: module {module}")));
    }
    local.retain(|v| gomod::version::is_valid(v));
    if !state.config.list_pseudo_versions {
        local.retain(|v| !gomod::version::is_pseudo_version(v));
    }
    local.sort_by(|a, b| gomod::version::compare(a, b));
    local.dedup();
    let mut body = local.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    Ok(bytes_response(
        state,
        "list",
        "text/plain; charset=utf-8",
        Bytes::from(body),
    ))
}

/// Go's preference for `@latest` among known versions: the highest release, else the
/// highest pre-release, else the highest pseudo-version.
pub fn best_version(versions: &[String]) -> Option<&String> {
    let rank = |v: &str| {
        if gomod::version::is_pseudo_version(v) {
            0
        } else if gomod::version::prerelease(v).is_some_and(|p| !p.is_empty()) {
            1
        } else {
            2
        }
    };
    versions
        .iter()
        .filter(|v| gomod::version::is_valid(v))
        .max_by(|a, b| match rank(a).cmp(&rank(b)) {
            Ordering::Equal => gomod::version::compare(a, b),
            o => o,
        })
}

async fn latest(state: &AppState, module: &str) -> Result<Response, AppError> {
    let mut upstream_failure = None;
    if let Some(up) = state.upstream_for(module) {
        match up
            .get(&format!("{}/@latest", escape_module(module)?), 1 << 20)
            .await
        {
            Ok(body) => return Ok(bytes_response(state, "latest", "application/json", body)),
            Err(UpstreamError::NotFound(_)) => {}
            Err(e) => upstream_failure = Some(e),
        }
    }
    let st = state.clone();
    let m = module.to_string();
    let versions = tokio::task::spawn_blocking(move || st.storage.list(&m))
        .await
        .map_err(AppError::internal)??;
    match best_version(&versions) {
        Some(v) => {
            let v = v.clone();
            if let Some(e) = upstream_failure {
                tracing::warn!(
                    module,
                    "upstream @latest failed, answering from storage: {e}"
                );
            }
            // The stored .info of that version is the answer (counted as `info` bytes).
            open_stored(state, module, &v, FileKind::Info)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("not found: module {module}")))
        }
        None => match upstream_failure {
            Some(e) => Err(upstream_error(e, module, "latest")),
            None => Err(AppError::NotFound(format!("not found: module {module}"))),
        },
    }
}

/// `/sumdb/<name>/<rest>`: passed to the upstream for configured names; full tiles are
/// cached on disk (they never change).
async fn sumdb(state: &AppState, name: &str, rest: &str) -> Result<Response, AppError> {
    use crate::sumdb::SumdbRequest;
    let not_found = || AppError::NotFound("not found".to_string());
    if !state.config.sumdb.iter().any(|db| db.name == name) {
        return Err(not_found());
    }
    let up = state.upstream.as_ref().ok_or_else(not_found)?;
    let request = crate::sumdb::parse_rest(rest).ok_or_else(not_found)?;
    let cache = match &request {
        SumdbRequest::Lookup { module, .. } if state.upstream_for(module).is_none() => {
            return Err(AppError::NotFound(format!(
                "not found: {module} is private to this registry; \
                 list it in GONOSUMDB (or GOPRIVATE) on the client"
            )))
        }
        SumdbRequest::Tile { full: true } => Some(crate::sumdb::tile_cache_path(
            &state.storage.staging().join("sumdb"),
            name,
            rest,
        )),
        _ => None,
    };
    if let Some(path) = &cache {
        if let Ok(bytes) = tokio::fs::read(path).await {
            return Ok(bytes_response(
                state,
                "sumdb",
                "application/octet-stream",
                Bytes::from(bytes),
            ));
        }
    }
    let body = up
        .get(&format!("sumdb/{name}/{rest}"), 1 << 20)
        .await
        .map_err(|e| upstream_error(e, "checksum database", rest))?;
    if let Some(path) = cache {
        let bytes = body.clone();
        let staging = state.storage.staging().to_path_buf();
        // Best effort: a tile that cannot be cached is fetched again next time.
        let _ =
            tokio::task::spawn_blocking(move || write_atomically(&staging, &path, &bytes)).await;
    }
    let ctype = match request {
        SumdbRequest::Tile { .. } => "application/octet-stream",
        _ => "text/plain; charset=utf-8",
    };
    Ok(bytes_response(state, "sumdb", ctype, body))
}

/// Write `bytes` to `path` through a temporary file in `staging` and a rename.
fn write_atomically(
    staging: &std::path::Path,
    path: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    let staged = crate::storage::StagingDir::create(staging)?;
    staged.write_file("tile", bytes)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(staged.file("tile"), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_protocol_paths() {
        assert_eq!(
            parse_path("/github.com/!burnt!sushi/toml/@v/v1.2.0.zip").unwrap(),
            ProxyRequest::File {
                module: "github.com/BurntSushi/toml".into(),
                version: "v1.2.0".into(),
                kind: FileKind::Zip
            }
        );
        assert_eq!(
            parse_path("/example.com/m/@v/list").unwrap(),
            ProxyRequest::List {
                module: "example.com/m".into()
            }
        );
        assert_eq!(
            parse_path("/example.com/m/@latest").unwrap(),
            ProxyRequest::Latest {
                module: "example.com/m".into()
            }
        );
        assert_eq!(
            parse_path("/sumdb/sum.example/supported").unwrap(),
            ProxyRequest::Sumdb {
                name: "sum.example".into(),
                rest: "supported".into()
            }
        );
        // Layout collisions and over-long elements are 400, not 500.
        assert!(matches!(
            parse_path("/example.com/a/v1.0.0/x/@v/list"),
            Err(AppError::BadRequest(_))
        ));
        let long = "x".repeat(256);
        assert!(matches!(
            parse_path(&format!("/example.com/{long}/@v/v1.0.0.info")),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            parse_path(&format!(
                "/example.com/m/@v/v1.0.0-{}.info",
                "a".repeat(250)
            )),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            parse_path("/github.com/BurntSushi/toml/@v/list"),
            Err(AppError::BadRequest(_))
        ));
        assert!(matches!(
            parse_path("/example.com/m"),
            Err(AppError::NotFound(_))
        ));
    }

    #[test]
    fn best_version_prefers_releases() {
        let vs: Vec<String> = [
            "v1.0.0",
            "v1.1.0-rc.1",
            "v0.0.0-20200101000000-abcdefabcdef",
            "v0.9.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(best_version(&vs).unwrap(), "v1.0.0");
        let vs: Vec<String> = ["v1.1.0-rc.1", "v0.0.0-20200101000000-abcdefabcdef"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(best_version(&vs).unwrap(), "v1.1.0-rc.1");
    }

    #[test]
    fn only_plain_queries_are_forwarded() {
        assert!(is_forwardable_query("master"));
        assert!(is_forwardable_query("v1.2"));
        assert!(is_forwardable_query("0123abcd"));
        for q in ["..#", "..", ".x", "a#b", "a?b", "a/b", "a%2e", ""] {
            assert!(!is_forwardable_query(q), "{q}");
        }
    }
}
