//! pkgrun's Kubernetes side, behind a blocking API (each call runs on a private
//! current-thread tokio runtime, so the callers — the `pkgrun` commands — stay
//! synchronous):
//!
//! * [`configmap`]: the ConfigMap state sink (server-side apply of a language's state
//!   documents) and the reader `pkgrun state sync` uses;
//! * [`workload`]: what `pkgrun layer` asks the API: is the registry Deployment
//!   Available, how did the test Job end, what did its pods log;
//! * [`helmfile`]: reading a helmfile layer and its values files (selector, registry
//!   Deployment).
//!
//! Credentials come from [`kube::Config::infer`]: `KUBECONFIG` or `~/.kube/config`
//! first, else the in-cluster service account. Errors keep the API `Status`
//! ([`KubeError`]).
//!
//! Every call is bounded ([`Limits`]): a connect and a read timeout per request (an API
//! server that accepts and never answers cannot hang a command), and the ConfigMap
//! calls (GET, server-side apply: both idempotent) are retried a bounded number of
//! times with backoff when the server did not answer or answered 429/502/503/504; a 429
//! waits the `retryAfterSeconds` of its Status (what the API server sends with its
//! `Retry-After` header), capped. When the attempts run out the error is
//! [`KubeError::Unreachable`] or [`KubeError::Overloaded`] (exit 5). kube-rs's own retry
//! layer (up to 15 retries, waits of up to 1000 s) is turned off in favour of these
//! bounds.

// KubeError carries the object and the API Status by value so messages can name them;
// it is returned once per failed command, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod configmap;
pub mod error;
pub mod helmfile;
pub mod workload;

use std::future::Future;
use std::time::Duration;

pub use configmap::{ApplyReport, ConfigMapSink, SyncedState, CONFIGMAP_DATA_LIMIT};
pub use error::{KubeError, ObjectRef};

/// How long one API request may take and how often a failed one is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// The longest wait for (each part of) an answer.
    pub read_timeout: Duration,
    /// Tries per call, the first included.
    pub attempts: u32,
    /// The wait before the second try; doubled for each further one.
    pub first_backoff: Duration,
    /// The longest `retryAfterSeconds` of a 429 that is honoured as asked.
    pub max_retry_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            attempts: 4,
            first_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// A connected Kubernetes client with a blocking interface.
pub struct Kube {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    default_namespace: String,
    limits: Limits,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("default_namespace", &self.default_namespace)
            .finish_non_exhaustive()
    }
}

impl Kube {
    /// Credentials from `KUBECONFIG`/`~/.kube/config`, else the in-cluster service
    /// account (its namespace file gives the default namespace).
    pub fn infer() -> Result<Self, KubeError> {
        let runtime = runtime()?;
        let config = runtime
            .block_on(kube::Config::infer())
            .map_err(|e| KubeError::Config(Box::new(e)))?;
        Self::with_runtime(runtime, config)
    }

    /// A client for an explicit configuration (tests point it at a loopback server).
    pub fn from_config(config: kube::Config) -> Result<Self, KubeError> {
        Self::with_runtime(runtime()?, config)
    }

    /// [`Kube::from_config`] with other [`Limits`] (tests use short ones).
    pub fn from_config_with_limits(
        config: kube::Config,
        limits: Limits,
    ) -> Result<Self, KubeError> {
        Self::build(runtime()?, config, limits)
    }

    fn with_runtime(
        runtime: tokio::runtime::Runtime,
        config: kube::Config,
    ) -> Result<Self, KubeError> {
        Self::build(runtime, config, Limits::default())
    }

    fn build(
        runtime: tokio::runtime::Runtime,
        mut config: kube::Config,
        limits: Limits,
    ) -> Result<Self, KubeError> {
        config.connect_timeout = Some(limits.connect_timeout);
        config.read_timeout = Some(limits.read_timeout);
        config.write_timeout = Some(limits.read_timeout);
        // The read timeout counts from the request, not from when a pooled connection
        // went idle.
        config.reset_reader_on_write = true;
        config.default_retry = false;
        let default_namespace = config.default_namespace.clone();
        // The client's tower buffer spawns its worker on the current runtime.
        let client = {
            let _guard = runtime.enter();
            kube::Client::try_from(config).map_err(|e| KubeError::Client(Box::new(e)))?
        };
        Ok(Kube {
            runtime,
            client,
            default_namespace,
            limits,
        })
    }

    /// An unauthenticated client for a plain-HTTP API endpoint such as `kubectl proxy`
    /// (or a test server on loopback), with `namespace` as the default namespace.
    pub fn for_url(url: &str, namespace: &str) -> Result<Self, KubeError> {
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| {
            KubeError::Client(Box::new(kube::Error::HttpError(e.into())))
        })?;
        let mut config = kube::Config::new(uri);
        config.default_namespace = namespace.to_string();
        Self::from_config(config)
    }

    /// The namespace of the kubeconfig context, or of the in-cluster service account.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub(crate) fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Runs an idempotent API call, retried within [`Limits`] (see the module docs);
    /// the last error when the attempts run out or the error is not worth a retry.
    pub(crate) fn call<T, Fut>(&self, mut attempt: impl FnMut() -> Fut) -> Result<T, kube::Error>
    where
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        self.block_on(async {
            let mut backoff = self.limits.first_backoff;
            let mut tries = 1;
            loop {
                let err = match attempt().await {
                    Ok(value) => return Ok(value),
                    Err(err) => err,
                };
                match retry_wait(&err, backoff, self.limits.max_retry_after) {
                    Some(wait) if tries < self.limits.attempts => {
                        tokio::time::sleep(wait).await;
                        backoff *= 2;
                        tries += 1;
                    }
                    _ => return Err(err),
                }
            }
        })
    }
}

/// How long to wait before retrying after `err`, or `None` when a retry cannot help
/// (the server answered, e.g. 403 or 404).
fn retry_wait(err: &kube::Error, backoff: Duration, max_retry_after: Duration) -> Option<Duration> {
    match err {
        kube::Error::Api(status) if status.code == 429 => Some(
            status
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.into()).min(max_retry_after))
                .unwrap_or(backoff),
        ),
        kube::Error::Api(status) if matches!(status.code, 502..=504) => Some(backoff),
        kube::Error::Api(_) => None,
        // No answer: refused, reset, timed out.
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(backoff),
        _ => None,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, KubeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(KubeError::Runtime)
}
