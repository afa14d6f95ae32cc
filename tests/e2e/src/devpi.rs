//! A real devpi-server (the pinned one from `scripts/tools/install-devpi.sh`) on loopback.
//!
//! At start: a temp server directory initialised with `devpi-init` (which creates `root/pypi`,
//! devpi's built-in mirror of the public index, so no index host is written here), the server
//! on 127.0.0.1:<free port>, a user `ameide` with a password, and the upload index
//! `root/ameide` (bases `root/pypi`, uploads allowed for `ameide`, non-volatile so a version
//! cannot be overwritten). One URL, `…/root/ameide/+simple/`, serves both what was uploaded and
//! mirrored public projects.

use crate::process::{free_port, loopback_client, retry_port_race, run_ok, ChildGuard};
use crate::tools_bin;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const ROOT_PASSWORD: &str = "pkgrun-e2e-root-secret";
const INDEX: &str = "root/ameide";

/// A running devpi-server with the `root/ameide` index; stopped on drop.
pub struct Devpi {
    child: ChildGuard,
    dir: TempDir,
    port: u16,
    username: String,
    password: String,
}

impl Devpi {
    /// Initialises a server directory, starts devpi-server and creates the user and index.
    pub fn start() -> Result<Self> {
        retry_port_race(Self::start_once)
    }

    fn start_once() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("pkgrun-devpi-").tempdir()?;
        let serverdir = dir.path().join("server");
        run_ok(
            "devpi-init",
            Command::new(tools_bin("devpi-init"))
                .arg("--serverdir")
                .arg(&serverdir)
                .arg("--root-passwd")
                .arg(ROOT_PASSWORD),
        )?;

        let port = free_port();
        let mut cmd = Command::new(tools_bin("devpi-server"));
        cmd.arg("--serverdir")
            .arg(&serverdir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            // Test-only tuning (devpi's own test suite lowers these too): the default argon2
            // parameters for deriving the login-token key cost 512 MiB and ~15 s of CPU at
            // every start on a 2-core machine. Password checks are unaffected.
            .args(["--argon2-memory-cost", "8192", "--argon2-time-cost", "1"])
            .args(["--argon2-parallelism", "1"]);
        let mut child =
            ChildGuard::spawn_logged("devpi-server", &mut cmd, &dir.path().join("devpi.log"))
                .context("spawn devpi-server")?;
        child.wait_http_ok(
            &format!("http://127.0.0.1:{port}/+api"),
            Duration::from_secs(90),
        )?;

        let d = Self {
            child,
            dir,
            port,
            username: "ameide".to_owned(),
            password: "pkgrun-e2e-secret-2".to_owned(),
        };
        // Without this a fresh mirror first downloads the upstream's whole project list
        // (~30 s); with it, each project is looked up on demand.
        d.send_json(
            reqwest::Method::PATCH,
            "/root/pypi",
            serde_json::json!(["mirror_no_project_list=True"]),
        )?;
        d.send_json(
            reqwest::Method::PUT,
            &format!("/{}", d.username),
            serde_json::json!({ "password": d.password, "email": "ameide@example.invalid" }),
        )?;
        d.send_json(
            reqwest::Method::PUT,
            &format!("/{INDEX}"),
            serde_json::json!({
                "type": "stage",
                "bases": ["root/pypi"],
                "volatile": false,
                "acl_upload": ["root", d.username],
            }),
        )?;
        Ok(d)
    }

    /// Creates or changes a resource through devpi's JSON API as root.
    fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> Result<()> {
        let url = format!("{}{path}", self.url());
        let resp = loopback_client(Duration::from_secs(60))
            .request(method.clone(), &url)
            .basic_auth("root", Some(ROOT_PASSWORD))
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .with_context(|| format!("PUT {url}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            bail!(
                "devpi {method} {url} failed: {status} {}",
                resp.text().unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Server base URL without a trailing slash: `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The index name, `root/ameide`.
    pub fn index(&self) -> &'static str {
        INDEX
    }

    /// The index URL (`…/root/ameide/`), which is also the legacy upload API endpoint.
    pub fn index_url(&self) -> String {
        format!("{}/{INDEX}/", self.url())
    }

    /// Where `pip --index-url` points: `…/root/ameide/+simple/` (a `PIP_INDEX_URL`).
    pub fn simple_url(&self) -> String {
        format!("{}/{INDEX}/+simple/", self.url())
    }

    /// Legacy upload API URL (a `{PREFIX}_PYPI_REPOSITORY_URL`): the index URL.
    pub fn upload_url(&self) -> String {
        self.index_url()
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    pub fn serverdir(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    /// devpi-server's output so far.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Uploads one distribution file through the legacy upload API as the index user, the way
    /// twine does (multipart, `:action=file_upload`, `sha256_digest`). Returns the HTTP status
    /// and body so tests can also assert refusals (e.g. 409 for a different file of an existing
    /// version). `name`/`version` are the project's; the file type follows the file name.
    pub fn upload(&self, file: &Path, name: &str, version: &str) -> Result<(u16, String)> {
        let bytes = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
        let filename = file
            .file_name()
            .and_then(|n| n.to_str())
            .context("upload file name")?
            .to_owned();
        let (filetype, pyversion) = if filename.ends_with(".whl") {
            ("bdist_wheel", "py3")
        } else {
            ("sdist", "source")
        };
        let form = reqwest::blocking::multipart::Form::new()
            .text(":action", "file_upload")
            .text("protocol_version", "1")
            .text("metadata_version", "2.1")
            .text("name", name.to_owned())
            .text("version", version.to_owned())
            .text("filetype", filetype)
            .text("pyversion", pyversion)
            .text("sha256_digest", hex::encode(Sha256::digest(&bytes)))
            .part(
                "content",
                reqwest::blocking::multipart::Part::bytes(bytes).file_name(filename),
            );
        let resp = loopback_client(Duration::from_secs(120))
            .post(self.upload_url())
            .basic_auth(&self.username, Some(&self.password))
            .multipart(form)
            .send()
            .context("devpi legacy upload")?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().unwrap_or_default()))
    }

    /// Stops the server now (e.g. to test "registry down"); also happens on drop.
    pub fn stop(&mut self) {
        self.child.stop();
    }
}
