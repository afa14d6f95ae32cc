//! Test harness: start `go-registry` (and a real Athens when installed) on a free loopback
//! port, build module zips with `gomod`, upload them, and run the real `go` command in a
//! fresh GOPATH/GOMODCACHE.
//!
//! Reusable by other suites (the e2e crate includes this file with `#[path]`): it needs
//! only `reqwest` (blocking + multipart), `gomod`, `tempfile`, `serde_json` and `zip`.
//! Outside this crate the binary is found through `GO_REGISTRY_BIN` (see [`registry_bin`]).
//!
//! Processes are killed when their handle drops; their stderr is captured so a failing
//! test can print it ([`Registry::logs`]).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The real go command used by the tests.
pub fn go_bin() -> PathBuf {
    let fixed = PathBuf::from("/usr/local/go/bin/go");
    if fixed.exists() {
        fixed
    } else {
        PathBuf::from("go")
    }
}

/// `$PKGRUN_TOOLS_DIR`, default `<repo>/.tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("PKGRUN_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(".tools")
        })
}

/// The `go-registry` binary: `GO_REGISTRY_BIN` if set, else Cargo's path for this crate's
/// own tests, else `<repo>/target/debug/go-registry`.
pub fn registry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GO_REGISTRY_BIN") {
        return PathBuf::from(p);
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_go-registry") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/go-registry")
}

/// A free loopback TCP port (bound then released; only for programs that cannot report
/// the port they bound).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// How to start a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Storage root (created if missing). `None`: a fresh temp dir.
    pub storage: Option<PathBuf>,
    /// Upload token (passed through GO_REGISTRY_TOKEN). `None`: no token.
    pub token: Option<String>,
    /// `--upstream` value; default `off` so tests never leave loopback by accident.
    pub upstream: String,
    /// `standalone` or `upload-only`.
    pub mode: &'static str,
    /// More flags.
    pub extra_args: Vec<String>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            storage: None,
            token: Some(DEFAULT_TOKEN.to_string()),
            upstream: "off".to_string(),
            mode: "standalone",
            extra_args: Vec::new(),
        }
    }
}

/// The token [`RegistryOptions::default`] configures.
pub const DEFAULT_TOKEN: &str = "test-token-0123456789";

