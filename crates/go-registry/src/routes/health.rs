//! `GET /healthz` (the process answers) and `GET /readyz` (storage accepts writes).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AppState;

/// Liveness: always 200 while the process serves requests.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

/// Readiness: 200 when a file can be created and removed in the storage root and the
/// staging directory, else 503 (the reason is logged, not sent).
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || st.storage.check_writable()).await;
    match result {
        Ok(Ok(())) => (StatusCode::OK, "ready\n"),
        Ok(Err(e)) => {
            tracing::warn!("not ready: storage is not writable: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "storage not writable\n")
        }
        Err(e) => {
            tracing::error!("readiness check panicked: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "storage not writable\n")
        }
    }
}
