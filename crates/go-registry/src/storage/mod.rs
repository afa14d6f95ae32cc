//! On-disk module storage in Athens' disk layout:
//!
//! ```text
//! <root>/<module path, unescaped>/<version>/go.mod
//!                                          /source.zip
//!                                          /<version>.info
//! ```
//!
//! A real Athens with `ATHENS_STORAGE_TYPE=disk` and `ATHENS_DISK_STORAGE_ROOT=<root>` serves
//! exactly these files, so the upload-only mode can feed it.
//!
//! Writes are all-or-nothing: a version is assembled in a [`StagingDir`] under the staging
//! directory (outside the root, same filesystem) and then the whole directory is renamed to
//! its final name. `rename(2)` of a directory fails when the target exists and is not empty,
//! so of two concurrent writers of one version exactly one wins; the loser compares bytes
//! and reports "already present" or a conflict. Readers (ours or Athens) see no version or
//! a complete one, never a partial one.
//!
//! Callers must validate module paths and versions first (`gomod`, and
//! [`crate::validate::check_layout`]): this module joins them onto the root as given.
//!
//! Bookkeeping lives beside the staging directories, outside the root (Athens must not see
//! it): `<staging>/uploaded/<module>/@` marks a module with an uploaded version,
//! `<staging>/cached/<module>/@` one cached from the upstream (see [`Storage::is_private`]).
//! New directories are fsynced into their parents, so a committed version survives a crash.

pub mod cache;
mod staging;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use staging::StagingDir;

/// File name of the go.mod in a version directory.
pub const MOD_FILE: &str = "go.mod";
/// File name of the module zip in a version directory.
pub const ZIP_FILE: &str = "source.zip";

/// Athens' rule for a version directory: a name that starts with its canonical semver
/// form (`v1.2.3`, `v1.2.3-pre`, `v1.2.3+incompatible`).
pub fn is_version_dir_name(name: &str) -> bool {
    gomod::version::canonical(name).is_some_and(|canonical| name.starts_with(canonical.as_str()))
}

/// Which marker [`Storage::mark`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A version of the module was uploaded.
    Uploaded,
    /// A version of the module was cached from the upstream.
    Cached,
}

impl Origin {
    fn dir(self) -> &'static str {
        match self {
            Origin::Uploaded => "uploaded",
            Origin::Cached => "cached",
        }
    }
}

/// One of the three files of a stored version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `<version>.info`
    Info,
    /// `go.mod`
    Mod,
    /// `source.zip`
    Zip,
}

/// What happened when a staged version was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The version is now stored (this call created it).
    Stored,
    /// The version already existed with identical go.mod and zip bytes.
    AlreadyPresent,
    /// The version already exists with different bytes; the stored zip is at this path.
    Conflict {
        /// The stored (winning) zip, for hashing in the error message.
        existing_zip: PathBuf,
    },
}

/// Module storage rooted at one directory. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Storage {
    root: PathBuf,
    staging: PathBuf,
}

