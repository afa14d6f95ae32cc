//! The multipart upload handler (valid token) on arbitrary bodies: never a 500.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

struct Service {
    router: axum::Router,
    rt: tokio::runtime::Runtime,
    _tmp: tempfile::TempDir,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = go_registry::Config::new(tmp.path().join("root"));
        config.tokens = vec![go_registry::config::Token::new("fuzz-token")];
        let state = go_registry::AppState::new(config).unwrap();
        Service {
            router: go_registry::build_router(state),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            _tmp: tmp,
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let svc = service();
    let req = Request::post("/upload")
        .header(header::AUTHORIZATION, "Bearer fuzz-token")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
        .body(Body::from(data.to_vec()))
        .unwrap();
    let resp = svc
        .rt
        .block_on(tower::ServiceExt::oneshot(svc.router.clone(), req))
        .unwrap();
    assert_ne!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
});
