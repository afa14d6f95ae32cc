//! Client for the upstream GOPROXY used on a miss.
//!
//! The base URL comes from configuration (never from code). Requests use the escaped
//! module path and version, as the GOPROXY protocol requires. "Not found" (404/410) is a
//! normal answer, distinct from a failure (network error, 5xx), because the two are
//! answered differently to the go command.
//!
//! At most `--max-upstream-fetches` requests run at once (a permit is held from sending
//! the request until the body is read), so a burst of misses cannot open unbounded
//! connections upstream. Bodies are read with a size limit; zips are streamed to a file.

use std::sync::Arc;
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
    slots: Arc<tokio::sync::Semaphore>,
}

impl Upstream {
    /// A client for `base` (an http(s) URL without trailing slash) running at most
    /// `max_fetches` requests at once.
    pub fn new(base: &str, max_fetches: usize) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            // A redirect must not downgrade to plain HTTP or leave for another scheme.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if attempt.url().scheme() == "https"
                    || attempt
                        .previous()
                        .first()
                        .is_some_and(|u| u.scheme() == "http")
                {
                    attempt.follow()
                } else {
                    attempt.error("redirect from https to another scheme")
                }
            }))
            .user_agent(concat!("go-registry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Upstream {
            base: base.trim_end_matches('/').to_string(),
            client,
            slots: Arc::new(tokio::sync::Semaphore::new(max_fetches.max(1))),
        })
    }

    /// GET `<base>/<path>` (path already escaped), reading at most `limit` bytes.
    pub async fn get(&self, path: &str, limit: u64) -> Result<Bytes, UpstreamError> {
        let (resp, _permit) = self.send(path, limit).await?;
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| read_error(path, &e))?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(UpstreamError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }

    /// GET `<base>/<path>` into `file`, streamed, at most `limit` bytes; returns the size.
    pub async fn get_to_file(
        &self,
        path: &str,
        limit: u64,
        file: &mut tokio::fs::File,
    ) -> Result<u64, UpstreamError> {
        use tokio::io::AsyncWriteExt;
        let write_error =
            |e: std::io::Error| UpstreamError::Failed(format!("writing {path} to staging: {e}"));
        let (resp, _permit) = self.send(path, limit).await?;
        let mut written = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| read_error(path, &e))?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(UpstreamError::TooLarge(limit));
            }
            file.write_all(&chunk).await.map_err(write_error)?;
        }
        file.flush().await.map_err(write_error)?;
        Ok(written)
    }

    /// Send the request (holding a fetch permit, which the caller keeps until the body is
    /// read) and check the status and the declared length.
    async fn send(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<(reqwest::Response, tokio::sync::OwnedSemaphorePermit), UpstreamError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| UpstreamError::Failed("upstream client closed".into()))?;
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
        Ok((resp, permit))
    }
}

fn read_error(path: &str, e: &reqwest::Error) -> UpstreamError {
    UpstreamError::Failed(format!("GET {path}: {}", without_url(e)))
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
