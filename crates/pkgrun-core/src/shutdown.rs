//! Stopping cleanly on SIGINT/SIGTERM.
//!
//! A signal ends pkgrun without running destructors, so what they would clean is
//! registered here while it exists, and [`stop`] (called by the binary's signal thread
//! before it exits 130/143) cleans it:
//!
//! * **children**: every child of [`crate::process`] leads its own process group, spawned
//!   through [`spawn`] and registered until reaped. `stop` refuses new spawns, sends each
//!   group SIGINT (the signal tools treat as "interrupted, clean up": the go command
//!   removes its work directory on it, and dies without doing so on SIGTERM), waits up
//!   to [`CHILD_GRACE`] for the groups to empty, then SIGKILLs what is left;
//! * **temporary directories** ([`TempRegistration`]: the runs' scratch directories,
//!   which hold every file pkgrun writes for a build, a consumer check or a tool's
//!   config) are removed, read-only module caches included;
//! * **state files** are never touched: they are replaced by an atomic rename
//!   ([`crate::state::write_atomically`], which holds [`write_guard`] while it writes),
//!   and `stop` waits for a write in progress to finish and lets no new one start, so
//!   each state file is the old one or the new one and no `.pkgrun-*.tmp` is left.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long children get to exit after the forwarded SIGINT before they are killed.
pub const CHILD_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Registry {
    /// Set by [`stop`]: no child is spawned after it.
    stopping: bool,
    /// Process groups (their leaders' pids) of running children.
    groups: BTreeSet<i32>,
    /// Temporary directories to remove (one entry per live registration).
    temp_dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    stopping: false,
    groups: BTreeSet::new(),
    temp_dirs: Vec::new(),
});

/// Held (shared) while a state file is written; [`stop`] takes it exclusively for good.
static WRITES: RwLock<()> = RwLock::new(());

fn registry() -> MutexGuard<'static, Registry> {
    // A panic elsewhere must not keep the signal path from cleaning up.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether [`stop`] has begun.
pub fn is_stopping() -> bool {
    registry().stopping
}

/// Spawns `cmd` (which must lead its own process group: `process_group(0)`) and
/// registers its group, unless pkgrun is stopping. Pair with [`reaped`].
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut reg = registry();
    if reg.stopping {
        return Err(io::Error::other(
            "pkgrun is stopping (SIGINT/SIGTERM): no new process is started",
        ));
    }
    let child = cmd.spawn()?;
    reg.groups.insert(child.id() as i32);
    Ok(child)
}

/// The child `pid` spawned with [`spawn`] was waited for: its group is no longer ours
/// to stop.
pub fn reaped(pid: u32) {
    registry().groups.remove(&(pid as i32));
}

/// A temporary directory [`stop`] removes; dropping the registration forgets it (the
/// owner removes it itself, e.g. a `tempfile::TempDir`).
#[derive(Debug)]
pub struct TempRegistration {
    path: PathBuf,
}

/// Registers `path` for removal on a signal.
pub fn register_temp_dir(path: &Path) -> TempRegistration {
    registry().temp_dirs.push(path.to_path_buf());
    TempRegistration {
        path: path.to_path_buf(),
    }
}

impl Drop for TempRegistration {
    fn drop(&mut self) {
        let mut reg = registry();
        if let Some(i) = reg.temp_dirs.iter().position(|p| *p == self.path) {
            reg.temp_dirs.remove(i);
        }
    }
}

/// Held while a state file is written, so that [`stop`] never exits mid-write.
pub fn write_guard() -> RwLockReadGuard<'static, ()> {
    WRITES.read().unwrap_or_else(|e| e.into_inner())
}

/// What [`stop`] did, for the log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// Process groups that were sent SIGINT.
    pub groups: usize,
    /// Of those, groups still alive after [`CHILD_GRACE`] and killed.
    pub killed: usize,
    /// Temporary directories removed.
    pub removed: usize,
    /// Directories that could not be removed, with why.
    pub left: Vec<String>,
}