impl Storage {
    /// Open (creating if needed) a storage root and its staging directory. Fails if the
    /// staging directory is inside the root or on another filesystem.
    pub fn open(root: &Path, staging: &Path) -> Result<Self, crate::config::ConfigError> {
        use crate::config::ConfigError;
        let storage_err = |source| ConfigError::Storage {
            path: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root).map_err(storage_err)?;
        std::fs::create_dir_all(staging).map_err(storage_err)?;
        let root = root.canonicalize().map_err(storage_err)?;
        let staging = staging.canonicalize().map_err(storage_err)?;
        if staging.starts_with(&root) {
            return Err(ConfigError::StagingInsideRoot { staging, root });
        }
        if !same_device(&root, &staging).map_err(storage_err)? {
            return Err(ConfigError::CrossDevice { staging, root });
        }
        remove_stale_staging(&staging);
        Ok(Storage { root, staging })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one version.
    pub fn version_dir(&self, module: &str, version: &str) -> PathBuf {
        self.root.join(module).join(version)
    }

    /// Path of one file of a version.
    pub fn file_path(&self, module: &str, version: &str, kind: FileKind) -> PathBuf {
        let dir = self.version_dir(module, version);
        match kind {
            FileKind::Info => dir.join(format!("{version}.info")),
            FileKind::Mod => dir.join(MOD_FILE),
            FileKind::Zip => dir.join(ZIP_FILE),
        }
    }

    /// Versions stored for a module, in directory order (unsorted). Like Athens, a version
    /// is a subdirectory whose name starts with its canonical semver form.
    pub fn list(&self, module: &str) -> io::Result<Vec<String>> {
        let dir = self.root.join(module);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if is_version_dir_name(&name) {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// Whether a version is stored (Athens' rule: its go.mod exists).
    pub fn exists(&self, module: &str, version: &str) -> bool {
        self.file_path(module, version, FileKind::Mod).is_file()
    }

    /// A fresh, empty staging directory (removed on drop unless committed).
    pub fn stage(&self) -> io::Result<StagingDir> {
        StagingDir::create(&self.staging)
    }

    /// The staging directory (staged versions are its `v-*` entries).
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Write a whole version (all three files) through staging (tests set up storage
    /// with it; requests go through `stage` + `commit`).
    #[cfg(test)]
    pub fn save(
        &self,
        module: &str,
        version: &str,
        info: &[u8],
        mod_file: &[u8],
        zip: &[u8],
    ) -> io::Result<CommitOutcome> {
        let staged = self.stage()?;
        staged.write_file(ZIP_FILE, zip)?;
        self.commit(staged, module, version, info, mod_file)
    }

    fn marker(&self, origin: Origin, module: &str) -> PathBuf {
        self.staging.join(origin.dir()).join(module).join("@")
    }

    /// Record (durably) that a version of `module` came from `origin`. Written before the
    /// version is committed, so no reader sees the version without its marker.
    pub fn mark(&self, origin: Origin, module: &str) -> io::Result<()> {
        let path = self.marker(origin, module);
        if path.is_file() {
            return Ok(());
        }
        let dir = path.parent().expect("marker has a parent");
        create_dirs_durable(&self.staging, dir)?;
        let f = std::fs::File::create(&path)?;
        f.sync_all()?;
        sync_dir(dir)
    }

    /// Whether `module` must never be merged with or resolved from the upstream: a version
    /// of it was uploaded, or versions are stored that were not cached from the upstream
    /// (stored before markers existed, or written into the root by another tool).
    pub fn is_private(&self, module: &str) -> bool {
        if self.marker(Origin::Uploaded, module).is_file() {
            return true;
        }
        let has_versions = self.list(module).map(|v| !v.is_empty()).unwrap_or(true);
        has_versions && !self.marker(Origin::Cached, module).is_file()
    }

    /// Finish a staged version: write go.mod and the .info next to the already staged
    /// `source.zip`, flush everything to disk, and rename the directory into place.
    pub fn commit(
        &self,
        staged: StagingDir,
        module: &str,
        version: &str,
        info: &[u8],
        mod_file: &[u8],
    ) -> io::Result<CommitOutcome> {
        let target = self.version_dir(module, version);
        if target.join(MOD_FILE).is_file() {
            return self.compare_existing(&target, staged.path());
        }
        staged.write_file(MOD_FILE, mod_file)?;
        staged.write_file(&format!("{version}.info"), info)?;
        staged.sync()?;
        let parent = target.parent().expect("version dir has a parent");
        create_dirs_durable(&self.root, parent)?;
        match std::fs::rename(staged.path(), &target) {
            Ok(()) => {
                staged.disarm();
                // Make the new directory entry durable.
                sync_dir(parent)?;
                Ok(CommitOutcome::Stored)
            }
            Err(e) if is_target_taken(&e) => self.compare_existing(&target, staged.path()),
            Err(e) => Err(e),
        }
    }

    /// Compare a staged version with the stored one at `target`.
    fn compare_existing(&self, target: &Path, staged: &Path) -> io::Result<CommitOutcome> {
        let same_zip = same_contents(&target.join(ZIP_FILE), &staged.join(ZIP_FILE))?;
        let staged_mod = staged.join(MOD_FILE);
        // The staged go.mod may not be written yet (early exit): the zip's go.mod was
        // checked equal to the uploaded mod, so equal zips imply equal go.mod files.
        let same_mod = !staged_mod.exists() || same_contents(&target.join(MOD_FILE), &staged_mod)?;
        if same_zip && same_mod {
            Ok(CommitOutcome::AlreadyPresent)
        } else {
            Ok(CommitOutcome::Conflict {
                existing_zip: target.join(ZIP_FILE),
            })
        }
    }

    /// Whether the root and the staging directory accept a new file right now.
    pub fn check_writable(&self) -> io::Result<()> {
        for dir in [&self.root, &self.staging] {
            let probe = dir.join(format!(".readyz-{}", std::process::id()));
            std::fs::write(&probe, b"ok")?;
            std::fs::remove_file(&probe)?;
        }
        Ok(())
    }
}

/// Remove staging directories left by a crashed process. Only old ones: another instance
/// sharing the volume may be staging right now.
fn remove_stale_staging(staging: &Path) {
    let Ok(entries) = std::fs::read_dir(staging) else {
        return;
    };
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < cutoff);
        if old && entry.file_name().to_string_lossy().starts_with("v-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// `create_dir_all(dir)` that also fsyncs each parent that gained an entry, so the new
/// directories survive a crash. `base` (an existing ancestor of `dir`) is where to stop.
fn create_dirs_durable(base: &Path, dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| p.starts_with(base));
    if let Some(parent) = parent {
        create_dirs_durable(base, parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    match parent {
        Some(p) => sync_dir(p),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn is_target_taken(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
    ) || matches!(e.raw_os_error(), Some(17) | Some(39))
}

/// Whether two files have the same bytes (size first, then SHA-256 of both).
pub fn same_contents(a: &Path, b: &Path) -> io::Result<bool> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(sha256_file(a)? == sha256_file(b)?)
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(a)?.dev() == std::fs::metadata(b)?.dev())
}

#[cfg(not(unix))]
fn same_device(_a: &Path, _b: &Path) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> (tempfile::TempDir, Storage) {
        let tmp = tempfile::tempdir().unwrap();
        let s = Storage::open(&tmp.path().join("root"), &tmp.path().join("staging")).unwrap();
        (tmp, s)
    }

    #[test]
    fn save_writes_athens_layout() {
        let (_t, s) = storage();
        let out = s
            .save(
                "example.com/Foo",
                "v1.0.0",
                b"{}",
                b"module example.com/Foo\n",
                b"zip",
            )
            .unwrap();
        assert_eq!(out, CommitOutcome::Stored);
        let dir = s.root().join("example.com/Foo/v1.0.0");
        assert_eq!(
            std::fs::read(dir.join("go.mod")).unwrap(),
            b"module example.com/Foo\n"
        );
        assert_eq!(std::fs::read(dir.join("source.zip")).unwrap(), b"zip");
        assert_eq!(std::fs::read(dir.join("v1.0.0.info")).unwrap(), b"{}");
        assert_eq!(
            s.list("example.com/Foo").unwrap(),
            vec!["v1.0.0".to_string()]
        );
    }

    #[test]
    fn same_bytes_is_already_present_other_bytes_conflict() {
        let (_t, s) = storage();
        s.save(
            "m.example/x",
            "v1.0.0",
            b"{}",
            b"module m.example/x\n",
            b"a",
        )
        .unwrap();
        assert_eq!(
            s.save(
                "m.example/x",
                "v1.0.0",
                b"{}",
                b"module m.example/x\n",
                b"a"
            )
            .unwrap(),
            CommitOutcome::AlreadyPresent
        );
        assert!(matches!(
            s.save(
                "m.example/x",
                "v1.0.0",
                b"{}",
                b"module m.example/x\n",
                b"b"
            )
            .unwrap(),
            CommitOutcome::Conflict { .. }
        ));
        assert_eq!(
            std::fs::read(s.file_path("m.example/x", "v1.0.0", FileKind::Zip)).unwrap(),
            b"a"
        );
    }

    #[test]
    fn modules_are_private_unless_only_cached() {
        let (_t, s) = storage();
        let m = "m.example/x";
        assert!(!s.is_private(m), "nothing stored: public");
        s.mark(Origin::Cached, m).unwrap();
        s.save(m, "v1.0.0", b"{}", b"module m.example/x\n", b"a")
            .unwrap();
        assert!(!s.is_private(m), "only cached versions: public");
        s.mark(Origin::Uploaded, m).unwrap();
        assert!(s.is_private(m), "an uploaded version makes it private");
        // Versions without any marker (older data, another writer): private.
        s.save(
            "m.example/y",
            "v1.0.0",
            b"{}",
            b"module m.example/y\n",
            b"a",
        )
        .unwrap();
        assert!(s.is_private("m.example/y"));
        // Markers live outside the root, where Athens does not look.
        assert!(!s.root().join("m.example/x/@").exists());
    }

    #[test]
    fn staging_inside_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Storage::open(tmp.path(), &tmp.path().join("staging")).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
    }

    #[test]
    fn list_ignores_non_versions_and_files() {
        let (_t, s) = storage();
        let m = s.root().join("m.example/x");
        std::fs::create_dir_all(m.join("notaversion")).unwrap();
        std::fs::create_dir_all(m.join("v1.2.3")).unwrap();
        std::fs::write(m.join("v9.9.9"), b"").unwrap();
        assert_eq!(s.list("m.example/x").unwrap(), vec!["v1.2.3".to_string()]);
    }
}
