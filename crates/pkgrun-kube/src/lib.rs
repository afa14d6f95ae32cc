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

// KubeError carries the object and the API Status by value so messages can name them;
// it is returned once per failed command, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod configmap;
pub mod error;
pub mod helmfile;
pub mod workload;

use std::future::Future;

pub use configmap::{ApplyReport, ConfigMapSink, SyncedState, CONFIGMAP_DATA_LIMIT};
pub use error::{KubeError, ObjectRef};

/// A connected Kubernetes client with a blocking interface.
pub struct Kube {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    default_namespace: String,
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

    fn with_runtime(
        runtime: tokio::runtime::Runtime,
        config: kube::Config,
    ) -> Result<Self, KubeError> {
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
}

fn runtime() -> Result<tokio::runtime::Runtime, KubeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(KubeError::Runtime)
}
