//! A hostile upstream, played by a FAKE GOPROXY (a loopback axum server in this test that
//! answers from a table of paths, 404 otherwise, and records what it was asked):
//! * what it serves is cached only when it passes the upload checks and matches the
//!   checksum database's record; otherwise 502, nothing stored, nothing left in staging;
//! * a module with an uploaded version is never merged with, nor resolved from, the
//!   upstream (dependency confusion), even with no `--private`;
//! * version queries that could rewrite the upstream URL are never forwarded;
//! * `/sumdb/<name>/…` is proxied for configured names only, full tiles are cached, lookups
//!   of private modules are not forwarded;
//! * a plain-http upstream is refused at startup unless `--allow-http-upstream`.
//!
//! The real upstream and checksum database are exercised in `upstream_fallback.rs`.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{hello_module, info_json, metric, ModuleVersion, Registry, RegistryOptions};

const SUMDB: &str = "sum.test.example";

/// Path → (status, body).
type Answers = Arc<Mutex<HashMap<String, (u16, Vec<u8>)>>>;

/// FAKE upstream: fixed answers by path.
struct FakeProxy {
    url: String,
    answers: Answers,
    asked: Arc<Mutex<Vec<String>>>,
    /// Most requests in flight at once (each answer waits [`FakeProxy::DELAY`]).
    max_in_flight: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl FakeProxy {
    /// How long every answer waits, so concurrent requests overlap.
    const DELAY: Duration = Duration::from_millis(150);

    fn start() -> FakeProxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let answers: Answers = Arc::default();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let (a, q) = (answers.clone(), asked.clone());
        let (now, max) = (in_flight.clone(), max_in_flight.clone());
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                let (a, q) = (a.clone(), q.clone());
                let (now, max) = (now.clone(), max.clone());
                async move {
                    let path = uri.path().to_string();
                    q.lock().unwrap().push(path.clone());
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(FakeProxy::DELAY).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    let (status, body) = a
                        .lock()
                        .unwrap()
                        .get(&path)
                        .cloned()
                        .unwrap_or((404, b"not found".to_vec()));
                    (axum::http::StatusCode::from_u16(status).unwrap(), body)
                }
            });
            let _ = axum::serve(listener, app).await;
        });
        FakeProxy {
            url: format!("http://{addr}"),
            answers,
            asked,
            max_in_flight,
            _rt: rt,
        }
    }

    fn serve(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.answers
            .lock()
            .unwrap()
            .insert(path.to_string(), (200, body.into()));
    }

    /// Serve a module version's three files, and the checksum database record `h1`/`mod_h1`.
    fn serve_version(&self, m: &ModuleVersion, h1: &str, mod_h1: &str) {
        let base = format!("/{}/@v/{}", m.module, m.version);
        self.serve(&format!("{base}.info"), m.info.clone());
        self.serve(&format!("{base}.mod"), m.mod_file.clone());
        self.serve(&format!("{base}.zip"), m.zip.clone());
        let record = format!(
            "42\n{0} {1} {h1}\n{0} {1}/go.mod {mod_h1}\n\ngo.sum database tree\n42\nAAAA\n\n— {SUMDB} sig\n",
            m.module, m.version
        );
        self.serve(
            &format!("/sumdb/{SUMDB}/lookup/{}@{}", m.module, m.version),
            record,
        );
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    fn asked_about(&self, needle: &str) -> Vec<String> {
        self.asked()
            .into_iter()
            .filter(|p| p.contains(needle))
            .collect()
    }
}

fn registry(fake: &FakeProxy, extra: &[&str]) -> Registry {
    let mut extra_args = vec!["--sumdb".to_string(), SUMDB.to_string()];
    extra_args.extend(extra.iter().map(|s| s.to_string()));
    Registry::start_with(RegistryOptions {
        upstream: fake.url.clone(),
        extra_args,
        ..Default::default()
    })
}

fn mod_h1(m: &ModuleVersion) -> String {
    gomod::hash::hash_go_mod(&m.mod_file)
}

/// A miss of `m` answers 502, stores nothing and leaves no staging behind.
fn assert_not_cached(reg: &Registry, m: &ModuleVersion, why: &str) {
    let (status, body) = reg.get_text(&format!("/{}/@v/{}.zip", m.module, m.version));
    assert_eq!(status, 502, "{why}: {body}");
    assert!(
        !reg.storage.join(&m.module).join(&m.version).exists(),
        "{why}: cached anyway"
    );
    assert_eq!(reg.staged_entries(), Vec::<String>::new(), "{why}");
    assert!(reg.logs().contains("not cached"), "{why}: {}", reg.logs());
}