/// A running `go-registry` process.
pub struct Registry {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// Storage root.
    pub storage: PathBuf,
    /// Configured token.
    pub token: Option<String>,
    logs: Arc<Mutex<Vec<String>>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Registry {
    /// Start with defaults (temp storage, default token, no upstream).
    pub fn start() -> Registry {
        Registry::start_with(RegistryOptions::default())
    }

    /// Start `go-registry` on `127.0.0.1:0` and wait until it reports its address.
    pub fn start_with(opts: RegistryOptions) -> Registry {
        let (tmp, storage) = match opts.storage {
            Some(p) => (None, p),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let p = t.path().join("storage");
                (Some(t), p)
            }
        };
        let mut cmd = Command::new(registry_bin());
        if opts.upstream.starts_with("http://") {
            // Loopback FAKE upstreams are plain HTTP; production upstreams must be https.
            cmd.arg("--allow-http-upstream");
        }
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--storage")
            .arg(&storage)
            .arg("--upstream")
            .arg(&opts.upstream)
            .arg("--mode")
            .arg(opts.mode)
            .args(&opts.extra_args)
            .env_remove("GO_REGISTRY_TOKEN")
            .env_remove("GO_REGISTRY_TOKEN_FILE")
            .env_remove("GO_REGISTRY_UPSTREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(t) = &opts.token {
            cmd.env("GO_REGISTRY_TOKEN", t);
        }
        let mut child = cmd.spawn().expect("spawn go-registry");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let logs = logs.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let url = line.find("listening on http://").map(|i| {
                        line[i + "listening on ".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string()
                    });
                    // Record the line before announcing the URL, so logs() has it.
                    logs.lock().unwrap().push(line);
                    if let (Some(url), Some(tx)) = (url, tx.take()) {
                        let _ = tx.send(url);
                    }
                }
            });
        }
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "go-registry did not start; logs:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Registry {
            child,
            url,
            storage,
            token: opts.token,
            logs,
            _tmp: tmp,
        }
    }

    /// Versions being staged (or left behind) in the staging directory: its `v-*` entries.
    pub fn staged_entries(&self) -> Vec<String> {
        let staging = self.storage.parent().unwrap().join(".storage.staging");
        std::fs::read_dir(staging)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("v-"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Captured stderr lines so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Send SIGTERM and wait for the exit status (graceful shutdown).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().expect("wait")
    }

    /// Upload with this registry's token.
    pub fn upload(&self, m: &ModuleVersion) -> (u16, String) {
        upload(&self.url, self.token.as_deref(), m)
    }

    /// GET a path; returns status and body.
    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        get(&format!("{}{}", self.url, path))
    }

    /// GET a path and return the body as text.
    pub fn get_text(&self, path: &str) -> (u16, String) {
        let (s, b) = self.get(path);
        (s, String::from_utf8_lossy(&b).into_owned())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET a URL (blocking, no proxy); returns status and body.
pub fn get(url: &str) -> (u16, Vec<u8>) {
    let client = http_client();
    let resp = client.get(url).send().expect("GET");
    let status = resp.status().as_u16();
    (status, resp.bytes().expect("body").to_vec())
}

/// A blocking HTTP client that never uses a proxy (loopback only).
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// The parts of a module version to upload.
#[derive(Debug, Clone)]
pub struct ModuleVersion {
    /// Module path.
    pub module: String,
    /// Version.
    pub version: String,
    /// `.info` JSON.
    pub info: Vec<u8>,
    /// go.mod.
    pub mod_file: Vec<u8>,
    /// Module zip.
    pub zip: Vec<u8>,
    /// `h1:` of the zip as `gomod` computes it.
    pub h1: String,
}

/// The `.info` JSON for a version.
pub fn info_json(version: &str) -> Vec<u8> {
    serde_json::json!({"Version": version, "Time": "2026-11-27T22:10:05Z"})
        .to_string()
        .into_bytes()
}

/// Build a module version from files (path relative to the module root -> content) with
/// `gomod::zip::create_from_dir`. `go.mod` is added as `module <module>\n\ngo 1.21\n`
/// unless `files` has one.
pub fn module_version(module: &str, version: &str, files: &[(&str, &str)]) -> ModuleVersion {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut has_mod = false;
    for (path, content) in files {
        has_mod |= *path == "go.mod";
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    if !has_mod {
        std::fs::write(
            dir.path().join("go.mod"),
            format!("module {module}\n\ngo 1.21\n"),
        )
        .unwrap();
    }
    let created = gomod::zip::create_from_dir(module, version, dir.path()).expect("create zip");
    ModuleVersion {
        module: module.to_string(),
        version: version.to_string(),
        info: info_json(version),
        mod_file: created.go_mod.clone().expect("go.mod in zip"),
        zip: created.bytes,
        h1: created.h1,
    }
}

/// A small Go library module: package `<last elem>` with `func Hello() string`
/// returning `greeting`.
pub fn hello_module(module: &str, version: &str, greeting: &str) -> ModuleVersion {
    let pkg = package_name(module);
    module_version(
        module,
        version,
        &[(
            "hello.go",
            &format!("package {pkg}\n\n// Hello returns a greeting.\nfunc Hello() string {{ return {greeting:?} }}\n"),
        )],
    )
}

/// The Go package name for a module path's last element (`/vN` and dashes handled).
pub fn package_name(module: &str) -> String {
    let mut elems: Vec<&str> = module.split('/').collect();
    if elems.len() > 1 {
        let last = elems[elems.len() - 1];
        if last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit())
        {
            elems.pop();
        }
    }
    elems
        .last()
        .unwrap()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// A zip with exactly these entries (names as given; a name ending in `/` is a directory
/// entry). For building invalid uploads.
pub fn raw_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        if name.ends_with('/') {
            w.add_directory(name.trim_end_matches('/'), opts).unwrap();
        } else {
            w.start_file(*name, opts).unwrap();
            w.write_all(content).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// POST /upload (multipart) with an optional bearer token; returns status and body.
pub fn upload(base: &str, token: Option<&str>, m: &ModuleVersion) -> (u16, String) {
    use reqwest::blocking::multipart::{Form, Part};
    let form = Form::new()
        .text("module", m.module.clone())
        .text("version", m.version.clone())
        .part("info", Part::bytes(m.info.clone()).file_name("info.json"))
        .part("mod", Part::bytes(m.mod_file.clone()).file_name("go.mod"))
        .part("zip", Part::bytes(m.zip.clone()).file_name("source.zip"));
    let mut req = http_client().post(format!("{base}/upload")).multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().expect("POST /upload");
    let status = resp.status().as_u16();
    (status, resp.text().unwrap_or_default())
}

/// A fresh Go environment: empty GOPATH and GOMODCACHE, a consumer module directory.
pub struct GoEnv {
    /// Temp root holding everything.
    pub tmp: tempfile::TempDir,
    /// GOPROXY value.
    pub goproxy: String,
    /// GONOSUMDB value.
    pub gonosumdb: String,
    /// Extra environment.
    pub extra_env: Vec<(String, String)>,
}

/// Output of a go command.
pub struct GoOutput {
    /// Exit success.
    pub ok: bool,
    /// stdout + stderr.
    pub output: String,
}

impl GoEnv {
    /// A fresh environment using `goproxy`; `gonosumdb` lists the private prefixes.
    pub fn new(goproxy: &str, gonosumdb: &str) -> GoEnv {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("consumer")).unwrap();
        GoEnv {
            tmp,
            goproxy: goproxy.to_string(),
            gonosumdb: gonosumdb.to_string(),
            extra_env: Vec::new(),
        }
    }

    /// The consumer module directory.
    pub fn consumer(&self) -> PathBuf {
        self.tmp.path().join("consumer")
    }

    /// GOMODCACHE of this environment.
    pub fn modcache(&self) -> PathBuf {
        self.tmp.path().join("gopath/pkg/mod")
    }

    /// Run `go <args>` in the consumer directory with the smoke environment.
    pub fn go(&self, args: &[&str]) -> GoOutput {
        let mut cmd = Command::new(go_bin());
        cmd.args(args)
            .current_dir(self.consumer())
            .env("GOPATH", self.tmp.path().join("gopath"))
            .env("GOMODCACHE", self.modcache())
            .env("GOPROXY", &self.goproxy)
            .env("GONOSUMDB", &self.gonosumdb)
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOPRIVATE", "")
            .env("GONOPROXY", "")
            .env("GO111MODULE", "on")
            .env_remove("GOENV");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run go");
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        GoOutput {
            ok: out.status.success(),
            output,
        }
    }

    /// `go mod init`, `go get module@version`, write a main package calling
    /// `<pkg>.Hello()`, `go build`, run the program; returns its stdout.
    pub fn get_and_build_hello(&self, module: &str, version: &str) -> String {
        let r = self.go(&["mod", "init", "example.test/consumer"]);
        assert!(r.ok, "go mod init failed:\n{}", r.output);
        let r = self.go(&["get", &format!("{module}@{version}")]);
        assert!(r.ok, "go get {module}@{version} failed:\n{}", r.output);
        let pkg = package_name(module);
        std::fs::write(
            self.consumer().join("main.go"),
            format!(
                "package main\n\nimport (\n\t\"fmt\"\n\n\t{pkg} {module:?}\n)\n\nfunc main() {{ fmt.Println({pkg}.Hello()) }}\n"
            ),
        )
        .unwrap();
        let r = self.go(&["build", "-o", "consumer.bin", "."]);
        assert!(r.ok, "go build failed:\n{}", r.output);
        let out = Command::new(self.consumer().join("consumer.bin"))
            .output()
            .expect("run consumer");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The `h1:` recorded in go.sum for `module version` (the zip line, not `/go.mod`).
    pub fn go_sum_h1(&self, module: &str, version: &str) -> Option<String> {
        let sum = std::fs::read_to_string(self.consumer().join("go.sum")).ok()?;
        sum.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == module && f[1] == version).then(|| f[2].to_string())
        })
    }
}

