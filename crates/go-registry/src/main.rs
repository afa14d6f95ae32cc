//! The `go-registry` binary: parse flags, set up logging, bind, serve until SIGTERM/Ctrl-C.
//! Exit codes: 0 after a clean shutdown, 2 for configuration/startup errors.

use std::process::ExitCode;

use clap::Parser;
use go_registry::config::{go_env, Args, Config, ENV_TOKEN};
use go_registry::{logging, serve, shutdown_signal, AppState};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(&args.log);
    let token = std::env::var(ENV_TOKEN).ok();
    let config = match Config::from_args(&args, token, go_env) {
        Ok(c) => c,
        Err(e) => return startup_error(&e),
    };
    let state = match AppState::new(config) {
        Ok(s) => s,
        Err(e) => return startup_error(&e),
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => return startup_error(&e),
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(
        addr = %addr,
        mode = ?state.config.mode,
        storage = %state.config.storage.display(),
        upstream = if state.upstream.is_some() { "configured" } else { "off" },
        uploads = if state.config.tokens.is_empty() { "disabled" } else { "enabled" },
        "listening on http://{addr}"
    );
    if state.config.tokens.is_empty() {
        tracing::warn!("no upload token configured: POST /upload answers 403");
    }
    match serve(listener, state, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server error: {e}");
            ExitCode::from(1)
        }
    }
}

fn startup_error(e: &dyn std::error::Error) -> ExitCode {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!("{msg}");
    ExitCode::from(2)
}
