//! A private staging directory for one version being assembled. It is removed when dropped
//! unless it was renamed into the storage root (`disarm`), so every failed request path
//! (rejected upload, timed-out body, failed verification, dropped connection) cleans up.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A staging directory owned by one upload or cache fill.
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
    armed: AtomicBool,
}

impl StagingDir {
    /// Create a new uniquely named directory under `parent`.
    pub fn create(parent: &Path) -> io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(
            "v-{}-{}-{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(name);
        std::fs::create_dir(&path)?;
        Ok(StagingDir {
            path,
            armed: AtomicBool::new(true),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of a file inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Write (create or replace) a file inside the directory.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut f = std::fs::File::create(self.file(name))?;
        f.write_all(bytes)?;
        Ok(())
    }

    /// Flush every file and the directory itself to disk before the rename publishes them.
    pub fn sync(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.path)? {
            std::fs::File::open(entry?.path())?.sync_all()?;
        }
        std::fs::File::open(&self.path)?.sync_all()
    }

    /// The directory was renamed away: do not delete anything on drop.
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if self.armed.load(Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
