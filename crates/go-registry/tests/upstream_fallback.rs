//! Upstream fallback and caching: `github.com/google/uuid@v1.6.0` is fetched twice through
//! our registry, each time by the real `go` command in a fresh GOMODCACHE. The registry's
//! upstream is a loopback HTTP forwarder (in this test) to the real upstream proxy taken
//! from `go env GOPROXY`; the forwarder is shut down before the second fetch, so the second
//! fetch can only be served from storage. This is the one test that reaches the upstream.
//! The checksum database stays on: the registry checks uuid's hashes against it before
//! caching, and the go command verifies them through the registry's `/sumdb/` proxy.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{go_env_upstream, metric, GoEnv, Registry, RegistryOptions};

/// A loopback HTTP forwarder to `upstream`, on its own runtime so that stopping it closes
/// every socket (including idle keep-alive connections).
struct Forwarder {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Forwarder {
    fn start(upstream: String) -> Forwarder {
        let requests = Arc::new(AtomicUsize::new(0));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let counter = requests.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client = reqwest::Client::new();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                    let client = client.clone();
                    let upstream = upstream.clone();
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let resp = client.get(format!("{upstream}{}", uri.path())).send().await;
                        match resp {
                            Ok(r) => {
                                let status =
                                    axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap();
                                (status, r.bytes().await.unwrap_or_default()).into_response()
                            }
                            Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
                        }
                    }
                });
                tokio::select! {
                    _ = async { axum::serve(listener, app).await } => {},
                    _ = stop_rx => {},
                }
            });
            // Dropping the runtime aborts every connection task.
            drop(rt);
        });
        let addr = addr_rx.recv().unwrap();
        Forwarder {
            url: format!("http://{addr}"),
            requests,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

use axum::response::IntoResponse;

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

const UUID: &str = "github.com/google/uuid";
const UUID_VERSION: &str = "v1.6.0";

/// `go get` + `go build` of uuid in a fresh environment with the checksum database on
/// (GOSUMDB as `go env` has it). Without `go_sum`, the go command verifies uuid through the
/// registry's `/sumdb/` proxy (the database's own host is not reachable here); with the
/// go.sum of an earlier fetch, it needs no lookup.
fn fetch_uuid(reg: &Registry, go_sum: Option<&str>) -> GoEnv {
    let env = GoEnv::new(&reg.url, "");
    let r = env.go(&["mod", "init", "example.test/consumer"]);
    assert!(r.ok, "{}", r.output);
    if let Some(sum) = go_sum {
        std::fs::write(env.consumer().join("go.sum"), sum).unwrap();
    }
    let r = env.go(&["get", &format!("{UUID}@{UUID_VERSION}")]);
    assert!(
        r.ok,
        "go get failed:\n{}\nregistry logs:\n{}",
        r.output,
        reg.logs()
    );
    std::fs::write(
        env.consumer().join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/uuid\"\n)\n\nfunc main() { fmt.Println(uuid.NewSHA1(uuid.NameSpaceURL, []byte(\"x\")).Version()) }\n",
    )
    .unwrap();
    let r = env.go(&["build", "-o", "consumer.bin", "."]);
    assert!(r.ok, "go build failed:\n{}", r.output);
    env
}

#[test]
fn upstream_fetch_is_cached_and_served_after_upstream_is_gone() {
    let Some(upstream) = go_env_upstream() else {
        panic!("`go env GOPROXY` has no http(s) entry: the upstream fallback cannot be tested");
    };
    let mut fwd = Forwarder::start(upstream);
    let reg = Registry::start_with(RegistryOptions {
        upstream: fwd.url.clone(),
        ..Default::default()
    });

    // First fetch: a miss, filled from the upstream through the forwarder, and verified by
    // the go command against the checksum database through the registry.
    let first = fetch_uuid(&reg, None);
    let metrics = reg.get_text("/metrics").1;
    assert!(
        metric(
            &metrics,
            "go_registry_requests_total{route=\"sumdb\",status=\"200\"}"
        ) >= 2.0,
        "the go command used the registry's checksum database proxy:\n{metrics}"
    );
    assert!(
        fwd.requests.load(Ordering::SeqCst) >= 3,
        "info, mod and zip came through the forwarder"
    );
    let stored = reg.storage.join(UUID).join(UUID_VERSION);
    for f in ["go.mod", "source.zip", "v1.6.0.info"] {
        assert!(stored.join(f).is_file(), "{f} cached in Athens layout");
    }
    let h1_first = first.go_sum_h1(UUID, UUID_VERSION).expect("go.sum line");
    let stored_zip = std::fs::read(stored.join("source.zip")).unwrap();
    assert_eq!(gomod::hash_zip(&stored_zip).unwrap(), h1_first);

    // The upstream becomes unreachable.
    fwd.shutdown();
    let port = fwd.url.rsplit(':').next().unwrap();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "forwarder still accepts connections"
    );

    let before = reg.get_text("/metrics").1;
    let go_sum = std::fs::read_to_string(first.consumer().join("go.sum")).unwrap();
    let second = fetch_uuid(&reg, Some(&go_sum));
    assert_eq!(
        second.go_sum_h1(UUID, UUID_VERSION).as_deref(),
        Some(h1_first.as_str())
    );
    // A public module whose upstream is down: list and @latest answer with the stored
    // versions (docs/go-registry.md), not an error.
    let (status, list) = reg.get_text(&format!("/{UUID}/@v/list"));
    assert_eq!((status, list.as_str()), (200, "v1.6.0\n"));
    let (status, latest) = reg.get_text(&format!("/{UUID}/@latest"));
    assert_eq!(status, 200, "{latest}");
    let latest: serde_json::Value = serde_json::from_str(&latest).expect("@latest is JSON");
    assert_eq!(latest["Version"], UUID_VERSION);

    let after = reg.get_text("/metrics").1;
    let hits = |t: &str| metric(t, "go_registry_cache_hits_total{kind=\"zip\"}");
    assert!(
        hits(&after) > hits(&before),
        "second zip fetch was a cache hit"
    );
    assert_eq!(
        metric(&after, "go_registry_upstream_fetches_total{outcome=\"ok\"}"),
        1.0,
        "the version was fetched from upstream exactly once"
    );
}
