//! Client for the upstream GOPROXY used on a miss.
//!
//! The base URL comes from configuration (never from code). Requests use the escaped
//! module path and version, as the GOPROXY protocol requires. "Not found" (404/410) is a
//! normal answer, distinct from a failure (network error, 5xx), because the two are
//! answered differently to the go command.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

/// An upstream answer that is not a body.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// 404 or 410 from the upstream (the status is kept so 410 can be passed on).
    #[error("not found upstream (status {0})")]
    NotFound(u16),
    /// The body is larger than allowed.
    #[error("upstream body larger than {0} bytes")]
    TooLarge(u64),
    /// Anything else: connection refused, timeout, 5xx, bad body.
    #[error("{0}")]
    Failed(String),
}

/// A configured upstream proxy.
#[derive(Debug, Clone)]
pub struct Upstream {
    base: String,
    client: reqwest::Client,
}

impl Upstream {
    /// A client for `base` (an http(s) URL without trailing slash).
    pub fn new(base: &str) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .user_agent(concat!("go-registry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Upstream {
            base: base.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// GET `<base>/<path>` (path already escaped), reading at most `limit` bytes.
    pub async fn get(&self, path: &str, limit: u64) -> Result<Bytes, UpstreamError> {
        let url = format!("{}/{}", self.base, path);
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| UpstreamError::Failed(format!("GET {path}: {}", without_url(&e))))?;
        let status = resp.status().as_u16();
        if status == 404 || status == 410 {
            return Err(UpstreamError::NotFound(status));
        }
        if !resp.status().is_success() {
            return Err(UpstreamError::Failed(format!(
                "GET {path}: status {status}"
            )));
        }
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(UpstreamError::TooLarge(limit));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| UpstreamError::Failed(format!("GET {path}: {}", without_url(&e))))?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(UpstreamError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }
}

/// A reqwest error's text without the URL (which names the upstream host).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<upstream>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