/// Stops children, removes the registered temporary directories and blocks every later
/// state write. Call once, from the signal thread, then exit.
pub fn stop() -> Stopped {
    // Wait for a state write in progress; none starts after this (the guard is never
    // released: the process exits).
    std::mem::forget(WRITES.write().unwrap_or_else(|e| e.into_inner()));
    let groups: Vec<i32> = {
        let mut reg = registry();
        reg.stopping = true;
        reg.groups.iter().copied().collect()
    };
    let mut stopped = Stopped {
        groups: groups.len(),
        ..Stopped::default()
    };
    stopped.killed = stop_groups(&groups, CHILD_GRACE);
    let dirs = registry().temp_dirs.clone();
    for dir in dirs {
        match remove_dir(&dir) {
            Ok(true) => stopped.removed += 1,
            Ok(false) => {}
            Err(e) => stopped.left.push(format!("{}: {e}", dir.display())),
        }
    }
    stopped
}

/// SIGINT to each group, then SIGKILL to those still alive after `grace`; how many were
/// killed.
fn stop_groups(groups: &[i32], grace: Duration) -> usize {
    for &pgid in groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGINT);
    }
    let alive = |pgid: &&i32| killpg(Pid::from_raw(**pgid), None).is_ok();
    let start = Instant::now();
    while groups.iter().any(|g| alive(&g)) && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<i32> = groups.iter().filter(alive).copied().collect();
    for &pgid in &left {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    // SIGKILL is not ignorable, but death is not instant: let the kernel reap them.
    let start = Instant::now();
    while left.iter().any(|g| alive(&g)) && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    left.len()
}

/// Removes `dir` and everything in it, read-only directories included (the go
/// command's module cache). A worker thread may still be writing into it: try a few
/// times. `Ok(false)` when it was already gone.
fn remove_dir(dir: &Path) -> io::Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    let mut last = None;
    for _ in 0..5 {
        make_writable(dir);
        match std::fs::remove_dir_all(dir) {
            Ok(()) if !dir.exists() => return Ok(true),
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(last.unwrap_or_else(|| io::Error::other("it was created again while being removed")))
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_dir() {
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn groups_that_ignore_sigint_are_killed_after_the_grace_and_others_exit_on_it() {
        let mut polite = Command::new("sleep");
        polite.arg("30").process_group(0);
        let mut stubborn = Command::new("sh");
        stubborn
            .args(["-c", "trap '' INT; sleep 30 & wait"])
            .process_group(0);
        let mut polite = polite.spawn().unwrap();
        let mut stubborn = stubborn.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let groups = [polite.id() as i32, stubborn.id() as i32];
        // Reap as they die, as run_step does.
        let reaper = std::thread::spawn(move || (polite.wait(), stubborn.wait()));
        let killed = stop_groups(&groups, Duration::from_millis(500));
        assert_eq!(killed, 1, "only the group ignoring SIGINT needs SIGKILL");
        let (a, b) = reaper.join().unwrap();
        assert!(!a.unwrap().success() && !b.unwrap().success());
        for g in groups {
            assert!(killpg(Pid::from_raw(g), None).is_err(), "group {g} left");
        }
    }

    #[test]
    fn read_only_trees_are_removed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("scratch");
        let cache = dir.join("gopath/pkg/mod/example.com/m@v1.0.0");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("go.mod"), "module m\n").unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o555)).unwrap();
        assert!(remove_dir(&dir).unwrap());
        assert!(!dir.exists());
        assert!(!remove_dir(&dir).unwrap(), "already gone");
    }

    #[test]
    fn a_registration_is_forgotten_when_dropped() {
        let path = PathBuf::from("/nonexistent/pkgrun-registration-test");
        let held = register_temp_dir(&path);
        assert!(registry().temp_dirs.contains(&path));
        drop(held);
        assert!(!registry().temp_dirs.contains(&path));
    }
}
