//! The Go side of the end-to-end suites: the workspace's `go-registry` binary on a free
//! loopback port (temp storage, a token file), and a fresh Go environment for checking
//! what a consumer sees.
//!
//! The registry is started with `--listen 127.0.0.1:0` and the test reads the address
//! it reports ("listening on http://…") from its log, so there is no port race. Its
//! upstream is `off` unless asked for; with [`GoRegistryOptions::upstream_from_go_env`]
//! it is the first http(s) entry of `go env GOPROXY` (the machine's configured Go module
//! proxy: no host is written here), and the private prefixes are never asked upstream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::paths::workspace_bin;
use crate::process::ChildGuard;

/// The private module prefix of `examples/monorepo` (its GONOSUMDB).
pub const EXAMPLE_PRIVATE_PREFIX: &str = "go.packages.dev.ameide.io";

/// The go command the tests use (`$PKGRUN_GO`, else `go` from PATH).
pub fn go_bin() -> PathBuf {
    match std::env::var_os("PKGRUN_GO") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("go"),
    }
}

/// The first http(s) entry of `go env GOPROXY`: the upstream the registry may fetch from.
pub fn go_env_upstream() -> Result<String> {
    let out = Command::new(go_bin())
        .args(["env", "GOPROXY"])
        .output()
        .context("run go env GOPROXY")?;
    let value = String::from_utf8_lossy(&out.stdout).to_string();
    value
        .trim()
        .split([',', '|'])
        .find(|e| e.starts_with("http://") || e.starts_with("https://"))
        .map(|e| e.trim_end_matches('/').to_string())
        .context("go env GOPROXY names no http(s) proxy")
}

/// The git sha the Go suites stamp (`SOURCE_GIT_SHA`).
pub const TEST_GIT_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// The workspace's `pkgrun` in `root` with the Go environment contract pointing at `url`
/// with `token`: GONOSUMDB for the example's private prefix, a fixed SOURCE_GIT_SHA, no
/// colour, and nothing of the caller's environment that would change the run (GOPRIVATE,
/// GONOPROXY, GOFLAGS, VERBOSE, version overrides). GOSUMDB stays as the environment has
/// it: the go command reaches the checksum database through the registry's `/sumdb/` proxy,
/// so only the registry's uplink leaves loopback.
pub fn pkgrun_with_go_env(root: &Path, url: &str, token: &str) -> Command {
    let mut cmd = Command::new(workspace_bin("pkgrun"));
    cmd.current_dir(root)
        .env("GO_REGISTRY_URL", url)
        .env("GO_REGISTRY_TOKEN", token)
        .env("GONOSUMDB", EXAMPLE_PRIVATE_PREFIX)
        .env("SOURCE_GIT_SHA", TEST_GIT_SHA)
        .env("NO_COLOR", "1")
        .env_remove("GOPRIVATE")
        .env_remove("GONOPROXY")
        .env_remove("GOFLAGS")
        .env_remove("VERBOSE")
        .env_remove("AMEIDE_GO_SDK_VERSION")
        .env_remove("E2E_GO_SDK_VERSION");
    cmd
}

/// How to start the registry.
#[derive(Debug, Clone)]
pub struct GoRegistryOptions {
    /// The upload token written to the token file.
    pub token: String,
    /// Fetch unknown modules from `go env GOPROXY`'s proxy (else `--upstream off`).
    pub upstream_from_go_env: bool,
    /// `--private` prefixes (never asked upstream).
    pub private: Vec<String>,
    /// More flags (e.g. `--max-zip-bytes 200`).
    pub extra_args: Vec<String>,
}

impl Default for GoRegistryOptions {
    fn default() -> Self {
        GoRegistryOptions {
            token: "e2e-go-token-5f2b7c".to_string(),
            upstream_from_go_env: false,
            private: vec![EXAMPLE_PRIVATE_PREFIX.to_string()],
            extra_args: Vec::new(),
        }
    }
}

