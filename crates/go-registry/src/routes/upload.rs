//! `POST /upload`: store one module version.
//!
//! Multipart form fields: `module`, `version` (text), `info` (JSON), `mod` (go.mod), `zip`
//! (module zip); header `Authorization: Bearer <token>`. The token is checked before the
//! body is read.
//!
//! Answers: 201 + JSON `{"module","version","h1","mod_h1","outcome":"uploaded"}` for a new
//! version; 200 with `"outcome":"already-present"` when the same bytes are stored already;
//! 409 naming both `h1:` hashes when other bytes are stored; 400/413 for invalid uploads;
//! 401 for a missing or wrong token; 403 when the instance has no token configured; 408
//! when the body stalls for `--body-timeout`.
//!
//! The zip part is streamed into a staging directory as it arrives (never held whole in
//! memory while the client sends it); it is read back for the checks within the global
//! `--max-check-bytes` budget. The staging directory is removed on every failure.

use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::AppError;
use crate::storage::{CommitOutcome, ZIP_FILE};
use crate::validate::Upload;
use crate::AppState;
use tokio::io::AsyncWriteExt;

/// The upload handler.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, AppError> {
    let result = upload_inner(&state, &headers, multipart).await;
    let outcome = match &result {
        Ok((_, o)) => *o,
        Err(AppError::Unauthorized(_)) | Err(AppError::Forbidden(_)) => "unauthorized",
        Err(AppError::Conflict(_)) => "conflict",
        Err(AppError::Internal(_)) => "error",
        Err(_) => "rejected",
    };
    state.metrics.upload(outcome);
    result.map(|(r, _)| r)
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if state.config.tokens.is_empty() {
        return Err(AppError::Forbidden(
            "uploads are disabled on this registry (no token configured)",
        ));
    }
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized("missing bearer token"))?;
    let value = value.as_bytes();
    let token = value
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case(b"bearer "))
        .map(|_| value[7..].trim_ascii())
        .ok_or(AppError::Unauthorized("missing bearer token"))?;
    // Check every configured token (no early exit on a match is needed for secrecy: the
    // comparison of each is constant-time).
    let ok = state
        .config
        .tokens
        .iter()
        .fold(false, |acc, t| t.matches(token) | acc);
    if ok {
        Ok(())
    } else {
        Err(AppError::Unauthorized("invalid token"))
    }
}

async fn upload_inner(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(Response, &'static str), AppError> {
    authorize(state, headers)?;
    let multipart = multipart
        .map_err(|e| AppError::BadRequest(format!("expected a multipart/form-data body: {e}")))?;
    let staged = state.storage.stage()?;
    let (up, zip_len) = read_form(state, multipart, &staged).await?;
    let (module, version) = (up.module.clone(), up.version.clone());
    let (up, validated) =
        match crate::routes::proxy::check_staged_zip(state, up, staged.file(ZIP_FILE), zip_len)
            .await
        {
            Ok(checked) => checked,
            Err(e) => {
                tracing::info!(
                    module = %module,
                    version = %version,
                    "upload rejected: {e}"
                );
                return Err(e);
            }
        };
    let st = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // Marked before the version appears, so it is private from its first moment.
        st.storage
            .mark(crate::storage::Origin::Uploaded, &up.module)?;
        st.storage
            .commit(staged, &up.module, &up.version, &up.info, &up.mod_file)
    })
    .await
    .map_err(AppError::internal)??;
    respond(outcome, &module, &version, &validated).await
}

