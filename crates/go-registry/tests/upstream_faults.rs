//! Upstream faults and privacy, against a FAKE upstream (a loopback axum server in this
//! test that answers every request with a fixed status and counts what it was asked):
//! * a failing upstream (503) turns a miss into 502, but stored versions are still served;
//! * an upstream "not found" (404) is a 404, and a 410 is passed on as 410;
//! * modules matching `--private` are never sent to the upstream.
//!
//! And the startup checks: upload-only mode without a token exits 2.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{hello_module, Registry, RegistryOptions};

/// Fake upstream answering `status` to everything; records request paths.
struct FakeUpstream {
    url: String,
    paths: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl FakeUpstream {
    fn start(status: u16) -> FakeUpstream {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (p, c) = (paths.clone(), count.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                let (p, c) = (p.clone(), c.clone());
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    p.lock().unwrap().push(uri.path().to_string());
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        "fake upstream\n",
                    )
                }
            });
            let _ = axum::serve(listener, app).await;
        });
        FakeUpstream {
            url: format!("http://{addr}"),
            paths,
            count,
            _rt: rt,
        }
    }
}

const MODULE: &str = "mods.test.example/faults";

#[test]
fn failing_upstream_gives_502_but_stored_versions_still_serve() {
    let fake = FakeUpstream::start(503);
    let reg = Registry::start_with(RegistryOptions {
        upstream: fake.url.clone(),
        ..Default::default()
    });
    let m = hello_module(MODULE, "v1.0.0", "x");
    assert_eq!(reg.upload(&m).0, 201);

    // Stored: served without asking the upstream.
    assert_eq!(
        reg.get(&format!("/{MODULE}/@v/v1.0.0.zip")),
        (200, m.zip.clone())
    );
    assert_eq!(fake.count.load(Ordering::SeqCst), 0);
    // Miss of a public module with a failing upstream: 502, with no upstream detail in
    // the body, and nothing half-cached.
    const PUBLIC: &str = "public.test.example/faults";
    let (s, body) = reg.get_text(&format!("/{PUBLIC}/@v/v1.0.1.info"));
    assert_eq!(s, 502, "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
    assert!(fake.count.load(Ordering::SeqCst) >= 1);
    assert!(!reg.storage.join(PUBLIC).join("v1.0.1").exists());
    assert_eq!(reg.staged_entries(), Vec::<String>::new());
    // The uploaded module is private: its list and @latest are the stored versions, and
    // the upstream is not asked (so its failure does not matter).
    let asked = fake.count.load(Ordering::SeqCst);
    let (s, list) = reg.get_text(&format!("/{MODULE}/@v/list"));
    assert_eq!((s, list.as_str()), (200, "v1.0.0\n"));
    let (s, latest) = reg.get_text(&format!("/{MODULE}/@latest"));
    assert_eq!(s, 200);
    assert!(latest.contains("v1.0.0"), "{latest}");
    assert_eq!(reg.get(&format!("/{MODULE}/@v/v1.0.1.info")).0, 404);
    assert_eq!(fake.count.load(Ordering::SeqCst), asked);
    // Unknown module and a failing upstream: 502 (not a misleading 404).
    assert_eq!(reg.get("/mods.test.example/unknown/@v/list").0, 502);
}

#[test]
fn upstream_not_found_and_gone_pass_through() {
    let fake404 = FakeUpstream::start(404);
    let reg = Registry::start_with(RegistryOptions {
        upstream: fake404.url.clone(),
        ..Default::default()
    });
    assert_eq!(reg.get(&format!("/{MODULE}/@v/v1.0.0.info")).0, 404);
    assert_eq!(reg.get(&format!("/{MODULE}/@v/list")).0, 404);
    // The request went out with the escaped path.
    assert_eq!(reg.get("/mods.test.example/!up/@v/v1.0.0.mod").0, 404);
    assert!(fake404
        .paths
        .lock()
        .unwrap()
        .contains(&"/mods.test.example/!up/@v/v1.0.0.info".to_string()));

    let fake410 = FakeUpstream::start(410);
    let reg = Registry::start_with(RegistryOptions {
        upstream: fake410.url.clone(),
        ..Default::default()
    });
    assert_eq!(reg.get(&format!("/{MODULE}/@v/v1.0.0.zip")).0, 410);
}

#[test]
fn private_modules_are_never_asked_upstream() {
    let fake = FakeUpstream::start(404);
    let reg = Registry::start_with(RegistryOptions {
        upstream: fake.url.clone(),
        extra_args: vec![
            "--private".into(),
            "mods.test.example,*.corp.test.example".into(),
        ],
        ..Default::default()
    });
    for path in [
        format!("/{MODULE}/@v/list"),
        format!("/{MODULE}/@latest"),
        format!("/{MODULE}/@v/v1.0.0.info"),
        "/git.corp.test.example/x/@v/v1.0.0.zip".to_string(),
    ] {
        assert_eq!(reg.get(&path).0, 404, "{path}");
    }
    assert_eq!(
        fake.count.load(Ordering::SeqCst),
        0,
        "private names reached the upstream: {:?}",
        fake.paths.lock().unwrap()
    );
    // A public module is asked.
    assert_eq!(reg.get("/public.test.example/x/@v/list").0, 404);
    assert_eq!(fake.count.load(Ordering::SeqCst), 1);
}

#[test]
fn upload_only_without_token_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_go-registry"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--mode",
            "upload-only",
            "--storage",
        ])
        .arg(tmp.path().join("s"))
        .env_remove("GO_REGISTRY_TOKEN")
        .env_remove("GO_REGISTRY_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("[packages:go-registry] ")
            && stderr.contains(" fail ")
            && stderr.contains("needs an upload token"),
        "{stderr}"
    );
}
