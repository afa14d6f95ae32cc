//! HTTP to registries with bounded retries.
//!
//! Every request a runner sends to a registry goes through [`RegistryHttp`]: a
//! connection refused, a timeout, a 502/503/504 or a 429 is retried a bounded number of
//! times with exponential backoff (a 429 waits its `Retry-After` seconds instead,
//! capped), so is an answer whose body ends early (a connection cut mid-body), and every wait is logged when the client has a logger; when the attempts
//! run out the result is a [`FailureKind::Unreachable`](crate::FailureKind::Unreachable)
//! failure (exit 5). Any other status is returned to the adapter, which knows what a 401
//! or a 409 means for its registry. URLs in messages are redacted: credentials never print.
//!
//! Uploads go through [`RegistryHttp::send_upload`], which never follows a redirect: a
//! POST answered with 301/302/303 would be followed as a GET whose 200 says nothing
//! about the upload, so any 3xx answer to an upload is a publish failure (nothing counts
//! as uploaded). Retrying an upload is safe: every registry pkgrun speaks treats a
//! re-upload of the same bytes as present (Go registry, devpi) or answers 409, which the
//! adapters resolve with the shared already-present rule.

use std::time::Duration;

use pkgrun_core::log::Logger;
use pkgrun_core::secret::RedactedUrl;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;

use crate::failure::Failure;

/// How many times a request is tried, and the first backoff (doubled each retry).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    /// The longest `Retry-After` of a 429 that is waited as asked.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// A registry response read to the end.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// `Retry-After` in seconds, when given.
    pub retry_after: Option<Duration>,
    /// `Location`, when given (a redirect).
    pub location: Option<String>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body as text, cut to a length that fits in an error message.
    pub fn text_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        const MAX: usize = 600;
        if text.len() > MAX {
            let cut = text
                .char_indices()
                .nth(MAX)
                .map(|(i, _)| i)
                .unwrap_or(text.len());
            format!("{}…", &text[..cut])
        } else {
            text.to_string()
        }
    }

    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A blocking HTTP client for registries.
#[derive(Clone)]
pub struct RegistryHttp {
    client: Client,
    /// The same settings, never following redirects: for uploads.
    upload_client: Client,
    policy: RetryPolicy,
    log: Option<Logger>,
}

impl std::fmt::Debug for RegistryHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryHttp")
            .field("policy", &self.policy)
            .field("logs_retries", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

impl RegistryHttp {
    pub fn new(policy: RetryPolicy) -> Result<Self, Failure> {
        Self::with_deadline(policy, Duration::from_secs(300))
    }

    /// A client whose requests (connect + answer) end after `deadline`: short for quick
    /// checks such as `pkgrun health`, where a hung registry must not hang the caller.
    pub fn with_deadline(policy: RetryPolicy, deadline: Duration) -> Result<Self, Failure> {
        let builder = || {
            Client::builder()
                .connect_timeout(deadline.min(Duration::from_secs(5)))
                .timeout(deadline)
                .user_agent(concat!("pkgrun/", env!("CARGO_PKG_VERSION")))
        };
        let built = |b: reqwest::blocking::ClientBuilder| {
            b.build()
                .map_err(|e| Failure::internal(format!("cannot build the HTTP client: {e}")))
        };
        Ok(RegistryHttp {
            client: built(builder())?,
            upload_client: built(builder().redirect(reqwest::redirect::Policy::none()))?,
            policy,
            log: None,
        })
    }

    /// Logs every retry and its wait through `log`.
    pub fn with_logger(mut self, log: Logger) -> Self {
        self.log = Some(log);
        self
    }

    /// Sends an upload built by `build` (see [`RegistryHttp::send`]) without following
    /// redirects: a 3xx answer is a publish failure naming where it pointed.
    pub fn send_upload(
        &self,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, Failure> {
        let reply = self.send_with(&self.upload_client, url, build)?;
        if reply.status.is_redirection() {
            // A relative Location is resolved against the upload URL, then redacted.
            let to = reply
                .location
                .as_deref()
                .map(|l| {
                    url::Url::parse(url)
                        .and_then(|base| base.join(l))
                        .map(|u| redact(u.as_str()))
                        .unwrap_or_else(|_| "an unparseable location".into())
                })
                .unwrap_or_else(|| "nowhere (no Location header)".into());
            return Err(Failure::publish(format!(
                "the registry at {} answered the upload with HTTP {} (a redirect to {to}): nothing was uploaded",
                redact(url),
                reply.status.as_u16()
            ))
            .with_hint("point the registry URL at the upload endpoint itself (e.g. the redirect's target, or https instead of http)"));
        }
        Ok(reply)
    }

    /// `GET url` with retries.
    pub fn get(&self, url: &str) -> Result<Reply, Failure> {
        self.send(url, |c| c.get(url))
    }

    /// Sends the request `build` makes (called once per attempt, so bodies such as
    /// multipart forms are rebuilt), retrying what is worth retrying. `url` is only
    /// used in messages and is redacted there.
    pub fn send(
        &self,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, Failure> {
        self.send_with(&self.client, url, build)
    }

    fn send_with(
        &self,
        client: &Client,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Reply, Failure> {
        let shown = redact(url);
        let mut backoff = self.policy.first_backoff;
        let mut last_problem = String::new();
        for attempt in 1..=self.policy.attempts.max(1) {
            let mut wait = backoff;
            match build(client).send().map(read) {
                // An answer cut off mid-body is retried like no answer at all.
                Ok(Err(cut)) => last_problem = format!("the answer was cut off: {cut}"),
                Ok(Ok(reply)) if is_retryable_status(reply.status) => {
                    if let Some(asked) = reply.retry_after {
                        wait = asked.min(self.policy.max_retry_after);
                    }
                    last_problem = format!("HTTP {}: {}", reply.status, reply.text_excerpt());
                }
                Ok(Ok(reply)) => return Ok(reply),
                Err(e) if e.is_builder() => {
                    return Err(Failure::usage(format!(
                        "bad request to {shown}: {}",
                        without_url(e)
                    )))
                }
                Err(e) => last_problem = without_url(e),
            }
            if attempt < self.policy.attempts {
                if let Some(log) = &self.log {
                    log.warn(&format!(
                        "{shown}: {last_problem}; retrying in {:.1}s (attempt {} of {})",
                        wait.as_secs_f64(),
                        attempt + 1,
                        self.policy.attempts
                    ));
                }
                std::thread::sleep(wait);
                backoff *= 2;
            }
        }
        Err(Failure::unreachable(format!(
            "registry at {shown} did not answer after {} attempts",
            self.policy.attempts
        ))
        .with_detail(last_problem)
        .with_hint(
            "check that the registry is running and that the URL in the environment is right",
        ))
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// `Retry-After` as delay-seconds (the HTTP-date form is not used by registries here).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    value
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// The answer read to the end; a body that ends early is the cause chain's text.
fn read(response: Response) -> Result<Reply, String> {
    let status = response.status();
    let retry_after = retry_after(&response);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.bytes().map_err(without_url)?.to_vec();
    Ok(Reply {
        status,
        content_type,
        body,
        retry_after,
        location,
    })
}

/// reqwest's Display includes the URL, which may carry credentials: print the cause chain only.
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A URL as it may appear in logs: userinfo removed.
pub fn redact(url: &str) -> String {
    match RedactedUrl::parse(url) {
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable url>".to_string(),
    }
}
