//! Hostile clients against the real `go-registry` binary, over raw TCP sockets on loopback:
//! silent sockets, half request lines, idle kept-alive connections and stalled uploads are
//! closed within the configured timeouts; connections over the cap are closed at once;
//! SIGTERM with a stalled client exits within the shutdown deadline; crafted URLs and
//! layout-colliding module paths get a 4xx (never a dropped connection or a 500); a zip
//! bomb is refused; client-chosen text reaches the log with its control characters escaped.
//!
//! The timing assertions are bounds with wide margins (a closed socket must be seen well
//! before a limit that only a missing timeout would reach), not performance measurements.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{hello_module, metric, raw_zip, Registry, RegistryOptions, DEFAULT_TOKEN};

/// Longest the tests wait for the server to close a socket; without the timeouts under
/// test the server would never close it.
const NO_TIMEOUT: Duration = Duration::from_secs(15);

fn start(extra: &[&str]) -> Registry {
    Registry::start_with(RegistryOptions {
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
}

fn connect(reg: &Registry) -> TcpStream {
    let addr = reg.url.trim_start_matches("http://");
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(NO_TIMEOUT)).unwrap();
    s
}

/// Read until the server closes the socket; returns what it sent and how long it took.
/// Panics if the socket is still open after [`NO_TIMEOUT`].
fn read_until_closed(mut s: TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "the server kept the connection open for {:?}; sent so far: {:?}",
                    start.elapsed(),
                    String::from_utf8_lossy(&got)
                )
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

#[test]
fn silent_socket_is_closed_within_the_header_timeout() {
    let reg = start(&["--header-timeout", "1"]);
    let (sent, took) = read_until_closed(connect(&reg));
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "{sent}"
    );
}

#[test]
fn half_request_line_is_closed_within_the_header_timeout() {
    let reg = start(&["--header-timeout", "1"]);
    let mut s = connect(&reg);
    s.write_all(b"GET /healthz HT").unwrap();
    let (_, took) = read_until_closed(s);
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

#[test]
fn idle_kept_alive_connection_is_closed() {
    let reg = start(&["--header-timeout", "1"]);
    let mut s = connect(&reg);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (sent, took) = read_until_closed(s);
    assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
}

/// Headers and part of a multipart upload, then nothing.
fn stalled_upload(reg: &Registry) -> TcpStream {
    let mut s = connect(reg);
    let body_start = b"--XyZ\r\nContent-Disposition: form-data; name=\"zip\"; filename=\"source.zip\"\r\n\r\nPK\x03\x04";
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEFAULT_TOKEN}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 100000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body_start).unwrap();
    s
}

#[test]
fn stalled_upload_gets_408_and_leaves_no_staging() {
    let reg = start(&["--body-timeout", "1"]);
    let (sent, took) = read_until_closed(stalled_upload(&reg));
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("stalled"), "{sent}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    assert_eq!(reg.staged_entries(), Vec::<String>::new());
}

