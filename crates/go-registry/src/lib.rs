//! `go-registry`: a Go module registry for private modules (docs/go-registry.md).
//!
//! * `POST /upload` accepts a module version (multipart `module`, `version`, `info`, `mod`,
//!   `zip`; bearer token), validates it with the Go module rules from [`gomod`], and stores
//!   it atomically in Athens' disk layout ([`storage`]).
//! * The GOPROXY read protocol (`@v/list`, `.info`, `.mod`, `.zip`, `@latest`) is served
//!   from storage, falling back to an upstream proxy on a miss and caching what it fetched
//!   ([`routes::proxy`], [`upstream`]).
//! * `/sumdb/<name>/…` is proxied to the upstream's checksum database ([`sumdb`]).
//! * `/healthz`, `/readyz`, `/metrics` ([`metrics`]).
//!
//! Connections are served by [`server`] (timeouts, connection cap, shutdown deadline).
//!
//! The binary (`src/main.rs`) only parses flags and calls [`run`]; tests build the router
//! with [`build_router`] or start the binary.

pub mod config;
pub mod error;
pub mod logging;
pub mod metrics;
pub mod private;
pub mod routes;
pub mod server;
pub mod storage;
pub mod sumdb;
pub mod upstream;
pub mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use config::{Args, Config, Mode};
pub use error::AppError;
pub use routes::build_router;
pub use server::serve;

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
    /// Room for zips held in memory while they are checked, in [`CHECK_UNIT`]s.
    check_budget: Arc<tokio::sync::Semaphore>,
    check_units: u32,
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
            (Some(base), Mode::Standalone) => Some(
                upstream::Upstream::new(base, config.max_upstream_fetches)
                    .map_err(StartError::Client)?,
            ),
            _ => None,
        };
        let file_cache = storage::cache::FileCache::new(config.memory_cache_bytes);
        let check_units = u32::try_from(config.max_check_bytes.div_ceil(CHECK_UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS as u32);
        Ok(AppState(Arc::new(Inner {
            config,
            storage,
            upstream,
            metrics: metrics::Metrics::new(),
            file_cache,
            check_budget: Arc::new(tokio::sync::Semaphore::new(check_units as usize)),
            check_units,
            inflight: Mutex::new(HashMap::new()),
        })))
    }

    /// The upstream to ask about `module`, unless there is none or the module is private:
    /// it matches `--private`, or a version of it was uploaded here (so an upstream module
    /// of the same name can never be merged in: no dependency confusion).
    pub fn upstream_for(&self, module: &str) -> Option<&upstream::Upstream> {
        let up = self.upstream.as_ref()?;
        if private::matches_any(&self.config.private, module) || self.storage.is_private(module) {
            return None;
        }
        Some(up)
    }

    /// Wait for room to hold `len` bytes of zip in memory (the whole budget at most, so
    /// one large zip still gets through alone).
    pub async fn check_room(&self, len: u64) -> tokio::sync::OwnedSemaphorePermit {
        let units = u32::try_from(len.div_ceil(CHECK_UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.check_units);
        self.check_budget
            .clone()
            .acquire_many_owned(units)
            .await
            .expect("the check budget is never closed")
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

/// The unit of the zip check budget (`--max-check-bytes`).
pub const CHECK_UNIT: u64 = 64 << 10;

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
