//! A real Docker engine for the runner-image suite, and the STAND-IN base images.
//!
//! [`DockerEngine::start_or_reuse`] uses the engine `DOCKER_HOST` (or the default socket)
//! names when it answers; otherwise it starts its own `dockerd` (overlay2 storage, no
//! iptables, no bridge: containers run with `--network host`) on its own data root,
//! exec root, pid file and socket, so it never clashes with another daemon, under a
//! supervisor shell that stops it (and removes its exec root) when the engine is dropped or
//! the test process dies however it dies (its stdin reaches EOF). The data root is `<target>/tmp/images-dockerd` and survives the run:
//! the imported bases and the layer cache make a warm run fast.
//!
//! No image registry is reachable from the project's machines, so the real bases cannot
//! be pulled. [`StandinBase`] imports the root filesystems that
//! `scripts/tools/install-standin-bases.sh` built (Debian + the language toolchain) as
//! `pkgrun-standin/<name>:<recipe>`; the Dockerfiles build `FROM` them via `BASE_IMAGE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::paths::{target_tmp_dir, tools_dir};
use crate::process::{ok, ChildGuard};

/// A Docker engine the suite talks to through `DOCKER_HOST`.
pub struct DockerEngine {
    host: String,
    /// Our own dockerd, stopped on drop; `None` when an existing engine answered.
    daemon: Option<ChildGuard>,
    /// Our end of the supervisor's stdin: closing it (or dying) stops dockerd.
    supervisor_stdin: Option<std::process::ChildStdin>,
    _exec_root: Option<tempfile::TempDir>,
}

impl DockerEngine {
    /// The engine that answers at `DOCKER_HOST` (or the default socket), else our own.
    pub fn start_or_reuse() -> Result<DockerEngine> {
        let existing = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        if answers(&existing) {
            return Ok(DockerEngine {
                host: existing,
                daemon: None,
                supervisor_stdin: None,
                _exec_root: None,
            });
        }
        Self::start_own()
    }

    fn start_own() -> Result<DockerEngine> {
        Self::start_own_in(&target_tmp_dir()?.join("images-dockerd"))
    }