/// A running `go-registry`, stopped on drop.
pub struct GoRegistry {
    guard: ChildGuard,
    url: String,
    token: String,
    storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl GoRegistry {
    /// Starts the registry with `options`.
    pub fn start(options: GoRegistryOptions) -> Result<GoRegistry> {
        let dir = tempfile::tempdir()?;
        let storage = dir.path().join("storage");
        let token_file = dir.path().join("tokens");
        std::fs::write(&token_file, format!("{}\n", options.token))?;
        let log = dir.path().join("go-registry.log");
        let upstream = if options.upstream_from_go_env {
            go_env_upstream()?
        } else {
            "off".to_string()
        };
        let mut cmd = Command::new(workspace_bin("go-registry"));
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--storage")
            .arg(&storage)
            .arg("--token-file")
            .arg(&token_file)
            .arg("--upstream")
            .arg(&upstream)
            .args(&options.extra_args)
            .env_remove("GO_REGISTRY_TOKEN")
            .env_remove("GO_REGISTRY_UPSTREAM");
        if !options.private.is_empty() {
            cmd.arg("--private").arg(options.private.join(","));
        }
        let mut guard = ChildGuard::spawn_logged("go-registry", &mut cmd, &log)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let text = guard.log();
            if let Some(i) = text.find("listening on http://") {
                let url = text[i + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(['/', ',', ')'])
                    .to_string();
                break url;
            }
            if !guard.is_running() {
                bail!("go-registry exited during startup; its log:\n{text}");
            }
            if Instant::now() >= deadline {
                bail!("go-registry did not report its address; its log:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        guard.wait_http_ok(&format!("{url}/healthz"), Duration::from_secs(30))?;
        Ok(GoRegistry {
            guard,
            url,
            token: options.token,
            storage,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// The storage root (Athens' disk layout).
    pub fn storage(&self) -> &Path {
        &self.storage
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        self.guard.log()
    }

    /// `GET <url><path>`: status and body.
    pub fn get(&self, path: &str) -> Result<(u16, Vec<u8>)> {
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()?;
        let resp = client.get(format!("{}{path}", self.url)).send()?;
        Ok((resp.status().as_u16(), resp.bytes()?.to_vec()))
    }

    /// Stops the registry now (e.g. to make it unreachable).
    pub fn stop(&mut self) {
        self.guard.stop();
    }
}

/// A fresh Go consumer: empty GOPATH/GOMODCACHE/GOCACHE and an empty module directory,
/// with only the registry as GOPROXY.
pub struct GoConsumer {
    dir: tempfile::TempDir,
    goproxy: String,
    gonosumdb: String,
}

impl GoConsumer {
    pub fn new(goproxy: &str, gonosumdb: &str) -> Result<GoConsumer> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("consumer"))?;
        Ok(GoConsumer {
            dir,
            goproxy: goproxy.to_string(),
            gonosumdb: gonosumdb.to_string(),
        })
    }

    /// The consumer module's directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("consumer")
    }

    /// Runs `go <args>` in the consumer directory; fails with its output unless it exits 0.
    pub fn go(&self, args: &[&str]) -> Result<String> {
        let gopath = self.dir.path().join("gopath");
        let out = Command::new(go_bin())
            .args(args)
            .current_dir(self.dir())
            .env("GOPATH", &gopath)
            .env("GOMODCACHE", gopath.join("pkg/mod"))
            .env("GOCACHE", self.dir.path().join("gocache"))
            .env("GOPROXY", &self.goproxy)
            .env("GONOSUMDB", &self.gonosumdb)
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off")
            .env("GOTOOLCHAIN", "local")
            .env_remove("GOPRIVATE")
            .env_remove("GONOPROXY")
            .output()
            .context("run go")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!("go {} failed ({}):\n{text}", args.join(" "), out.status);
        }
        Ok(text)
    }

    /// The `h1:` go.sum records for `module version` (`version` may end in `/go.mod`).
    pub fn go_sum_h1(&self, module: &str, version: &str) -> Option<String> {
        let sum = std::fs::read_to_string(self.dir().join("go.sum")).ok()?;
        sum.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == module && f[1] == version).then(|| f[2].to_string())
        })
    }
}

impl Drop for GoConsumer {
    fn drop(&mut self) {
        // The module cache is read-only by design: make it removable.
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.dir.path())
            .status();
    }
}
