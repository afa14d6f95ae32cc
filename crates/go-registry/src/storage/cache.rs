//! A bounded in-memory cache of stored files, keyed by path.
//!
//! Stored versions are immutable (written once by rename, never changed), so a file's bytes
//! can be kept and served again without touching the disk: the response body is a cheap
//! clone of a shared `Bytes`. Files larger than an eighth of the budget are not cached (they
//! are streamed). Eviction drops the least recently used entries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;

/// The cache. `max_bytes == 0` disables it.
#[derive(Debug)]
pub struct FileCache {
    max_bytes: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<PathBuf, (Bytes, u64)>,
    bytes: u64,
    tick: u64,
}

impl FileCache {
    /// A cache holding at most `max_bytes` of file contents.
    pub fn new(max_bytes: u64) -> Self {
        FileCache {
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Largest file worth caching.
    pub fn max_file(&self) -> u64 {
        (self.max_bytes / 8).min(8 << 20)
    }

    /// The cached bytes of `path`, if any.
    pub fn get(&self, path: &Path) -> Option<Bytes> {
        if self.max_bytes == 0 {
            return None;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        let (bytes, used) = inner.entries.get_mut(path)?;
        *used = tick;
        Some(bytes.clone())
    }

    /// Remember `bytes` as the contents of `path` (ignored when too large).
    pub fn insert(&self, path: PathBuf, bytes: Bytes) {
        let len = bytes.len() as u64;
        if self.max_bytes == 0 || len > self.max_file() {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((old, _)) = inner.entries.insert(path, (bytes, tick)) {
            inner.bytes -= old.len() as u64;
        }
        inner.bytes += len;
        while inner.bytes > self.max_bytes {
            let Some(victim) = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((b, _)) = inner.entries.remove(&victim) {
                inner.bytes -= b.len() as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let c = FileCache::new(800); // max file 100
        for i in 0..8 {
            c.insert(PathBuf::from(format!("/f{i}")), Bytes::from(vec![0u8; 100]));
        }
        assert!(c.get(Path::new("/f0")).is_some()); // f0 is now recent
        c.insert(PathBuf::from("/f8"), Bytes::from(vec![0u8; 100]));
        assert!(c.get(Path::new("/f0")).is_some());
        assert!(
            c.get(Path::new("/f1")).is_none(),
            "f1 was least recently used"
        );
        assert!(c.get(Path::new("/f8")).is_some());
        c.insert(PathBuf::from("/big"), Bytes::from(vec![0u8; 101]));
        assert!(c.get(Path::new("/big")).is_none(), "over max_file");
    }

    #[test]
    fn zero_disables() {
        let c = FileCache::new(0);
        c.insert(PathBuf::from("/a"), Bytes::from_static(b"x"));
        assert!(c.get(Path::new("/a")).is_none());
    }
}
