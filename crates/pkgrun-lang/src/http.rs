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
//!
//! Three limits bound an attempt ([`Timeouts`], set once per process from the command
//! line or `PKGRUN_HTTP_*` with [`set_timeouts`]): the TCP connect, the read timeout (the
//! answer's headers within it of sending the request, upload included, then no gap longer
//! than it between two reads of the body: a registry that stalls mid-body fails the
//! attempt, which is retried like any timeout), and the whole request.

use std::io::Read as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// The time limits of one attempt. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP connection.
    pub connect: Duration,
    /// The answer's headers after the request was sent, then each read of the body.
    pub read: Duration,
    /// The whole attempt, from connecting to the last byte of the body.
    pub whole: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(60),
            whole: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    /// Every limit at most `deadline` (a quick check must not wait longer).
    pub fn capped(self, deadline: Duration) -> Timeouts {
        Timeouts {
            connect: self.connect.min(deadline),
            read: self.read.min(deadline),
            whole: self.whole.min(deadline),
        }
    }

    /// The limits as they act: reqwest's blocking `timeout` (the read timeout) also bounds
    /// the connect, and nothing outlasts the whole request. Messages name these.
    fn effective(self) -> Timeouts {
        let read = self.read.min(self.whole);
        Timeouts {
            connect: self.connect.min(read),
            read,
            whole: self.whole,
        }
    }
}

/// The process-wide limits [`RegistryHttp::new`] uses (the CLI sets them once, before
/// any client is built; `None`: the defaults).
static TIMEOUTS: Mutex<Option<Timeouts>> = Mutex::new(None);

/// Sets the limits of every client built from now on.
pub fn set_timeouts(timeouts: Timeouts) {
    *TIMEOUTS.lock().unwrap_or_else(|e| e.into_inner()) = Some(timeouts);
}

/// The limits set with [`set_timeouts`], else the defaults.
pub fn timeouts() -> Timeouts {
    TIMEOUTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or_default()
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
    timeouts: Timeouts,
    log: Option<Logger>,
}

