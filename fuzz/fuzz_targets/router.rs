//! The request router (every read route, no upstream) on arbitrary request targets: never
//! a 500 (a handler panic becomes one through the panic guard).
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};

struct Service {
    router: axum::Router,
    rt: tokio::runtime::Runtime,
    _tmp: tempfile::TempDir,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let config = go_registry::Config::new(tmp.path().join("root"));
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
    let Ok(uri) = Uri::try_from(data) else {
        return;
    };
    let svc = service();
    let req = Request::get(uri).body(Body::empty()).unwrap();
    let resp = svc
        .rt
        .block_on(tower::ServiceExt::oneshot(svc.router.clone(), req))
        .unwrap();
    assert_ne!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
});
