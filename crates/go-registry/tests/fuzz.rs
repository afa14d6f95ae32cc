//! Bounded fuzzing, in the normal test suite, of go-registry's request handling: the
//! router with every read route (arbitrary paths, percent-escapes included) and the
//! multipart upload handler (arbitrary bodies with a valid token). The service runs
//! in-process (`build_router` + `tower::ServiceExt::oneshot`) with no upstream.
//!
//! The property is "never a 500": a handler panic would be a 500 (the panic guard turns it
//! into one), and so would any unexpected internal error on input a client chose. Seeds come
//! from `fuzz/corpus/router` and `fuzz/corpus/upload` (the crafted URLs of the security
//! review among them); then proptest generates and mutates inputs. `PROPTEST_CASES`
//! raises the default of 128 cases per property.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use go_registry::config::Token;
use go_registry::{build_router, AppState, Config};
use proptest::prelude::*;

const TOKEN: &str = "fuzz-token";

struct Service {
    router: axum::Router,
    rt: tokio::runtime::Runtime,
    _tmp: tempfile::TempDir,
}

impl Service {
    fn new() -> Service {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = Config::new(tmp.path().join("root"));
        config.tokens = vec![Token::new(TOKEN)];
        let state = AppState::new(config).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Service {
            router: build_router(state),
            rt,
            _tmp: tmp,
        }
    }

    fn status(&self, req: Request<Body>) -> StatusCode {
        let router = self.router.clone();
        self.rt
            .block_on(tower::ServiceExt::oneshot(router, req))
            .unwrap()
            .status()
    }

    /// GET a raw path; `None` when the bytes cannot form a request target at all (hyper
    /// would refuse them before any handler runs).
    fn get(&self, path: &[u8]) -> Option<StatusCode> {
        let uri = axum::http::Uri::try_from(path).ok()?;
        Some(self.status(Request::get(uri).body(Body::empty()).unwrap()))
    }

    fn upload(&self, body: Vec<u8>) -> StatusCode {
        let req = Request::post("/upload")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
            .body(Body::from(body))
            .unwrap();
        self.status(req)
    }
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!seeds.is_empty(), "empty seed corpus {}", dir.display());
    seeds.sort();
    seeds
}

fn assert_not_500(status: Option<StatusCode>, input: &[u8]) {
    assert_ne!(
        status,
        Some(StatusCode::INTERNAL_SERVER_ERROR),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn seed_corpora_never_give_500() {
    let svc = Service::new();
    for seed in corpus("router") {
        let status = svc.get(&seed);
        assert_not_500(status, &seed);
    }
    for seed in corpus("upload") {
        assert_not_500(Some(svc.upload(seed.clone())), &seed);
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Paths built from protocol-ish pieces, escapes and odd bytes.
fn path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just("@v/".to_string()),
        Just("@v/list".to_string()),
        Just("@latest".to_string()),
        Just(".info".to_string()),
        Just(".zip".to_string()),
        Just(".mod".to_string()),
        Just("sumdb/".to_string()),
        Just("tile/8/0/".to_string()),
        Just("lookup/".to_string()),
        Just("v1.0.0".to_string()),
        Just("!".to_string()),
        Just("..".to_string()),
        "%[0-9a-fA-F]{0,2}",
        "[a-zA-Z0-9.~_-]{1,12}",
        "[\u{80}-\u{10ffff}]{1,2}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| format!("/{}", p.concat()))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn router_never_gives_500(path in path()) {
        let svc = Service::new();
        let status = svc.get(path.as_bytes());
        assert_not_500(status, path.as_bytes());
    }

    #[test]
    fn upload_never_gives_500(
        which in any::<usize>(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        let seeds = corpus("upload");
        let mut body = seeds[which % seeds.len()].clone();
        for (pos, byte) in edits {
            if !body.is_empty() {
                let at = pos % body.len();
                body[at] = byte;
            }
        }
        let svc = Service::new();
        assert_not_500(Some(svc.upload(body.clone())), &body);
    }
}