#[test]
fn upstream_content_is_verified_before_caching() {
    let fake = FakeProxy::start();
    let reg = registry(&fake, &[]);

    // Not a zip at all.
    let mut m = hello_module("public.test.example/notzip", "v1.0.0", "x");
    let (h1, mh1) = (m.h1.clone(), mod_h1(&m));
    m.zip = b"THIS IS NOT A ZIP".to_vec();
    fake.serve_version(&m, &h1, &mh1);
    assert_not_cached(&reg, &m, "not a zip");

    // A go.mod declaring another module.
    let mut m = hello_module("public.test.example/othermod", "v1.0.0", "x");
    m.mod_file = b"module public.test.example/evil\n".to_vec();
    fake.serve_version(&m, &m.h1.clone(), &mod_h1(&m));
    assert_not_cached(&reg, &m, "go.mod for another module");

    // An .info for another version.
    let mut m = hello_module("public.test.example/info", "v1.0.0", "x");
    m.info = info_json("v9.9.9");
    fake.serve_version(&m, &m.h1.clone(), &mod_h1(&m));
    assert_not_cached(&reg, &m, "info for another version");

    // A valid module whose hash the checksum database does not record.
    let m = hello_module("public.test.example/swapped", "v1.0.0", "x");
    let other = hello_module("public.test.example/swapped", "v1.0.0", "the real one");
    fake.serve_version(&m, &other.h1, &mod_h1(&m));
    assert_not_cached(&reg, &m, "zip hash differs from the checksum database");

    // A valid module the checksum database does not know.
    let m = hello_module("public.test.example/unknown", "v1.0.0", "x");
    fake.serve_version(&m, &m.h1.clone(), &mod_h1(&m));
    fake.answers
        .lock()
        .unwrap()
        .remove(&format!("/sumdb/{SUMDB}/lookup/{}@{}", m.module, m.version));
    assert_not_cached(&reg, &m, "not in the checksum database");

    let metrics = reg.get_text("/metrics").1;
    assert_eq!(
        metric(
            &metrics,
            "go_registry_upstream_fetches_total{outcome=\"rejected\"}"
        ),
        5.0,
        "{metrics}"
    );

    // And a good one is cached and served.
    let m = hello_module("public.test.example/good", "v1.0.0", "x");
    fake.serve_version(&m, &m.h1.clone(), &mod_h1(&m));
    assert_eq!(
        reg.get(&format!("/{}/@v/v1.0.0.zip", m.module)),
        (200, m.zip.clone())
    );
    assert!(reg
        .storage
        .join(&m.module)
        .join("v1.0.0/source.zip")
        .is_file());
}

#[test]
fn uploaded_modules_are_never_resolved_upstream() {
    let fake = FakeProxy::start();
    let reg = registry(&fake, &[]);
    const SDK: &str = "go.packages.test.example/sdk";
    // The upstream offers a higher version of the same name.
    let evil = hello_module(SDK, "v1.9.9", "evil");
    fake.serve_version(&evil, &evil.h1.clone(), &mod_h1(&evil));
    fake.serve(&format!("/{SDK}/@v/list"), "v1.9.9\n");
    fake.serve(&format!("/{SDK}/@latest"), info_json("v1.9.9"));

    assert_eq!(reg.upload(&hello_module(SDK, "v0.1.0", "ours")).0, 201);
    assert_eq!(
        reg.get_text(&format!("/{SDK}/@v/list")),
        (200, "v0.1.0\n".to_string())
    );
    let (status, latest) = reg.get_text(&format!("/{SDK}/@latest"));
    assert_eq!(status, 200);
    assert!(latest.contains("v0.1.0"), "{latest}");
    assert_eq!(reg.get(&format!("/{SDK}/@v/v1.9.9.zip")).0, 404);
    assert_eq!(reg.get(&format!("/{SDK}/@v/master.info")).0, 404);
    assert_eq!(
        reg.get(&format!("/sumdb/{SUMDB}/lookup/{SDK}@v0.1.0")).0,
        404
    );
    assert_eq!(fake.asked_about("sdk"), Vec::<String>::new());
}

