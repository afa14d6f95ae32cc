//! A FAKE fault-injecting HTTP proxy: it sits between pkgrun (or a consumer) and a REAL
//! registry on loopback, forwards every request unchanged, and answers the requests that
//! match a rule the test sets at run time with a fault instead: a status (with
//! `Retry-After`), a delay, a stall or a dropped connection mid-body, a dropped upload
//! (before or after the registry got it), a truncated body, flipped bytes, a redirect.
//!
//! It speaks HTTP with hyper (server) and reqwest (client to the registry), so nothing
//! here parses HTTP by hand. A failing hyper service closes the connection without an
//! answer: that is how "drop" is made. The `Host` header is passed through, so registries
//! that write absolute URLs (Verdaccio's tarball links) point back at the proxy.
//!
//! [`FaultProxy::stop`] closes the listener and every open connection (the registry
//! "goes down"); [`FaultProxy::resume`] listens on the same port again.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

type Body = BoxBody<Bytes, std::io::Error>;

/// What the proxy does instead of (or on top of) forwarding.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer `status` (not forwarded), with `Retry-After: <secs>` when given.
    Status {
        status: u16,
        retry_after: Option<u32>,
    },
    /// Forward after waiting this long.
    Delay(Duration),
    /// Forward, send the headers and the first `after` body bytes, then never send more.
    StallMidBody { after: usize },
    /// Forward, send the headers (full `Content-Length`) and the first `after` body
    /// bytes, then close the connection.
    DropMidBody { after: usize },
    /// Read the first chunk of the request body, then close the connection: the
    /// registry never sees the request.
    DropMidUpload,
    /// Forward (the registry handles the request), then close the connection without
    /// the answer.
    DropAnswer,
    /// Forward and answer only the first `keep` body bytes, with a matching
    /// `Content-Length` (a well-formed but short answer).
    Truncate { keep: usize },
    /// Forward and invert one byte in the middle of the body.
    FlipBytes,
    /// Answer `status` with `Location: <location>` (not forwarded).
    Redirect { status: u16, location: String },
}

/// When a fault applies: method and path, and which of the matching requests. Every rule
/// counts the requests it matches; when several hold a request in their window, the one
/// added first decides.
#[derive(Debug, Clone)]
pub struct Rule {
    method: Option<String>,
    path_contains: Option<String>,
    path_ends_with: Option<String>,
    /// How many matching requests pass untouched before the fault applies.
    skip: usize,
    /// How many matching requests get the fault (`None`: all after `skip`).
    times: Option<usize>,
    fault: Fault,
}

impl Rule {
    /// Every request gets `fault` until narrowed.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            method: None,
            path_contains: None,
            path_ends_with: None,
            skip: 0,
            times: None,
            fault,
        }
    }

    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// The request's path (with its query) contains `part`.
    pub fn path_contains(mut self, part: &str) -> Rule {
        self.path_contains = Some(part.to_string());
        self
    }

    /// The request's path (without its query) ends with `suffix`.
    pub fn path_ends_with(mut self, suffix: &str) -> Rule {
        self.path_ends_with = Some(suffix.to_string());
        self
    }

    /// The first `n` matching requests pass; the fault starts at the (n+1)th.
    pub fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    /// Only `n` matching requests get the fault; later ones pass.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, method: &str, path_and_query: &str) -> bool {
        let path = path_and_query.split('?').next().unwrap_or("");
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path_and_query.contains(p))
            && self
                .path_ends_with
                .as_deref()
                .is_none_or(|s| path.ends_with(s))
    }
}

/// One request the proxy saw, and the fault it got (if any).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
}

struct RuleState {
    rule: Rule,
    matched: usize,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<RuleState>>,
    seen: Mutex<Vec<Seen>>,
    connections: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    /// The fault for this request. Every matching rule counts it; the first rule whose
    /// window (`skip`, `times`) holds it decides.
    fn fault_for(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("rules lock");
        let mut fault = None;
        for state in rules.iter_mut().filter(|s| s.rule.matches(method, path)) {
            let n = state.matched;
            state.matched += 1;
            let rule = &state.rule;
            let within = n >= rule.skip && rule.times.is_none_or(|t| n < rule.skip + t);
            if within && fault.is_none() {
                fault = Some(rule.fault.clone());
            }
        }
        fault
    }
}

