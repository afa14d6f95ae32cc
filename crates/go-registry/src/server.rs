//! The accept loop: HTTP/1.1 connections served by hyper with a timer, so that a client
//! that is slow or silent cannot hold a connection (or the shutdown) forever.
//!
//! * **Header timeout** (`--header-timeout`): the request line and headers must arrive
//!   within it. hyper restarts the same timer when a kept-alive connection waits for its
//!   next request, so it is also the idle timeout.
//! * **Body idle timeout** (`--body-timeout`, applied in [`crate::routes`]): a request body
//!   that sends nothing for this long fails the request, and the connection is closed.
//! * **Connection cap** (`--max-connections`): connections over the cap are closed right
//!   after `accept`, before anything is read, and counted in `go_registry_connections_refused_total`.
//! * **Shutdown deadline** (`--shutdown-timeout`): after SIGTERM the listener closes,
//!   in-flight requests get this long to finish, then the remaining connections are dropped.
//!
//! Only HTTP/1.1 is served: the go command speaks HTTP/1.1 to an `http://` proxy, and h2c
//! would need its own set of timeouts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::AppState;

/// Connection-level limits (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Time allowed for the request line and headers, and for an idle kept-alive connection.
    pub header_timeout: Duration,
    /// Time a request body may send nothing before the request fails.
    pub body_timeout: Duration,
    /// Time a handler may take to produce its response (not counting the response body).
    pub request_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Time in-flight requests get after the shutdown signal.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(600),
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Serve `state` on an already bound listener until `shutdown` resolves, then drain for at
/// most the shutdown deadline.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.server;
    let service = TowerToHyperService::new(
        tower::ServiceBuilder::new()
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                limits.body_timeout,
            ))
            .service(crate::build_router(state.clone())),
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            state.metrics.connections_refused.inc();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = http.serve_connection(TokioIo::new(stream), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, malformed request): hyper has
            // already answered what could be answered.
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    let open = graceful.count();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!(
                open,
                "shutdown deadline of {}s passed; dropping the remaining connections",
                limits.shutdown_timeout.as_secs()
            );
        }
    }
    Ok(())
}