impl std::fmt::Debug for RegistryHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryHttp")
            .field("policy", &self.policy)
            .field("timeouts", &self.timeouts)
            .field("logs_retries", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

impl RegistryHttp {
    /// A client with the process's [`timeouts`].
    pub fn new(policy: RetryPolicy) -> Result<Self, Failure> {
        Self::with_timeouts(policy, timeouts())
    }

    /// A client whose requests (connect + answer) end after `deadline`: short for quick
    /// checks such as `pkgrun health`, where a hung registry must not hang the caller.
    pub fn with_deadline(policy: RetryPolicy, deadline: Duration) -> Result<Self, Failure> {
        Self::with_timeouts(policy, timeouts().capped(deadline))
    }

    /// A client with these limits.
    pub fn with_timeouts(policy: RetryPolicy, timeouts: Timeouts) -> Result<Self, Failure> {
        // reqwest's blocking `timeout` bounds the send (up to the answer's headers) and
        // each read of the body separately: exactly a read timeout. The whole-request
        // limit is checked by `read` between reads.
        let timeouts = timeouts.effective();
        let builder = || {
            Client::builder()
                .connect_timeout(timeouts.connect)
                .timeout(timeouts.read)
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
            timeouts,
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
            let deadline = Instant::now() + self.timeouts.whole;
            match build(client)
                .send()
                .map(|answer| read(answer, deadline, &self.timeouts))
            {
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
                Err(e) => last_problem = describe(e, &self.timeouts),
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

/// What went wrong with a request that got no answer, with the limit that ran out.
fn describe(e: reqwest::Error, timeouts: &Timeouts) -> String {
    let limit = if e.is_connect() {
        ("connect", timeouts.connect)
    } else {
        ("read", timeouts.read)
    };
    match (e.is_timeout(), limit) {
        (true, (what, after)) => format!(
            "no {} within {:.1}s ({what} timeout): {}",
            if what == "connect" {
                "connection"
            } else {
                "answer"
            },
            after.as_secs_f64(),
            without_url(e)
        ),
        (false, _) => without_url(e),
    }
}

/// The answer read to the end; a body that ends early, stalls longer than the read
/// timeout or runs past `deadline` is an error text (retried like no answer).
fn read(mut response: Response, deadline: Instant, timeouts: &Timeouts) -> Result<Reply, String> {
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
    let body = read_body(&mut response, deadline, timeouts)?;
    Ok(Reply {
        status,
        content_type,
        body,
        retry_after,
        location,
    })
}

/// The body, read in chunks: each read is bounded by the client's read timeout (reqwest's
/// blocking `timeout`), the sum by `deadline`.
fn read_body(
    response: &mut Response,
    deadline: Instant,
    timeouts: &Timeouts,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match response.read(&mut chunk) {
            Ok(0) => return Ok(body),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_problem(e, body.len(), timeouts)),
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the answer took longer than {:.1}s (whole-request timeout) after {} bytes",
                timeouts.whole.as_secs_f64(),
                body.len()
            ));
        }
    }
}

/// Why reading the body failed: a stall (the read timeout ran out) or the cause chain.
fn read_problem(e: std::io::Error, received: usize, timeouts: &Timeouts) -> String {
    let kind = e.kind();
    match e
        .into_inner()
        .map(|inner| inner.downcast::<reqwest::Error>())
    {
        Some(Ok(e)) if e.is_timeout() => format!(
            "the answer stalled after {received} bytes: no byte within {:.1}s (read timeout)",
            timeouts.read.as_secs_f64()
        ),
        Some(Ok(e)) => without_url(*e),
        Some(Err(other)) => other.to_string(),
        None => kind.to_string(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::net::TcpListener;

    /// A FAKE server on loopback: answers every connection with headers promising 100
    /// bytes and the first 10, then holds the connection open without sending more.
    fn stalling_server() -> (String, std::sync::mpsc::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/file", listener.local_addr().unwrap());
        let (done, finished) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut open = Vec::new();
            listener.set_nonblocking(true).unwrap();
            while finished.try_recv().is_err() {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
                        open.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        (url, done)
    }

    fn quick(read: Duration) -> RegistryHttp {
        RegistryHttp::with_timeouts(
            RetryPolicy {
                attempts: 2,
                first_backoff: Duration::from_millis(10),
                max_retry_after: Duration::from_secs(1),
            },
            Timeouts {
                connect: Duration::from_secs(5),
                read,
                whole: Duration::from_secs(60),
            },
        )
        .unwrap()
    }

    #[test]
    fn a_body_that_stalls_fails_each_attempt_after_the_read_timeout() {
        let (url, done) = stalling_server();
        let started = Instant::now();
        let err = quick(Duration::from_millis(300)).get(&url).unwrap_err();
        let took = started.elapsed();
        let _ = done.send(());
        // A generous bound (2 × 0.3 s expected), far below the 2 × 60 s that the
        // whole-request limit alone would take: not a measurement.
        assert!(
            took < Duration::from_secs(30),
            "not cut by the read timeout: {took:?}"
        );
        assert_eq!(err.kind, crate::FailureKind::Unreachable, "{err:?}");
        let text = format!("{err:?}");
        assert!(
            text.contains("the answer stalled after 10 bytes") && text.contains("read timeout"),
            "the read timeout, not the 60 s whole-request limit, must end the attempt: {text}"
        );
    }

    #[test]
    fn limits_are_capped_by_a_deadline() {
        let capped = Timeouts::default().capped(Duration::from_secs(2));
        assert_eq!(capped.connect, Duration::from_secs(2));
        assert_eq!(capped.read, Duration::from_secs(2));
        assert_eq!(capped.whole, Duration::from_secs(2));
        let odd = Timeouts {
            connect: Duration::from_secs(9),
            read: Duration::from_secs(8),
            whole: Duration::from_secs(3),
        }
        .effective();
        assert_eq!(
            (odd.connect, odd.read, odd.whole),
            (
                Duration::from_secs(3),
                Duration::from_secs(3),
                Duration::from_secs(3)
            )
        );
    }
}
