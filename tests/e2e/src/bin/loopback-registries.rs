//! `loopback-registries [--env-prefix P] [--go-private PREFIX] -- <command> [args…]`
//!
//! Starts the three registries of the main job on loopback — the project's Go
//! registry (upstream from `go env GOPROXY`), devpi (index `root/ameide` over its
//! built-in `root/pypi` mirror) and Verdaccio (uplink from `npm config get registry`)
//! — then runs `<command>` with pkgrun's environment contract set for them, and stops
//! the registries when it exits. Credentials reach the command through its
//! environment only; its exit code is passed through. The go command keeps its checksum
//! database on: the Go registry proxies it (`/sumdb/…`), so the registry's upstream
//! connection is still the only one that leaves the machine.
//!
//! This is what `scripts/main-job.sh` uses to run the job on a laptop or a CI runner
//! with no registries of its own. It reuses the end-to-end suites' harness, so the
//! registries are configured exactly as the tests configure them.

use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};
use pkgrun_core::log::Logger;
use pkgrun_e2e::go::{GoRegistry, GoRegistryOptions};
use pkgrun_e2e::{Devpi, Verdaccio};

struct Args {
    env_prefix: String,
    go_private: String,
    command: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut env_prefix = "AMEIDE".to_string();
    let mut go_private = "go.packages.dev.ameide.io".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--env-prefix" => env_prefix = args.next().context("--env-prefix needs a value")?,
            "--go-private" => go_private = args.next().context("--go-private needs a value")?,
            "--" => {
                let command: Vec<String> = args.collect();
                if command.is_empty() {
                    bail!("no command after `--`");
                }
                return Ok(Args { env_prefix, go_private, command });
            }
            other => bail!("unknown argument `{other}`; usage: loopback-registries [--env-prefix P] [--go-private PREFIX] -- <command> [args…]"),
        }
    }
    bail!("usage: loopback-registries [--env-prefix P] [--go-private PREFIX] -- <command> [args…]")
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    let args = parse_args()?;
    let logger = Logger::stderr("packages:registries");
    let log = |msg: &str| logger.info(msg);

    let go = GoRegistry::start(GoRegistryOptions {
        upstream_from_go_env: true,
        private: vec![args.go_private.clone()],
        ..GoRegistryOptions::default()
    })
    .context("starting go-registry")?;
    log(&format!("go-registry at {}", go.url()));
    let devpi = Devpi::start().context("starting devpi")?;
    log(&format!("devpi at {}", devpi.index_url()));
    let verdaccio = Verdaccio::start().context("starting Verdaccio")?;
    log(&format!("verdaccio at {}", verdaccio.url()));

    let prefix = &args.env_prefix;
    let status = Command::new(&args.command[0])
        .args(&args.command[1..])
        .env("GO_REGISTRY_URL", go.url())
        .env("GO_REGISTRY_TOKEN", go.token())
        .env("GONOSUMDB", &args.go_private)
        .env_remove("GOPRIVATE")
        .env_remove("GONOPROXY")
        .env(format!("{prefix}_PYPI_REPOSITORY_URL"), devpi.upload_url())
        .env(format!("{prefix}_PYPI_USERNAME"), devpi.username())
        .env(format!("{prefix}_PYPI_PASSWORD"), devpi.password())
        .env("PIP_INDEX_URL", devpi.simple_url())
        .env("NPM_REGISTRY_URL", verdaccio.url())
        .env("NPM_AUTH_TOKEN", verdaccio.token())
        .status()
        .with_context(|| format!("running `{}`", args.command[0]))?;
    log("stopping the registries");
    drop((go, devpi, verdaccio));
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}
