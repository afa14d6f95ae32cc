//! Prometheus metrics (text exposition via `prometheus-client`).
//!
//! * `go_registry_requests_total{route,status}`: every HTTP request, by logical route
//!   (`list`, `info`, `mod`, `zip`, `latest`, `upload`, ...) and status code.
//! * `go_registry_uploads_total{outcome}`: `uploaded`, `already_present`, `conflict`,
//!   `rejected`, `unauthorized`.
//! * `go_registry_cache_hits_total` / `go_registry_cache_misses_total{kind}`: proxy reads served
//!   from storage vs. needing the upstream.
//! * `go_registry_served_bytes_total{kind}`: body bytes of successful proxy reads.
//! * `go_registry_upstream_fetches_total{outcome}`: upstream fetches (`ok`, `not_found`,
//!   `error`, `rejected` = fetched but failed verification).
//! * `go_registry_connections_refused_total`: connections closed at once because
//!   `--max-connections` were open.
//! * `go_registry_panics_total`: handler panics answered with 500.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Labels of `requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Logical route.
    pub route: &'static str,
    /// HTTP status code.
    pub status: u16,
}

/// Labels with one `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// Outcome word.
    pub outcome: &'static str,
}

/// Labels with one `kind` (list, info, mod, zip, latest).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Proxy file kind.
    pub kind: &'static str,
}

/// All metrics of the service plus their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Uploads by outcome.
    pub uploads: Family<OutcomeLabels, Counter>,
    /// Proxy reads answered from storage.
    pub cache_hits: Family<KindLabels, Counter>,
    /// Proxy reads that needed the upstream.
    pub cache_misses: Family<KindLabels, Counter>,
    /// Bytes served by kind.
    pub served_bytes: Family<KindLabels, Counter>,
    /// Upstream fetches by outcome.
    pub upstream_fetches: Family<OutcomeLabels, Counter>,
    /// Connections refused over the connection cap.
    pub connections_refused: Counter,
    /// Handler panics.
    pub panics: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("go_registry");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let uploads = Family::<OutcomeLabels, Counter>::default();
        registry.register("uploads", "Uploads by outcome", uploads.clone());
        let cache_hits = Family::<KindLabels, Counter>::default();
        registry.register(
            "cache_hits",
            "Proxy reads served from storage",
            cache_hits.clone(),
        );
        let cache_misses = Family::<KindLabels, Counter>::default();
        registry.register(
            "cache_misses",
            "Proxy reads not in storage (upstream consulted if configured)",
            cache_misses.clone(),
        );
        let served_bytes = Family::<KindLabels, Counter>::default();
        registry.register(
            "served_bytes",
            "Body bytes of successful proxy reads",
            served_bytes.clone(),
        );
        let upstream_fetches = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "upstream_fetches",
            "Requests to the upstream proxy by outcome",
            upstream_fetches.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed at accept because the connection cap was reached",
            connections_refused.clone(),
        );
        let panics = Counter::default();
        registry.register("panics", "Handler panics answered with 500", panics.clone());
        Metrics {
            registry,
            connections_refused,
            panics,
            requests,
            uploads,
            cache_hits,
            cache_misses,
            served_bytes,
            upstream_fetches,
        }
    }

    /// Count one upload outcome.
    pub fn upload(&self, outcome: &'static str) {
        self.uploads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Render the text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
