//! `AppError`: every failure a handler can return, mapped to an HTTP status and a short
//! `text/plain` body.
//!
//! Client errors (4xx) carry a message meant for the client (what was wrong with the
//! request). Server-side failures (I/O, upstream trouble) are logged with their full cause
//! chain and answered with a generic body, so paths, hosts and OS errors never leak.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to the client. See the module docs for what each body may contain.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is malformed or breaks a Go module rule.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or wrong bearer token.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: uploads are disabled on this instance.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404: not here (and, for the proxy protocol, "try the next proxy").
    #[error("{0}")]
    NotFound(String),
    /// 410: gone; the go command treats it like 404 but it says "permanently".
    #[error("{0}")]
    Gone(String),
    /// 409: the version exists with other bytes.
    #[error("{0}")]
    Conflict(String),
    /// 408: the request body stalled.
    #[error("{0}")]
    Timeout(String),
    /// 413: a part of the upload is over its size limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 502: the upstream proxy failed in a way that is not "not found".
    #[error("upstream proxy failed: {0}")]
    BadGateway(String),
    /// 500: anything on our side; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Wrap any server-side failure; its text is logged, not sent.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<std::io::Error> for AppError {
    fn from(err: std::io::Error) -> Self {
        AppError::Internal(err.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(cause) => {
                tracing::error!("internal error: {cause:#}");
            }
            AppError::BadGateway(detail) => {
                tracing::warn!("upstream failure: {detail}");
            }
            _ => {}
        }
        // The upstream detail may name the upstream host: keep it in the log only.
        let body = match &self {
            AppError::BadGateway(_) => "upstream proxy failed\n".to_string(),
            other => format!("{other}\n"),
        };
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