/// See the module documentation.
pub struct FaultProxy {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    upstream: String,
    shared: Arc<Shared>,
    accept: Option<AbortHandle>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:<free port> and forwards to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Result<FaultProxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("fault proxy runtime")?;
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .context("fault proxy: bind")?;
        let addr = listener.local_addr()?;
        let mut proxy = FaultProxy {
            runtime: Some(runtime),
            addr,
            upstream: upstream.trim_end_matches('/').to_string(),
            shared: Arc::new(Shared::default()),
            accept: None,
        };
        proxy.serve(listener)?;
        Ok(proxy)
    }

    fn serve(&mut self, listener: TcpListener) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()?;
        let shared = Arc::clone(&self.shared);
        let upstream = self.upstream.clone();
        let runtime = self.runtime.as_ref().context("fault proxy stopped")?;
        let handle = runtime.handle().clone();
        let accept = runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (shared2, client, upstream) =
                    (Arc::clone(&shared), client.clone(), upstream.clone());
                let conn = handle.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle_request(Arc::clone(&shared2), client.clone(), upstream.clone(), req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                shared
                    .connections
                    .lock()
                    .expect("connections lock")
                    .push(conn.abort_handle());
            }
        });
        self.accept = Some(accept.abort_handle());
        Ok(())
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Adds a rule (after the existing ones: see [`Rule`] for which one decides).
    pub fn add(&self, rule: Rule) {
        self.shared
            .rules
            .lock()
            .expect("rules lock")
            .push(RuleState { rule, matched: 0 });
    }

    /// Removes every rule: everything is forwarded again.
    pub fn clear(&self) {
        self.shared.rules.lock().expect("rules lock").clear();
    }

    /// Forgets the requests seen so far (the counts start again from zero).
    pub fn forget(&self) {
        self.shared.seen.lock().expect("seen lock").clear();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("seen lock").clone()
    }

    /// How many requests with `method` whose path contains `part` were seen.
    pub fn count(&self, method: &str, part: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.contains(part))
            .count()
    }

    /// How many requests got a fault.
    pub fn faults_served(&self) -> usize {
        self.seen().iter().filter(|s| s.fault.is_some()).count()
    }

    /// Stops listening and cuts every open connection: the registry is unreachable.
    pub fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for conn in std::mem::take(&mut *self.shared.connections.lock().expect("lock")) {
            conn.abort();
        }
        // Let the aborted tasks drop their sockets before a resume binds the port.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Listens on the same port again after [`FaultProxy::stop`].
    pub fn resume(&mut self) -> Result<()> {
        let runtime = self.runtime.as_ref().context("fault proxy dropped")?;
        let listener = runtime
            .block_on(TcpListener::bind(self.addr))
            .with_context(|| format!("fault proxy: bind {} again", self.addr))?;
        self.serve(listener)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The proxy's error: hyper closes the connection without an answer.
#[derive(Debug)]
struct Dropped(&'static str);

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fault proxy dropped the connection: {}", self.0)
    }
}

impl std::error::Error for Dropped {}

async fn handle_request(
    shared: Arc<Shared>,
    client: reqwest::Client,
    upstream: String,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let method = req.method().as_str().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let fault = shared.fault_for(&method, &path);
    shared.seen.lock().expect("seen lock").push(Seen {
        method: method.clone(),
        path: path.clone(),
        fault: fault.clone(),
    });
    match &fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            read_request_body(req).await;
            let mut b = Response::builder().status(*status);
            if let Some(secs) = retry_after {
                b = b.header("retry-after", secs.to_string());
            }
            let text = format!("FAKE fault proxy: HTTP {status} for {method} {path}\n");
            return Ok(b.body(full(text.into())).expect("response"));
        }
        Some(Fault::Redirect { status, location }) => {
            read_request_body(req).await;
            return Ok(Response::builder()
                .status(*status)
                .header("location", location)
                .body(full(Bytes::new()))
                .expect("response"));
        }
        Some(Fault::DropMidUpload) => {
            let mut body = req.into_body();
            let _ = body.frame().await;
            return Err(Dropped("mid-upload"));
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let answer = match forward(&client, &upstream, req).await {
        Ok(a) => a,
        Err(e) => {
            let text = format!("FAKE fault proxy: upstream failed: {e:#}\n");
            return Ok(Response::builder()
                .status(502)
                .body(full(text.into()))
                .expect("response"));
        }
    };
    shape(answer, fault)
}