/// The five form fields, in any order, each at most once and within its limit; the zip
/// streams into the staging directory, the small fields into memory. Returns the upload
/// (zip not yet read) and the zip's length.
async fn read_form(
    state: &AppState,
    mut multipart: Multipart,
    staged: &crate::storage::StagingDir,
) -> Result<(Upload, u64), AppError> {
    let limits = state.config.limits;
    let mut up = Upload::default();
    let mut seen = [false; 5];
    let mut too_large: Option<AppError> = None;
    let mut zip_len = 0u64;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        let (idx, limit) = match name.as_str() {
            "module" => (0, 1024),
            "version" => (1, 1024),
            "info" => (2, limits.info),
            "mod" => (3, limits.mod_file),
            "zip" => (4, limits.zip),
            other => {
                return Err(AppError::BadRequest(format!(
                    "unexpected form field {other:?} (expected module, version, info, mod, zip)"
                )))
            }
        };
        if seen[idx] {
            return Err(AppError::BadRequest(format!(
                "form field {name:?} given twice"
            )));
        }
        seen[idx] = true;
        let zip_path = (idx == 4).then(|| staged.file(ZIP_FILE));
        let body = read_field(&mut field, &name, limit, zip_path, too_large.is_some()).await?;
        if idx == 4 {
            zip_len = body.len;
        }
        if let Some(e) = body.too_large {
            too_large.get_or_insert(e);
        }
        if too_large.is_some() {
            continue;
        }
        match idx {
            0 | 1 => {
                let text = String::from_utf8(body.bytes)
                    .map_err(|_| AppError::BadRequest(format!("form field {name:?} is not UTF-8")))?
                    .trim()
                    .to_string();
                if idx == 0 {
                    up.module = text;
                } else {
                    up.version = text;
                }
            }
            2 => up.info = body.bytes,
            3 => up.mod_file = body.bytes,
            _ => {}
        }
    }
    if let Some(e) = too_large {
        return Err(e);
    }
    let missing: Vec<&str> = ["module", "version", "info", "mod", "zip"]
        .iter()
        .zip(seen)
        .filter(|(_, s)| !s)
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(AppError::BadRequest(format!(
            "missing form field(s): {}",
            missing.join(", ")
        )));
    }
    Ok((up, zip_len))
}

/// One field's body: in memory, or streamed to `zip_path`.
struct FieldBody {
    bytes: Vec<u8>,
    len: u64,
    too_large: Option<AppError>,
}

/// Reads a field to its end. Past `limit` (or when an earlier field was already too
/// large) the rest is read and discarded: answering before the client has sent it all
/// would reset the connection and the client might never see the 413. The overall body
/// limit bounds how much is read.
async fn read_field(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
    limit: u64,
    zip_path: Option<std::path::PathBuf>,
    discard: bool,
) -> Result<FieldBody, AppError> {
    let mut body = FieldBody {
        bytes: Vec::new(),
        len: 0,
        too_large: None,
    };
    let mut file = match zip_path {
        Some(path) => Some(tokio::fs::File::create(path).await?),
        None => None,
    };
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if discard || body.too_large.is_some() {
            continue;
        }
        body.len += chunk.len() as u64;
        if body.len > limit {
            body.too_large = Some(AppError::PayloadTooLarge(format!(
                "form field {name:?} is larger than {limit} bytes"
            )));
            body.bytes = Vec::new();
            continue;
        }
        match &mut file {
            Some(f) => f.write_all(&chunk).await?,
            None => body.bytes.extend_from_slice(&chunk),
        }
    }
    if let Some(mut f) = file {
        f.flush().await?;
    }
    Ok(body)
}

/// The answer for a committed (or refused) version: 201 uploaded, 200 already present
/// with identical bytes, 409 naming both `h1:` hashes.
async fn respond(
    outcome: CommitOutcome,
    module: &str,
    version: &str,
    validated: &crate::validate::Validated,
) -> Result<(Response, &'static str), AppError> {
    let json_response = |status: StatusCode, outcome: &str| {
        let text = json!({
            "module": module,
            "version": version,
            "h1": validated.h1,
            "mod_h1": validated.mod_h1,
            "outcome": outcome,
        })
        .to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
    };
    match outcome {
        CommitOutcome::Stored => {
            tracing::info!(module = %module, version = %version, h1 = %validated.h1, "uploaded");
            Ok((json_response(StatusCode::CREATED, "uploaded"), "uploaded"))
        }
        CommitOutcome::AlreadyPresent => {
            tracing::info!(module = %module, version = %version, "already present with identical bytes");
            Ok((
                json_response(StatusCode::OK, "already-present"),
                "already_present",
            ))
        }
        CommitOutcome::Conflict { existing_zip } => {
            let existing = tokio::task::spawn_blocking(move || {
                std::fs::read(&existing_zip)
                    .map_err(AppError::from)
                    .and_then(|b| gomod::hash::hash_zip(&b).map_err(AppError::internal))
            })
            .await
            .map_err(AppError::internal)??;
            tracing::warn!(module = %module, version = %version, stored = %existing, uploaded = %validated.h1, "conflicting re-upload refused");
            Err(AppError::Conflict(format!(
                "{module}@{version} already exists with different content: stored {existing}, uploaded {}",
                validated.h1
            )))
        }
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if is_body_timeout(&e) {
        AppError::Timeout("the request body stalled; send it without pauses".into())
    } else if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(format!("upload too large: {}", e.body_text()))
    } else {
        AppError::BadRequest(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// Whether a multipart error comes from the body idle timeout (`--body-timeout`).
fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = s.source();
    }
    false
}
