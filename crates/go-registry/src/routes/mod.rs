//! The router. Handlers are found by URL:
//!
//! | URL                                   | handler            | modes                  |
//! |---------------------------------------|--------------------|------------------------|
//! | `POST /upload`                        | [`upload`]         | standalone, upload-only |
//! | `GET /healthz`, `GET /readyz`         | [`health`]         | both                   |
//! | `GET /metrics`                        | [`metrics`]        | both                   |
//! | `GET /<module>/@v/list`, `/@v/<v>.info|.mod|.zip`, `/<module>/@latest`, `/sumdb/…` | [`proxy`] | standalone |
//!
//! A middleware counts every request by logical route and status; `TraceLayer` logs them
//! at debug level with the matched route. A handler that panics is answered with a 500
//! (the panic hook installed by [`crate::logging::init`] writes its one log line), and a
//! handler that takes longer than `--request-timeout` is answered with a 503.

pub mod health;
pub mod metrics;
pub mod proxy;
pub mod upload;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Mode;
use crate::metrics::RequestLabels;
use crate::AppState;

/// Build the service's router for `state` (mode decides which routes exist).
pub fn build_router(state: AppState) -> Router {
    let limits = state.config.limits;
    // The per-part limits are enforced while reading; this only caps the whole body
    // (parts + multipart framing).
    let body_limit = (limits.zip + limits.mod_file + limits.info + (1 << 20))
        .try_into()
        .unwrap_or(usize::MAX);
    let mut router = Router::new()
        .route(
            "/upload",
            post(upload::upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics));
    router = match state.config.mode {
        Mode::Standalone => router.fallback(proxy::proxy),
        Mode::UploadOnly => router.fallback(not_found),
    };
    harden(router, &state)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| route_label(req.uri().path()).to_string());
            tracing::debug_span!("request", method = %req.method(), route, path = %req.uri().path())
        }))
        .with_state(state)
}

/// The request timeout and the panic guard, outermost first: a panic is caught below the
/// metrics middleware, so it is counted as a 500 like any other.
pub fn harden(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let st = state.clone();
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.config.server.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(
            move |_panic: Box<dyn std::any::Any + Send>| {
                st.metrics.panics.inc();
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            },
        ))
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
    let resp = next.run(req).await;
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

/// The logical route of a path, for metrics (bounded set of values).
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/upload" => "upload",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        p if p.starts_with("/sumdb/") => "sumdb",
        p if p.ends_with("/@latest") => "latest",
        p if p.ends_with("/@v/list") => "list",
        p if p.contains("/@v/") && p.ends_with(".info") => "info",
        p if p.contains("/@v/") && p.ends_with(".mod") => "mod",
        p if p.contains("/@v/") && p.ends_with(".zip") => "zip",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let state = AppState::new(crate::Config::new(tmp.path().join("root"))).unwrap();
        let boom = || async {
            if state_is_broken() {
                panic!("handler bug");
            }
            "unreachable"
        };
        let router =
            harden(Router::new().route("/boom", get(boom)), &state).with_state(state.clone());
        let req = Request::get("/boom").body(Body::empty()).unwrap();
        let resp = tower::ServiceExt::oneshot(router, req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(state.metrics.panics.get(), 1);
    }

    fn state_is_broken() -> bool {
        true
    }
}