/// Reads the whole request body, as a registry does before it answers a status or a
/// redirect. Answering mid-upload is another fault (the client's send fails: a transport
/// error it may retry); racing the two made "a 401 is not retried" depend on timing.
async fn read_request_body(req: Request<Incoming>) {
    let _ = req.into_body().collect().await;
}

/// The registry's answer, read whole.
struct Answer {
    status: u16,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    body: Bytes,
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: Request<Incoming>,
) -> Result<Answer> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .context("read the request body")?
        .to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in parts.headers.iter() {
        if !is_hop_by_hop(name.as_str()) {
            out = out.header(name, value);
        }
    }
    let resp = out
        .body(body)
        .send()
        .await
        .context("send to the registry")?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter(|(n, _)| !is_hop_by_hop(n.as_str()))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let body = resp.bytes().await.context("read the registry's answer")?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The answer as the fault wants it delivered.
fn shape(answer: Answer, fault: Option<Fault>) -> Result<Response<Body>, Dropped> {
    let Answer {
        status,
        headers,
        mut body,
    } = answer;
    let full_len = body.len();
    // The mid-body faults promise the whole length, so the client sees a short answer.
    let mut promised = None;
    let body: Body = match fault {
        Some(Fault::DropAnswer) => return Err(Dropped("answer withheld")),
        Some(Fault::Truncate { keep }) => full(body.slice(..keep.min(full_len))),
        Some(Fault::FlipBytes) if full_len > 0 => {
            let mut bytes = body.to_vec();
            bytes[full_len / 2] ^= 0xff;
            body = Bytes::from(bytes);
            full(body)
        }
        Some(Fault::DropMidBody { after }) => {
            promised = Some(full_len);
            let head = body.slice(..after.min(full_len));
            // The pause lets hyper flush the headers and the first bytes before the cut.
            let cut = async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("FAKE drop mid-body"))
            };
            let frames = futures::stream::once(async { Ok(Frame::data(head)) })
                .chain(futures::stream::once(cut));
            BodyExt::boxed(StreamBody::new(frames))
        }
        Some(Fault::StallMidBody { after }) => {
            promised = Some(full_len);
            let head = body.slice(..after.min(full_len));
            let frames =
                futures::stream::iter([Ok(Frame::data(head))]).chain(futures::stream::pending());
            BodyExt::boxed(StreamBody::new(frames))
        }
        _ => full(body),
    };
    let mut b = Response::builder().status(status);
    for (name, value) in headers {
        b = b.header(name, value);
    }
    if let Some(n) = promised {
        b = b.header("content-length", n.to_string());
    }
    Ok(b.body(body).expect("response"))
}

fn full(bytes: Bytes) -> Body {
    BodyExt::boxed(Full::new(bytes).map_err(|never: Infallible| match never {}))
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_count_matching_requests_and_fire_from_skip_for_times() {
        let shared = Shared::default();
        shared.rules.lock().unwrap().push(RuleState {
            rule: Rule::new(Fault::FlipBytes)
                .method("GET")
                .path_ends_with(".zip")
                .skip(1)
                .times(2),
            matched: 0,
        });
        assert!(shared.fault_for("GET", "/m/@v/v1.mod").is_none());
        assert!(shared.fault_for("POST", "/m/@v/v1.zip").is_none());
        let fired: Vec<bool> = (0..4)
            .map(|_| shared.fault_for("GET", "/m/@v/v1.zip?x=1").is_some())
            .collect();
        assert_eq!(fired, [false, true, true, false]);
    }

    #[test]
    fn a_later_rule_fires_where_an_earlier_one_has_run_out() {
        let shared = Shared::default();
        for (skip, fault) in [(0, Fault::DropMidUpload), (1, Fault::DropAnswer)] {
            shared.rules.lock().unwrap().push(RuleState {
                rule: Rule::new(fault).method("PUT").skip(skip).times(1),
                matched: 0,
            });
        }
        let faults: Vec<String> = (0..3)
            .map(|_| format!("{:?}", shared.fault_for("PUT", "/p")))
            .collect();
        assert_eq!(faults, ["Some(DropMidUpload)", "Some(DropAnswer)", "None"]);
    }
}
