//! Issue 18: the kube client's bounds, against a FAKE API server on loopback (a plain
//! TCP listener that answers each request from a script), for faults a real
//! kube-apiserver cannot be made to produce on demand: one that accepts connections and
//! never answers, and one that answers 429 with `Retry-After`.
//!
//! * a server that never answers ends the read after the bounded attempts, as
//!   [`KubeError::Unreachable`] (exit 5), instead of hanging;
//! * 429 with `retryAfterSeconds: 1` twice, then the ConfigMap: the read succeeds, and
//!   the retries came at least the asked second apart;
//! * 429 forever: [`KubeError::Overloaded`] (exit 5) after exactly the bounded attempts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pkgrun_core::{ExitStatus, Lang};
use pkgrun_kube::{Kube, KubeError, Limits};

/// What the FAKE server does with one request.
#[derive(Clone)]
enum Answer {
    /// Reads the request and never answers (the connection stays open).
    Never,
    /// `429 Too Many Requests` with `Retry-After` and the Status the API server sends.
    TooMany { retry_after: u32 },
    /// `200` with an empty ConfigMap.
    ConfigMap,
}

/// A FAKE Kubernetes API server: answers request N with `script[N]` (the last entry
/// repeats) and records when each request arrived.
struct FakeApiServer {
    url: String,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl FakeApiServer {
    fn start(script: Vec<Answer>) -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let seen = arrivals.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, script) = (seen.clone(), script.clone());
                std::thread::spawn(move || serve(stream, &script, &seen));
            }
        });
        FakeApiServer { url, arrivals }
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

/// Serves the requests of one (keep-alive) connection.
fn serve(mut stream: TcpStream, script: &[Answer], seen: &Mutex<Vec<Instant>>) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let index = {
            let mut seen = seen.lock().unwrap();
            seen.push(Instant::now());
            seen.len() - 1
        };
        let answer = script[index.min(script.len() - 1)].clone();
        let (status, extra, body) = match answer {
            Answer::Never => {
                std::thread::sleep(Duration::from_secs(600));
                return;
            }
            Answer::TooMany { retry_after } => (
                "429 Too Many Requests",
                format!("Retry-After: {retry_after}\r\n"),
                serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "Too many requests, please try again later.",
                    "reason": "TooManyRequests", "code": 429,
                    "details": { "retryAfterSeconds": retry_after }
                }),
            ),
            Answer::ConfigMap => (
                "200 OK",
                String::new(),
                serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": { "name": "go-packages-state", "namespace": "ns" },
                    "data": {}
                }),
            ),
        };
        let body = body.to_string();
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn client(server: &FakeApiServer) -> Kube {
    let mut config = kube::Config::new(server.url.parse().unwrap());
    config.default_namespace = "ns".into();
    Kube::from_config_with_limits(
        config,
        Limits {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_millis(500),
            attempts: 3,
            first_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
        },
    )
    .unwrap()
}

#[test]
fn a_server_that_never_answers_is_unreachable_after_the_bounded_attempts() {
    let server = FakeApiServer::start(vec![Answer::Never]);
    let err = client(&server)
        .read_state("ns", "go-packages-state", Lang::Go)
        .unwrap_err();
    assert!(matches!(err, KubeError::Unreachable { .. }), "{err:?}");
    assert_eq!(err.read_exit_status(), ExitStatus::Unreachable);
    assert_eq!(server.arrivals().len(), 3, "one request per attempt");
}

#[test]
fn too_many_requests_waits_the_asked_retry_after_then_reads() {
    let server = FakeApiServer::start(vec![
        Answer::TooMany { retry_after: 1 },
        Answer::TooMany { retry_after: 1 },
        Answer::ConfigMap,
    ]);
    let state = client(&server)
        .read_state("ns", "go-packages-state", Lang::Go)
        .unwrap();
    assert!(state.documents.is_empty());
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        // The backoff alone would be 100/200 ms: the wait is the server's second.
        assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    }
}

#[test]
fn too_many_requests_forever_is_overloaded_exit_5_after_the_bounded_attempts() {
    let server = FakeApiServer::start(vec![Answer::TooMany { retry_after: 0 }]);
    let err = client(&server)
        .read_state("ns", "go-packages-state", Lang::Go)
        .unwrap_err();
    assert!(
        matches!(err, KubeError::Overloaded { code: 429, .. }),
        "{err:?}"
    );
    assert_eq!(err.read_exit_status(), ExitStatus::Unreachable);
    assert!(err.to_string().contains("kept answering 429"), "{err}");
    assert_eq!(server.arrivals().len(), 3);
}