/// The first http(s) entry of `go env GOPROXY` (the configured upstream proxy).
pub fn go_env_upstream() -> Option<String> {
    let out = Command::new(go_bin())
        .args(["env", "GOPROXY"])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout).to_string();
    v.trim()
        .split([',', '|'])
        .find(|e| e.starts_with("http://") || e.starts_with("https://"))
        .map(|e| e.trim_end_matches('/').to_string())
}

/// A running Athens (`<tools>/bin/athens`) serving a disk storage root, offline.
pub struct Athens {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub url: String,
}

impl Athens {
    /// The Athens binary, if installed by `scripts/tools/install-athens.sh`.
    pub fn binary() -> Option<PathBuf> {
        let p = tools_dir().join("bin/athens");
        p.exists().then_some(p)
    }

    /// Start Athens with disk storage at `root` on a free loopback port, never reaching
    /// the network: offline network mode, download mode `none`, `GOPROXY=off` for its go.
    pub fn start(root: &Path) -> Athens {
        let bin = Athens::binary().expect("athens not installed");
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.env("ATHENS_STORAGE_TYPE", "disk")
            .env("ATHENS_DISK_STORAGE_ROOT", root)
            .env("ATHENS_PORT", format!("127.0.0.1:{port}"))
            .env("ATHENS_NETWORK_MODE", "offline")
            .env("ATHENS_DOWNLOAD_MODE", "none")
            .env("ATHENS_GO_BINARY_ENV_VARS", "GOPROXY=off")
            .env("ATHENS_LOG_LEVEL", "warning")
            .env("GO_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn athens");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = http_client();
        loop {
            if let Ok(r) = client.get(format!("{url}/healthz")).send() {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "athens did not become healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
        Athens { child, url }
    }
}

impl Drop for Athens {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A metric's value from a Prometheus text exposition (`name{labels}` exact match, labels
/// in the order the registry prints them); 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
        .unwrap_or(0.0)
}
