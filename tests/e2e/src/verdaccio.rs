//! A real Verdaccio (the pinned one from `scripts/tools/install-verdaccio.sh`) on loopback.
//!
//! The configuration is generated at start in a temp directory: htpasswd auth (`max_users`
//! set, so users can sign up through the npm API), the internal scope `@ameideio/*` served
//! from local storage only (never proxied), and every other package proxied with caching to
//! one uplink. The uplink URL is a parameter; by default it is what `npm config get registry`
//! says at start, so no registry host is written in code.

use crate::forwarder::TcpForwarder;
use crate::process::{free_port, loopback_client, retry_port_race, run_ok, ChildGuard};
use crate::tools_bin;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// The registry npm is configured to use on this machine (`npm config get registry`).
pub fn npm_config_registry() -> Result<String> {
    let out = run_ok(
        "npm config get registry",
        Command::new("npm").args(["config", "get", "registry"]),
    )?;
    let url = out.trim().to_owned();
    if !url.starts_with("http://") && !url.starts_with("https://") {
        bail!("`npm config get registry` printed {url:?}, not an http(s) URL");
    }
    Ok(url)
}

/// How to start a [`Verdaccio`].
#[derive(Debug, Clone, Default)]
pub struct VerdaccioOptions {
    /// Uplink for everything outside `@ameideio/*`; `None` = `npm config get registry`.
    pub uplink_url: Option<String>,
    /// Proxy Verdaccio uses to reach an `https://` uplink (e.g. a [`TcpForwarder::connect_proxy`]).
    pub uplink_https_proxy: Option<String>,
    /// Name of the user created at start (default `ameide`).
    pub username: Option<String>,
}

/// A running Verdaccio with one user; stopped (process group killed) on drop.
pub struct Verdaccio {
    child: ChildGuard,
    dir: TempDir,
    port: u16,
    uplink: String,
    username: String,
    password: String,
    token: String,
}

impl Verdaccio {
    /// Starts with the uplink from `npm config get registry`.
    pub fn start() -> Result<Self> {
        Self::start_with(VerdaccioOptions::default())
    }

    /// Starts with the given uplink URL (e.g. a loopback [`TcpForwarder`] to the real one).
    pub fn start_with_uplink(uplink_url: &str) -> Result<Self> {
        Self::start_with(VerdaccioOptions {
            uplink_url: Some(uplink_url.to_owned()),
            ..Default::default()
        })
    }

    /// Starts with the uplink from `npm config get registry`, reached only through a loopback
    /// [`TcpForwarder`] that the caller can shut down to make the upstream unreachable:
    /// a CONNECT proxy for an `https://` uplink (TLS still verifies the real host name), a
    /// fixed forwarder (and the uplink URL rewritten to it) for an `http://` one.
    pub fn start_with_forwarded_uplink() -> Result<(Self, TcpForwarder)> {
        let upstream = npm_config_registry()?;
        if let Some(rest) = upstream.strip_prefix("http://") {
            let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
            let target = if hostport.contains(':') {
                hostport.to_owned()
            } else {
                format!("{hostport}:80")
            };
            let fwd = TcpForwarder::start(&target)?;
            let uplink = format!("{}/{path}", fwd.url());
            let v = Self::start_with_uplink(&uplink)?;
            Ok((v, fwd))
        } else {
            let fwd = TcpForwarder::connect_proxy()?;
            let v = Self::start_with(VerdaccioOptions {
                uplink_url: Some(upstream),
                uplink_https_proxy: Some(fwd.url()),
                username: None,
            })?;
            Ok((v, fwd))
        }
    }

    /// Starts Verdaccio with `options`, waits for `/-/ping`, and signs up the first user.
    pub fn start_with(options: VerdaccioOptions) -> Result<Self> {
        retry_port_race(|| Self::start_once(options.clone()))
    }