#[test]
fn private_patterns_never_reach_the_upstream_or_its_checksum_database() {
    let fake = FakeProxy::start();
    let reg = registry(&fake, &["--private", "*.corp.test.example"]);
    for path in [
        "/git.corp.test.example/x/@v/list".to_string(),
        "/git.corp.test.example/x/@latest".to_string(),
        "/git.corp.test.example/x/@v/v1.0.0.zip".to_string(),
        format!("/sumdb/{SUMDB}/lookup/git.corp.test.example/x@v1.0.0"),
    ] {
        assert_eq!(reg.get(&path).0, 404, "{path}");
    }
    assert_eq!(fake.asked_about("corp"), Vec::<String>::new());
}

#[test]
fn version_queries_that_could_rewrite_the_upstream_url_are_not_forwarded() {
    let fake = FakeProxy::start();
    let reg = registry(&fake, &[]);
    for path in [
        "/public.test.example/x/@v/..%23.info",
        "/public.test.example/x/@v/%2e%2e.info",
        "/public.test.example/x/@v/a%3fb.info",
        "/public.test.example/x/@v/a%2fb.info",
    ] {
        assert_eq!(reg.get(path).0, 400, "{path}");
    }
    assert_eq!(fake.asked(), Vec::<String>::new());
    // A plain branch-like query is forwarded.
    fake.serve("/public.test.example/x/@v/master.info", info_json("v1.0.0"));
    assert_eq!(reg.get("/public.test.example/x/@v/master.info").0, 200);
}

#[test]
fn checksum_database_is_proxied_and_full_tiles_are_cached() {
    let fake = FakeProxy::start();
    let reg = registry(&fake, &[]);
    let db = format!("/sumdb/{SUMDB}");
    fake.serve(&format!("{db}/supported"), "");
    fake.serve(&format!("{db}/latest"), "tree head");
    fake.serve(&format!("{db}/tile/8/0/x001/234"), b"full tile".to_vec());
    fake.serve(&format!("{db}/tile/8/0/005.p/3"), b"partial".to_vec());
    let m = hello_module("public.test.example/looked", "v1.0.0", "x");
    fake.serve_version(&m, &m.h1.clone(), &mod_h1(&m));

    assert_eq!(reg.get(&format!("{db}/supported")).0, 200);
    assert_eq!(
        reg.get_text(&format!("{db}/latest")),
        (200, "tree head".into())
    );
    let (status, lookup) = reg.get_text(&format!("{db}/lookup/{}@v1.0.0", m.module));
    assert_eq!(status, 200);
    assert!(lookup.contains(&m.h1), "{lookup}");
    for _ in 0..2 {
        assert_eq!(
            reg.get(&format!("{db}/tile/8/0/x001/234")),
            (200, b"full tile".to_vec())
        );
        assert_eq!(
            reg.get(&format!("{db}/tile/8/0/005.p/3")),
            (200, b"partial".to_vec())
        );
    }
    assert_eq!(fake.asked_about("x001/234").len(), 1, "full tile cached");
    assert_eq!(
        fake.asked_about("005.p/3").len(),
        2,
        "partial tile not cached"
    );

    // Unknown database names and malformed paths are 404 without asking.
    let before = fake.asked().len();
    for path in [
        "/sumdb/other.test.example/supported".to_string(),
        format!("{db}/tile/8/0/../../../etc"),
        format!("{db}/tile/8/0/x001/2345"),
        format!("{db}/lookup/public.test.example/x@..%23"),
        format!("{db}/anything"),
    ] {
        assert_eq!(reg.get(&path).0, 404, "{path}");
    }
    assert_eq!(fake.asked().len(), before, "{:?}", fake.asked());
}

#[test]
fn upstream_fetches_are_bounded() {
    let fake = FakeProxy::start();
    let reg = registry(&fake, &["--max-upstream-fetches", "2"]);
    // Eight concurrent misses of different modules (404 upstream after a delay).
    let url = reg.url.clone();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                common::get(&format!("{url}/public.test.example/m{i}/@v/v1.0.0.info")).0
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 404);
    }
    assert_eq!(fake.asked().len(), 8, "{:?}", fake.asked());
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 2);
}

#[test]
fn plain_http_upstream_is_refused_without_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_go-registry"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:9",
        ])
        .arg("--storage")
        .arg(tmp.path().join("s"))
        .env_remove("GO_REGISTRY_ALLOW_HTTP_UPSTREAM")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-http-upstream"), "{stderr}");
}