    /// Starts our own dockerd on `data_root` under the [supervisor](DOCKERD_SUPERVISOR):
    /// it stops dockerd and removes the exec root when this engine is dropped *or* when
    /// this test process dies without dropping it (a static, a SIGKILL).
    pub fn start_own_in(data_root: &Path) -> Result<DockerEngine> {
        ensure!(
            which("dockerd"),
            "dockerd is not on PATH: run scripts/tools/install-docker-engine.sh"
        );
        std::fs::create_dir_all(data_root)?;
        // The exec root holds containerd's sockets, whose paths must stay short.
        let exec_root = tempfile::Builder::new()
            .prefix("pkgrun-dockerd-")
            .tempdir_in("/tmp")?;
        let socket = exec_root.path().join("docker.sock");
        let host = format!("unix://{}", socket.display());
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(data_root.join("dockerd.log"))?;
        let mut cmd = Command::new("sh");
        cmd.args(["-c", DOCKERD_SUPERVISOR, "pkgrun-dockerd-supervisor"])
            .arg(exec_root.path())
            // overlay2, not vfs: with vfs every build step copies the whole root filesystem
            // (a Go image took 386 s to build here, 5 s with overlay2 on the same ext4 disk).
            .args([
                "dockerd",
                "--storage-driver=overlay2",
                "--iptables=false",
                "--bridge=none",
            ])
            .arg("--data-root")
            .arg(data_root)
            .arg("--exec-root")
            .arg(exec_root.path().join("exec"))
            .arg("--pidfile")
            .arg(exec_root.path().join("dockerd.pid"))
            .arg("--host")
            .arg(&host)
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut daemon =
            ChildGuard::spawn("dockerd", &mut cmd).context("start dockerd (it needs root)")?;
        let stdin = daemon.take_stdin();
        let log = || std::fs::read_to_string(data_root.join("dockerd.log")).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(&host) {
            if Instant::now() > deadline || !daemon.is_running() {
                bail!(
                    "dockerd did not answer at {host} within 60 s; its log:\n{}",
                    log()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(DockerEngine {
            host,
            daemon: Some(daemon),
            supervisor_stdin: stdin,
            _exec_root: Some(exec_root),
        })
    }

    /// `DOCKER_HOST` of this engine.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this suite started the engine (and will stop it).
    pub fn owned(&self) -> bool {
        self.daemon.is_some()
    }

    /// The exec root of our own dockerd (removed when the engine is dropped).
    pub fn exec_root(&self) -> Option<PathBuf> {
        self._exec_root.as_ref().map(|d| d.path().to_path_buf())
    }

    /// A `docker` command talking to this engine.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.host)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::null());
        cmd
    }

    /// `docker <args>`, failing with its output unless it exits 0; returns stdout.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        ok(self.docker().args(args))
    }

    /// Whether the engine has `image`.
    pub fn has_image(&self, image: &str) -> bool {
        self.docker()
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The image's ID.
    pub fn image_id(&self, image: &str) -> Result<String> {
        Ok(self
            .run(&["image", "inspect", "--format", "{{.Id}}", image])?
            .trim()
            .to_string())
    }

    /// The image's size in bytes (all layers, base included).
    pub fn image_size(&self, image: &str) -> Result<u64> {
        let out = self.run(&["image", "inspect", "--format", "{{.Size}}", image])?;
        out.trim()
            .parse()
            .with_context(|| format!("size of {image}: {out:?}"))
    }

    /// `docker save <image>` into `dest` (a tar file).
    pub fn save(&self, image: &str, dest: &Path) -> Result<()> {
        let dest = dest.to_str().context("non-UTF-8 path")?;
        self.run(&["save", "--output", dest, image]).map(drop)
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        let Some(daemon) = &mut self.daemon else {
            return;
        };
        drop(self.supervisor_stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while daemon.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon.stop();
        // Only if the supervisor was killed before its cleanup: dockerd leaves its network
        // namespace bind-mounted at <exec root>/netns/default, which blocks the removal.
        if let Some(exec_root) = &self._exec_root {
            let netns = exec_root.path().join("exec/netns/default");
            if netns.exists() {
                let _ = Command::new("umount")
                    .arg(&netns)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Runs `dockerd` (its arguments after the exec root, `$1`) until its stdin reaches EOF or
/// it gets SIGTERM/SIGINT, then stops dockerd, unmounts the network namespace dockerd
/// leaves mounted and removes the exec root. The test process holds the other end of
/// stdin, so even a test binary killed with SIGKILL leaves no daemon behind on a reused
/// CI machine.
const DOCKERD_SUPERVISOR: &str = r#"
exec_root=$1; shift
"$@" </dev/null &
daemon=$!
cleanup() {
  trap '' TERM INT
  kill -TERM "$daemon" 2>/dev/null
  wait "$daemon"
  umount "$exec_root/exec/netns/default" 2>/dev/null
  rm -rf "$exec_root"
  exit 0
}
trap cleanup TERM INT
cat >/dev/null
cleanup
"#;

fn answers(host: &str) -> bool {
    which("docker")
        && Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .env("DOCKER_HOST", host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A stand-in base image for one language (see the module docs).
#[derive(Debug, Clone)]
pub struct StandinBase {
    /// `pkgrun-standin/<name>:<recipe>`.
    pub image: String,
    pub tar: PathBuf,
    pub changes: Vec<String>,
}

impl StandinBase {
    /// The stand-in for `lang` (`go`, `python`, `ts`) built by install-standin-bases.sh.
    pub fn for_lang(lang: &str) -> Result<StandinBase> {
        let name = match lang {
            "go" => "golang-alpine",
            "python" => "uv-python-bookworm-slim",
            "ts" => "node-slim",
            other => bail!("no stand-in base for {other}"),
        };
        let current = tools_dir().join("standin-bases/current");
        let dir = current.canonicalize().with_context(|| {
            format!(
                "no stand-in bases at {}: run scripts/tools/install-standin-bases.sh",
                current.display()
            )
        })?;
        let recipe = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("stand-in base directory name")?
            .to_string();
        let tar = dir.join(format!("{lang}.tar"));
        let changes = std::fs::read_to_string(dir.join(format!("{lang}.changes")))
            .with_context(|| format!("read {lang}.changes in {}", dir.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        Ok(StandinBase {
            image: format!("pkgrun-standin/{name}:{recipe}"),
            tar,
            changes,
        })
    }

    /// Imports the base into `engine` unless it is already there.
    pub fn import(&self, engine: &DockerEngine) -> Result<()> {
        if engine.has_image(&self.image) {
            return Ok(());
        }
        let mut cmd = engine.docker();
        cmd.arg("import");
        for change in &self.changes {
            cmd.args(["--change", change]);
        }
        cmd.arg(&self.tar).arg(&self.image);
        ok(&mut cmd).map(drop)
    }
}
