//! `go-registry`: a Go module registry for private modules (DESIGN §6).
//!
//! * `POST /upload` accepts a module version (multipart `module`, `version`, `info`, `mod`,
//!   `zip`; bearer token), validates it with the Go module rules from [`gomod`], and stores
//!   it atomically in Athens' disk layout ([`storage`]).
//! * The GOPROXY read protocol (`@v/list`, `.info`, `.mod`, `.zip`, `@latest`) is served
//!   from storage, falling back to an upstream proxy on a miss and caching what it fetched
//!   ([`routes::proxy`], [`upstream`]).
//! * `/healthz`, `/readyz`, `/metrics` ([`metrics`]).
//!
//! The binary (`src/main.rs`) only parses flags and calls [`run`]; tests build the router
//! with [`build_router`] or start the binary.

pub mod config;
pub mod error;
pub mod logging;
pub mod metrics;
pub mod private;
pub mod routes;
pub mod storage;
pub mod upstream;
pub mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use config::{Args, Config, Mode};
pub use error::AppError;
pub use routes::build_router;

/// Shared state of all handlers: cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// Resolved configuration.
    pub config: Config,
    /// Module storage.
    pub storage: storage::Storage,
    /// Upstream proxy, if configured and the mode serves reads.
    pub upstream: Option<upstream::Upstream>,
    /// Metrics registry.
    pub metrics: metrics::Metrics,
    /// In-memory copies of stored files.
    pub file_cache: storage::cache::FileCache,
    /// One lock per `module@version` being fetched from upstream, so concurrent misses
    /// fetch once.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration or storage problem.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The HTTP client for the upstream could not be built.
    #[error("cannot build the upstream HTTP client")]
    Client(#[source] reqwest::Error),
}

impl AppState {
    /// Open storage and build the upstream client for `config`.
    pub fn new(config: Config) -> Result<Self, StartError> {
        let storage = storage::Storage::open(&config.storage, &config.staging)?;
        let upstream = match (&config.upstream, config.mode) {
            (Some(base), Mode::Standalone) => {
                Some(upstream::Upstream::new(base).map_err(StartError::Client)?)
            }
            _ => None,
        };
        let file_cache = storage::cache::FileCache::new(config.memory_cache_bytes);
        Ok(AppState(Arc::new(Inner {
            config,
            storage,
            upstream,
            metrics: metrics::Metrics::new(),
            file_cache,
            inflight: Mutex::new(HashMap::new()),
        })))
    }

    /// The upstream to ask about `module`, unless the module is private or there is none.
    pub fn upstream_for(&self, module: &str) -> Option<&upstream::Upstream> {
        if private::matches_any(&self.config.private, module) {
            return None;
        }
        self.upstream.as_ref()
    }

    /// The lock serialising upstream fetches of one key.
    pub(crate) fn inflight_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string()).or_default().clone()
    }

    /// Drop the lock entry of a finished fetch once no request holds it any more (callers
    /// drop their clone first; the last one out removes the entry).
    pub(crate) fn inflight_done(&self, key: &str) {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            map.remove(key);
        }
    }
}

/// Serve `state` on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = build_router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