    fn start_once(options: VerdaccioOptions) -> Result<Self> {
        let bin = tools_bin("verdaccio");
        let uplink = match options.uplink_url {
            Some(u) => u,
            None => npm_config_registry()?,
        };
        let dir = tempfile::Builder::new()
            .prefix("pkgrun-verdaccio-")
            .tempdir()?;
        let port = free_port();
        let config = render_config(
            dir.path(),
            &format!("127.0.0.1:{port}"),
            &uplink,
            options.uplink_https_proxy.as_deref(),
        );
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, config)?;

        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(&config_path)
            .current_dir(dir.path());
        let mut child =
            ChildGuard::spawn_logged("verdaccio", &mut cmd, &dir.path().join("verdaccio.log"))
                .context("spawn verdaccio")?;
        child.wait_http_ok(
            &format!("http://127.0.0.1:{port}/-/ping"),
            Duration::from_secs(60),
        )?;

        let username = options.username.unwrap_or_else(|| "ameide".to_owned());
        let password = "pkgrun-e2e-secret-1".to_owned();
        let mut v = Self {
            child,
            dir,
            port,
            uplink,
            username,
            password,
            token: String::new(),
        };
        v.token = v.add_user(&v.username.clone(), &v.password.clone())?;
        Ok(v)
    }

    /// Signs up a user through the npm API (`PUT /-/user/org.couchdb.user:<name>`) and returns
    /// its token.
    pub fn add_user(&self, name: &str, password: &str) -> Result<String> {
        let url = format!("{}-/user/org.couchdb.user:{name}", self.url());
        let body =
            serde_json::json!({ "name": name, "password": password, "type": "user", "roles": [] });
        let resp = loopback_client(Duration::from_secs(30))
            .put(&url)
            .json(&body)
            .send()
            .with_context(|| format!("PUT {url}"))?;
        let status = resp.status();
        let answer: serde_json::Value = resp.json().unwrap_or_default();
        match answer.get("token").and_then(|t| t.as_str()) {
            Some(token) if status.is_success() => Ok(token.to_owned()),
            _ => bail!("verdaccio sign-up of {name} failed: {status} {answer}"),
        }
    }

    /// Base URL with a trailing slash: `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Token of the user created at start (an `NPM_AUTH_TOKEN`).
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The uplink URL this instance proxies to.
    pub fn uplink_url(&self) -> &str {
        &self.uplink
    }

    /// Verdaccio's package storage (`<storage>/<name>/package.json` and cached tarballs).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    /// The htpasswd user database (the users signed up so far).
    pub fn htpasswd_path(&self) -> PathBuf {
        self.dir.path().join("htpasswd")
    }

    /// The local storage's database, which holds the server secret its tokens are made with.
    pub fn db_path(&self) -> PathBuf {
        self.storage_dir().join(".verdaccio-db.json")
    }

    /// Verdaccio's output so far (http-level request log).
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// `.npmrc` text pointing npm/pnpm at this registry, with `token` for publishing (the
    /// auth line is omitted when `token` is `None`).
    pub fn npmrc(&self, token: Option<&str>) -> String {
        let mut s = format!("registry={}\n", self.url());
        if let Some(t) = token {
            s.push_str(&format!("//127.0.0.1:{}/:_authToken={t}\n", self.port));
        }
        s
    }

    /// Stops the server now (e.g. to test "registry down"); also happens on drop.
    pub fn stop(&mut self) {
        self.child.stop();
    }
}

/// The configuration of a Verdaccio keeping its storage and htpasswd under `dir`, listening on
/// `listen` (`host:port`), proxying to `uplink` (through `https_proxy` if given).
pub fn render_config(dir: &Path, listen: &str, uplink: &str, https_proxy: Option<&str>) -> String {
    let proxy_line = https_proxy
        .map(|p| format!("    https_proxy: {p}\n"))
        .unwrap_or_default();
    format!(
        r#"# Generated by pkgrun-e2e for one test run.
storage: {storage}
listen: {listen}
auth:
  htpasswd:
    file: {htpasswd}
    max_users: 100
uplinks:
  upstream:
    url: {uplink}
    cache: true
    timeout: 60s
    max_fails: 2
    fail_timeout: 1m
{proxy_line}packages:
  '@ameideio/*':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
    proxy: upstream
web:
  enable: false
server:
  keepAliveTimeout: 60
logs: {{ type: stdout, format: pretty, level: http }}
"#,
        storage = dir.join("storage").display(),
        htpasswd = dir.join("htpasswd").display(),
    )
}