#[test]
fn connections_over_the_cap_are_closed_at_once() {
    let reg = start(&["--max-connections", "2", "--header-timeout", "30"]);
    let a = connect(&reg);
    let b = connect(&reg);
    // Give the accept loop time to hand both out (a connect completes in the kernel).
    std::thread::sleep(Duration::from_millis(300));
    let (_, took) = read_until_closed(connect(&reg));
    assert!(
        took < Duration::from_secs(2),
        "third connection lived {took:?}"
    );
    drop((a, b));
    // Room again once the held connections are gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, metrics) = reg.get_text("/metrics");
        if status == 200 {
            assert!(
                metric(&metrics, "go_registry_connections_refused_total") >= 1.0,
                "{metrics}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after the slots were freed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_with_a_stalled_client_exits_within_the_deadline() {
    let reg = start(&["--shutdown-timeout", "1", "--body-timeout", "60"]);
    let _stalled = stalled_upload(&reg);
    let _silent = connect(&reg);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = reg.terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(6), "exited after {took:?}");
}

/// Send a raw request line and return the status line of the answer.
fn raw_get(reg: &Registry, target: &[u8]) -> String {
    let mut s = connect(reg);
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(&req).unwrap();
    let (sent, _) = read_until_closed(s);
    sent.lines().next().unwrap_or("").to_string()
}

#[test]
fn crafted_urls_get_4xx_not_a_panic() {
    let reg = start(&[]);
    // `%` followed by a multi-byte character: sliced a &str off a char boundary before.
    for target in [
        "/a%\u{20ac}/@v/list".as_bytes(),
        b"/a/@v/v1.0.0%ff.info",
        b"/%e2%82/@latest",
        b"/a/@v/%",
    ] {
        let status = raw_get(&reg, target);
        assert!(
            status.starts_with("HTTP/1.1 4"),
            "{:?}: {status}",
            String::from_utf8_lossy(target)
        );
    }
    assert!(!reg.logs().contains("panic"), "{}", reg.logs());
}

#[test]
fn layout_collisions_and_long_names_are_400() {
    let reg = start(&[]);
    let outer = hello_module("go.packages.test.example/a", "v1.0.0", "outer");
    assert_eq!(reg.upload(&outer).0, 201);
    // A module living inside another module's version directory.
    let nested = hello_module("go.packages.test.example/a/v1.0.0/x", "v1.0.0", "nested");
    let (status, body) = reg.upload(&nested);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("looks like a version"), "{body}");
    for path in [
        "/go.packages.test.example/a/v1.0.0/x/@v/list",
        "/go.packages.test.example/a/v1.0.0/x/@v/v1.0.0.info",
        "/go.packages.test.example/a/v1.0.0/x/@latest",
    ] {
        assert_eq!(reg.get(path).0, 400, "{path}");
    }
    // The outer module is intact: no phantom versions, still served.
    assert_eq!(
        reg.get_text("/go.packages.test.example/a/@v/list"),
        (200, "v1.0.0\n".to_string())
    );
    assert_eq!(
        reg.get("/go.packages.test.example/a/@v/v1.0.0.zip"),
        (200, outer.zip.clone())
    );
    // Path elements and versions longer than a file name: 400, not 500.
    let long = "x".repeat(300);
    assert_eq!(
        reg.get(&format!("/go.packages.test.example/{long}/@v/list"))
            .0,
        400
    );
    let long_version = format!("v1.0.0-{}", "a".repeat(260));
    assert_eq!(
        reg.get(&format!(
            "/go.packages.test.example/a/@v/{long_version}.info"
        ))
        .0,
        400
    );
    let metrics = reg.get_text("/metrics").1;
    assert!(!metrics.contains("status=\"500\""), "{metrics}");
}

/// A deflated file of 16 MB of zeros whose headers declare 10 bytes.
fn zip_bomb(module: &str, version: &str) -> Vec<u8> {
    let zeros = vec![0u8; 16 << 20];
    let name = format!("{module}@{version}/bomb.txt");
    let go_mod_name = format!("{module}@{version}/go.mod");
    let go_mod = format!("module {module}\n");
    let mut bytes = raw_zip(&[(&go_mod_name, go_mod.as_bytes()), (&name, &zeros)]);
    // Patch the bomb's sizes (second local header, second central directory entry).
    let patch = |bytes: &mut Vec<u8>, sig: &[u8; 4], size_at: usize| {
        let at = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == sig)
            .nth(1)
            .unwrap()
            .0;
        bytes[at + size_at..at + size_at + 4].copy_from_slice(&10u32.to_le_bytes());
    };
    patch(&mut bytes, b"PK\x03\x04", 22);
    patch(&mut bytes, b"PK\x01\x02", 24);
    bytes
}

/// The refusal itself also happened before the fix (after inflating everything); that the
/// check now stops one byte past the declared size is proven by gomod's
/// `zip_bomb_stops_at_the_first_byte_past_the_declared_size`.
#[test]
fn zip_bomb_upload_is_refused() {
    let reg = start(&[]);
    let module = "go.packages.test.example/bomb";
    let mut m = hello_module(module, "v1.0.0", "x");
    m.mod_file = format!("module {module}\n").into_bytes();
    m.zip = zip_bomb(module, "v1.0.0");
    assert!(m.zip.len() < 1 << 20, "{}", m.zip.len());
    let (status, body) = reg.upload(&m);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("bomb.txt"), "{body}");
    assert_eq!(reg.staged_entries(), Vec::<String>::new());
}

#[test]
fn control_characters_are_escaped_in_the_log() {
    let reg = start(&[]);
    let mut m = hello_module("go.packages.test.example/log", "v1.0.0", "x");
    // No whitespace, so nothing gets the value quoted: only escaping keeps the raw
    // terminal escape sequence and NUL out of the log.
    m.module = "go.packages.test.example/log\u{1b}[31m\u{0}red".to_string();
    let (status, _) = reg.upload(&m);
    assert_eq!(status, 400);
    // Let the log reader catch up.
    std::thread::sleep(Duration::from_millis(200));
    let logs = reg.logs();
    assert!(logs.contains("upload rejected"), "{logs}");
    assert!(!logs.contains(['\u{1b}', '\u{0}']), "{logs:?}");
}
