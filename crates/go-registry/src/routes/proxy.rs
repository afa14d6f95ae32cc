//! The GOPROXY read protocol (`GOPROXY=http://host:port`):
//!
//! * `GET /<module>/@v/list`: known versions, one per line (pseudo-versions only with
//!   `--list-pseudo-versions`); stored versions plus the upstream's list.
//! * `GET /<module>/@v/<version>.info|.mod|.zip`: from storage; on a miss, the whole
//!   version (all three files) is fetched from the upstream once, stored atomically, and
//!   then served from storage.
//! * `GET /<module>/@latest`: the upstream's answer, else the best stored version.
//! * `GET /sumdb/<name>/supported` and anything under `/sumdb/`: 404, so the go command
//!   talks to its checksum database directly (or not at all, with GONOSUMDB).
//!
//! Module paths and versions in URLs are `!`-escaped (`github.com/!burnt!sushi/...`).
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
use crate::storage::{CommitOutcome, FileKind};
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
    /// Anything under `/sumdb/`.
    Sumdb,
}

/// Parse a request path (percent-decoded, with or without the leading `/`).
pub fn parse_path(path: &str) -> Result<ProxyRequest, AppError> {
    let path = path.trim_start_matches('/');
    if path.starts_with("sumdb/") {
        return Ok(ProxyRequest::Sumdb);
    }
    let not_found = || AppError::NotFound("not found".to_string());
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
    Ok(ProxyRequest::File {
        module,
        version,
        kind,
    })
}

fn unescape_module(escaped: &str) -> Result<String, AppError> {
    gomod::path::unescape_path(escaped)
        .map_err(|e| AppError::BadRequest(format!("bad request: {e}")))
}

/// Fallback handler: every GET/HEAD that is not another route.
pub async fn proxy(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n").into_response();
    }
    let path = percent_decode(uri.path());
    let result = match parse_path(&path) {
        Ok(ProxyRequest::Sumdb) => Err(AppError::NotFound("not found".into())),
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

/// Fetch a whole version from the upstream and store it (once, however many requests miss
/// at the same time).
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
        let base = format!(
            "{}/@v/{}",
            escape_module(module)?,
            gomod::path::escape_version(version)
                .map_err(|e| AppError::BadRequest(format!("bad request: {e}")))?
        );
        let count = |outcome: &'static str| {
            state
                .metrics
                .upstream_fetches
                .get_or_create(&crate::metrics::OutcomeLabels { outcome })
                .inc()
        };
        let fetched = async {
            let info = up
                .get(&format!("{base}.info"), state.config.limits.info)
                .await?;
            let mod_file = up
                .get(&format!("{base}.mod"), state.config.limits.mod_file)
                .await?;
            let zip = up
                .get(&format!("{base}.zip"), state.config.limits.zip)
                .await?;
            Ok::<_, UpstreamError>((info, mod_file, zip))
        }
        .await;
        let (info, mod_file, zip) = match fetched {
            Ok(f) => {
                count("ok");
                f
            }
            Err(e) => {
                count(if matches!(e, UpstreamError::NotFound(_)) {
                    "not_found"
                } else {
                    "error"
                });
                return Err(upstream_error(e, module, version));
            }
        };
        let st = state.clone();
        let (m, v) = (module.to_string(), version.to_string());
        let outcome =
            tokio::task::spawn_blocking(move || st.storage.save(&m, &v, &info, &mod_file, &zip))
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

/// Decode `%XX` escapes (the go command does not send them, but other clients may).
fn percent_decode(path: &str) -> String {
    if !path.contains('%') {
        return path.to_string();
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&path[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
            ProxyRequest::Sumdb
        );
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
    fn percent_decoding() {
        assert_eq!(
            percent_decode("/a/@v/v1.0.0%2Bincompatible.info"),
            "/a/@v/v1.0.0+incompatible.info"
        );
        assert_eq!(percent_decode("/a%"), "/a%");
    }
}
