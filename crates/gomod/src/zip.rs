//! Module zip files: building one from a directory ([`create_from_dir`]) and
//! validating one received from elsewhere ([`check_zip`]).
//!
//! This mirrors `golang.org/x/mod/zip` (`CreateFromDir`, `CheckZip`). The rules:
//!
//! * every entry is named `<module>@<version>/<file path>`, the module path and
//!   version valid and agreeing (see [`crate::version::check_version_for_module`]);
//! * file paths are clean, relative and pass [`crate::path::check_file_path`];
//! * no two paths are equal under Unicode case folding, no path is both a file
//!   and a directory, no file appears twice;
//! * `go.mod` may appear only at the root and only spelled `go.mod`;
//! * the zip and the sum of uncompressed sizes are at most [`MAX_ZIP_FILE`];
//!   `go.mod` and `LICENSE` at most [`MAX_GO_MOD`] / [`MAX_LICENSE`].
//!
//! When building from a directory, Go *omits* (rather than rejects) version
//! control directories (`.git`, `.hg`, `.svn`, `.bzr`), nested modules
//! (directories with a `go.mod`), files in vendored packages, `.hg_archival.txt`
//! at the root, and symbolic links / irregular files. Everything else that
//! breaks a rule is an error listing every offending file.
//!
//! Directory entries: Go's `CheckZip` *accepts* them (it checks their names and
//! collisions and otherwise ignores them), but `dirhash.HashZip` includes them
//! in the `h1:` hash as empty files. [`check_zip`] therefore accepts them too and
//! reports them in [`ZipSummary::dir_entries`] so a caller (the registry) can
//! refuse them; [`create_from_dir`] never writes any, so its `h1:` equals the
//! hash Go computes over the extracted module files.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::hash::{self, HashError};
use crate::modfile;
use crate::path::{self as modpath, PathRule};
use crate::version::{self, VersionError};

/// Maximum size of a module zip, and of the total uncompressed content (500 MiB).
pub const MAX_ZIP_FILE: u64 = 500 << 20;
/// Maximum size of the root `go.mod` (16 MiB).
pub const MAX_GO_MOD: u64 = 16 << 20;
/// Maximum size of the root `LICENSE` (16 MiB).
pub const MAX_LICENSE: u64 = 16 << 20;

/// The rule a single file (or zip entry) broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileRule {
    #[error("path does not have prefix {0:?}")]
    MissingPrefix(String),
    #[error("file path is not clean")]
    NotClean,
    #[error("file path is not relative")]
    NotRelative,
    #[error("malformed file path: {0}")]
    InvalidPath(PathRule),
    #[error("go.mod files must have lowercase names")]
    GoModCase,
    #[error("go.mod file not in module root directory")]
    GoModNotAtRoot,
    #[error("case-insensitive file name collision: {other:?} and {this:?}")]
    CaseCollision { other: String, this: String },
    #[error("entry {0:?} is both a file and a directory")]
    FileAndDirectory(String),
    #[error("multiple entries for file {0:?}")]
    Duplicate(String),
    #[error("go.mod file too large (max size is {MAX_GO_MOD} bytes)")]
    GoModTooLarge,
    #[error("LICENSE file too large (max size is {MAX_LICENSE} bytes)")]
    LicenseTooLarge,
    #[error("file is larger than declared size")]
    GrewWhileReading,
}

/// A file that may not go into a module zip, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {rule}")]
pub struct FileError {
    /// The zip entry name ([`check_zip`]) or the path relative to the module
    /// directory ([`create_from_dir`]).
    pub path: String,
    pub rule: FileRule,
}

/// A list of [`FileError`]s, displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrors(pub Vec<FileError>);

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Why a module zip could not be built or was refused.
#[derive(Debug, Error)]
pub enum ZipError {
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("module zip file is too large ({size} bytes; limit is {MAX_ZIP_FILE} bytes)")]
    ZipTooLarge { size: u64 },
    #[error(
        "total uncompressed size of module contents too large (max size is {MAX_ZIP_FILE} bytes)"
    )]
    ContentTooLarge,
    #[error("module zip for {module}@{version} has invalid files:\n{files}")]
    InvalidFiles {
        module: String,
        version: String,
        files: FileErrors,
    },
    #[error("cannot read module zip")]
    Read(#[from] HashError),
    #[error("zip central directory lists {listed} entries but only {readable} are readable")]
    Inconsistent { listed: usize, readable: usize },
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write module zip")]
    Write(#[source] zip::result::ZipError),
}

/// A file in a module zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Slash-separated path relative to the module root (no `module@version/`).
    pub path: String,
    /// Uncompressed size in bytes.
    pub size: u64,
}

/// Why [`create_from_dir`] left something out (Go's "omitted" files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    VcsDirectory,
    Vendored,
    SubmoduleDirectory,
    SubmoduleFile,
    HgArchival,
    NotRegular,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::VcsDirectory => "directory is a version control repository",
            SkipReason::Vendored => "file is in vendor directory",
            SkipReason::SubmoduleDirectory => "directory is in another module",
            SkipReason::SubmoduleFile => "file is in another module",
            SkipReason::HgArchival => "file is inserted by 'hg archive' and is always omitted",
            SkipReason::NotRegular => "not a regular file (symbolic link or special file)",
        })
    }
}

/// A path [`create_from_dir`] did not include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Slash-separated, relative to the module directory. A skipped directory
    /// stands for everything under it.
    pub path: String,
    pub reason: SkipReason,
}

/// The result of [`create_from_dir`].
#[derive(Debug, Clone)]
pub struct CreatedZip {
    /// The zip archive: deflated entries in directory-walk order, fixed
    /// timestamps (1980-01-01) and modes (0644), no directory entries.
    pub bytes: Vec<u8>,
    /// Included files, in zip order.
    pub files: Vec<ModuleFile>,
    /// What was left out, and why.
    pub skipped: Vec<Skipped>,
    /// The root go.mod, if the directory has one.
    pub go_mod: Option<Vec<u8>>,
    /// The zip's `h1:` hash (equals [`crate::hash::hash_zip`] of `bytes`).
    pub h1: String,
}

/// The result of a successful [`check_zip`].
#[derive(Debug, Clone)]
pub struct ZipSummary {
    /// Files, in zip order.
    pub files: Vec<ModuleFile>,
    /// Directory entries (full entry names ending in `/`). Go tolerates them,
    /// but they change the `h1:` hash; see the module docs.
    pub dir_entries: Vec<String>,
    /// The root go.mod, if present.
    pub go_mod: Option<Vec<u8>>,
    /// Total uncompressed size of the files.
    pub size: u64,
    /// The zip's `h1:` hash, as go.sum records it.
    pub h1: String,
}

/// Validates a module zip for `module_path@version` the way Go's `CheckZip`
/// does, reads every entry (verifying CRCs and declared sizes) and returns
/// what it holds with its `h1:` hash. All invalid entries are reported
/// together.
pub fn check_zip(
    module_path: &str,
    version: &str,
    zip_bytes: &[u8],
) -> Result<ZipSummary, ZipError> {
    version::check_version_for_module(module_path, version)?;
    let zip_size = zip_bytes.len() as u64;
    if zip_size > MAX_ZIP_FILE {
        return Err(ZipError::ZipTooLarge { size: zip_size });
    }
    let mut archive =
        ZipArchive::new(Cursor::new(zip_bytes)).map_err(|e| ZipError::Read(e.into()))?;
    let prefix = format!("{module_path}@{version}/");
    let mut invalid = Vec::new();
    let mut collisions = CollisionChecker::default();
    let mut files = Vec::new();
    let mut dir_entries = Vec::new();
    let mut total: u64 = 0;
    let mut too_large = false;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| ZipError::Read(e.into()))?;
        entries.push((i, entry.name_raw().to_vec(), entry.size()));
    }
    // The zip crate collapses equal names; check the names Go would see, so
    // duplicates are caught (they are always an error, so the index of an
    // extra occurrence never gets used for reading).
    let mut listed = entries.len();
    if let Some(all) = hash::central_directory_names(zip_bytes) {
        if all.len() != entries.len() {
            listed = all.len();
            entries = all.into_iter().map(|n| (usize::MAX, n, 0)).collect();
        }
    }
    let readable = archive.len();
    for (i, raw, declared) in entries {
        let full = String::from_utf8_lossy(&raw).into_owned();
        let mut add = |rule| {
            invalid.push(FileError {
                path: full.clone(),
                rule,
            })
        };
        let Some(rest) = raw.strip_prefix(prefix.as_bytes()) else {
            add(FileRule::MissingPrefix(prefix.clone()));
            continue;
        };
        let Ok(rest) = std::str::from_utf8(rest) else {
            add(FileRule::InvalidPath(PathRule::InvalidUtf8));
            continue;
        };
        if rest.is_empty() {
            // The root directory entry itself.
            dir_entries.push(full);
            continue;
        }
        let (name, is_dir) = match rest.strip_suffix('/') {
            Some(n) => (n, true),
            None => (rest, false),
        };
        if clean(name) != name {
            add(FileRule::NotClean);
            continue;
        }
        if let Err(e) = modpath::check_file_path(name) {
            add(FileRule::InvalidPath(e.rule));
            continue;
        }
        if let Err(rule) = collisions.check(name, is_dir) {
            add(rule);
            continue;
        }
        if is_dir {
            dir_entries.push(full);
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.eq_ignore_ascii_case("go.mod") {
            if base != name {
                add(FileRule::GoModNotAtRoot);
                continue;
            }
            if name != "go.mod" {
                add(FileRule::GoModCase);
                continue;
            }
        }
        if MAX_ZIP_FILE - total >= declared {
            total += declared;
        } else {
            too_large = true;
        }
        if name == "go.mod" && declared > MAX_GO_MOD {
            add(FileRule::GoModTooLarge);
            continue;
        }
        if name == "LICENSE" && declared > MAX_LICENSE {
            add(FileRule::LicenseTooLarge);
            continue;
        }
        files.push((
            i,
            ModuleFile {
                path: name.to_string(),
                size: declared,
            },
        ));
    }
    if too_large {
        return Err(ZipError::ContentTooLarge);
    }
    if !invalid.is_empty() {
        return Err(ZipError::InvalidFiles {
            module: module_path.to_string(),
            version: version.to_string(),
            files: FileErrors(invalid),
        });
    }
    if listed != readable {
        return Err(ZipError::Inconsistent { listed, readable });
    }

    // Everything is named right; now read it all, which verifies CRCs and
    // sizes, and hash it the way dirhash.HashZip does (directory entries too).
    let mut go_mod = None;
    let mut digests = Vec::with_capacity(archive.len());
    let mut file_iter = files.iter().peekable();
    for i in 0..archive.len() {
        let is_go_mod = file_iter
            .peek()
            .is_some_and(|(idx, f)| *idx == i && f.path == "go.mod");
        if file_iter.peek().is_some_and(|(idx, _)| *idx == i) {
            file_iter.next();
        }
        let mut content = Vec::new();
        let (name, digest) = hash::read_entry_digest(&mut archive, i, |chunk| {
            if is_go_mod {
                content.extend_from_slice(chunk);
            }
        })?;
        if is_go_mod {
            go_mod = Some(content);
        }
        digests.push((name, digest));
    }
    let h1 = hash::hash1_from_digests(digests)?;
    Ok(ZipSummary {
        files: files.into_iter().map(|(_, f)| f).collect(),
        dir_entries,
        go_mod,
        size: total,
        h1,
    })
}

/// Go's `path.Clean` for slash-separated paths.
fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for elem in p.split('/') {
        match elem {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            e => out.push(e),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Finds case-insensitive collisions and paths that are both a file and a
/// directory (Go's `collisionChecker`).
#[derive(Default)]
struct CollisionChecker {
    seen: HashMap<String, (String, bool)>,
}

impl CollisionChecker {
    fn check(&mut self, p: &str, is_dir: bool) -> Result<(), FileRule> {
        let fold = str_to_fold(p);
        if let Some((other, other_dir)) = self.seen.get(&fold) {
            if p != other {
                return Err(FileRule::CaseCollision {
                    other: other.clone(),
                    this: p.to_string(),
                });
            }
            if is_dir != *other_dir {
                return Err(FileRule::FileAndDirectory(p.to_string()));
            }
            if !is_dir {
                return Err(FileRule::Duplicate(p.to_string()));
            }
            // The same directory again: fine (parents are checked repeatedly).
        } else {
            self.seen.insert(fold, (p.to_string(), is_dir));
        }
        match p.rfind('/') {
            Some(i) => self.check(&p[..i], true),
            None => Ok(()),
        }
    }
}

/// A key such that two strings get the same key iff Go's `strings.EqualFold`
/// holds for them. Go folds through Unicode simple case folding orbits; std
/// has no such table, so map through upper then lower case, which yields the
/// same classes for every letter `check_file_path` admits except the Turkic
/// dotless `ı`, which Go does not fold (with `I`) and is kept as is.
fn str_to_fold(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return s.to_string();
    }
    fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
        let c = it.next()?;
        it.next().is_none().then_some(c)
    }
    s.chars()
        .map(|c| {
            if c == 'ı' {
                return c;
            }
            let u = single(c.to_uppercase()).unwrap_or(c);
            single(u.to_lowercase()).unwrap_or(u)
        })
        .collect()
}

/// Whether `name` is inside a vendored package, which Go leaves out of module
/// zips. Go 1.24 changed the rule (and started omitting `vendor/modules.txt`);
/// which rule applies depends on the root go.mod's `go` version, so that old
/// modules keep their published hashes.
fn is_vendored_package(name: &str, go_1_24: bool) -> bool {
    if go_1_24 && name == "vendor/modules.txt" {
        return true;
    }
    let start = if name.starts_with("vendor/") {
        "vendor/".len()
    } else if let Some(j) = name.find("/vendor/") {
        if go_1_24 {
            j + "/vendor/".len()
        } else {
            // Before Go 1.24 the offset was taken from the start of the name
            // (golang.org/issue/37397); kept for hash compatibility.
            "/vendor/".len()
        }
    } else {
        return false;
    };
    name.as_bytes()[start..].contains(&b'/')
}

/// A file found by walking the module directory.
struct DirFile {
    rel: String,
    abs: PathBuf,
    size: u64,
    utf8: bool,
}

/// Builds the module zip for `module_path@version` from `dir` following Go's
/// `CreateFromDir`: what Go omits is listed in [`CreatedZip::skipped`], what Go
/// refuses makes this fail with every offending file listed.
pub fn create_from_dir(
    module_path: &str,
    version: &str,
    dir: &Path,
) -> Result<CreatedZip, ZipError> {
    version::check_version_for_module(module_path, version)?;
    let io_err = |path: &Path, source| ZipError::Io {
        path: path.to_path_buf(),
        source,
    };

    let root_go_mod = dir.join("go.mod");
    let go_1_24 = match fs::read(&root_go_mod) {
        Ok(data) => modfile::go_version_lax(&data).is_some_and(|v| go_lang_at_least(&v, 1, 24)),
        Err(_) => false,
    };

    // Walk like Go's listFilesInDir: lexical order, symlinks not followed.
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            ZipError::Io {
                path,
                source: e.into(),
            }
        })?;
        if entry.depth() == 0 {
            continue;
        }
        let rel_path = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let utf8 = rel_path.to_str().is_some();
        let rel = rel_path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if is_vendored_package(&rel, go_1_24) {
            // Go records the entry and keeps walking (a vendored directory's
            // files are each omitted in turn).
            skipped.push(Skipped {
                path: rel,
                reason: SkipReason::Vendored,
            });
            continue;
        }
        let ft = entry.file_type();
        if ft.is_dir() {
            let base = entry.file_name().to_string_lossy();
            if matches!(base.as_ref(), ".bzr" | ".git" | ".hg" | ".svn") {
                skipped.push(Skipped {
                    path: rel,
                    reason: SkipReason::VcsDirectory,
                });
                walk.skip_current_dir();
                continue;
            }
            let nested = fs::symlink_metadata(entry.path().join("go.mod"));
            if nested.is_ok_and(|m| !m.is_dir()) {
                skipped.push(Skipped {
                    path: rel,
                    reason: SkipReason::SubmoduleDirectory,
                });
                walk.skip_current_dir();
            }
            continue;
        }
        if !ft.is_file() {
            skipped.push(Skipped {
                path: rel,
                reason: SkipReason::NotRegular,
            });
            continue;
        }
        let size = entry
            .metadata()
            .map_err(|e| io_err(entry.path(), e.into()))?
            .len();
        files.push(DirFile {
            rel,
            abs: entry.path().to_path_buf(),
            size,
            utf8,
        });
    }

    // Go's checkFiles: directories holding a go.mod under any casing are
    // other modules (the root excepted).
    let go_mod_dirs: HashSet<String> = files
        .iter()
        .filter_map(|f| {
            let (d, base) = split_dir(&f.rel);
            base.eq_ignore_ascii_case("go.mod").then(|| d.to_string())
        })
        .collect();
    let in_submodule = |p: &str| {
        let mut p = p;
        while let Some(i) = p.rfind('/') {
            let d = &p[..=i];
            if go_mod_dirs.contains(d) {
                return true;
            }
            p = &p[..i];
        }
        false
    };

    let mut invalid = Vec::new();
    let mut collisions = CollisionChecker::default();
    let mut remaining = MAX_ZIP_FILE;
    let mut too_large = false;
    let mut valid = Vec::new();
    for f in files {
        let p = f.rel.as_str();
        let mut add = |rule| {
            invalid.push(FileError {
                path: p.to_string(),
                rule,
            })
        };
        if is_vendored_package(p, go_1_24) {
            skipped.push(Skipped {
                path: f.rel.clone(),
                reason: SkipReason::Vendored,
            });
            continue;
        }
        if in_submodule(p) {
            skipped.push(Skipped {
                path: f.rel.clone(),
                reason: SkipReason::SubmoduleFile,
            });
            continue;
        }
        if p == ".hg_archival.txt" {
            skipped.push(Skipped {
                path: f.rel.clone(),
                reason: SkipReason::HgArchival,
            });
            continue;
        }
        if !f.utf8 {
            add(FileRule::InvalidPath(PathRule::InvalidUtf8));
            continue;
        }
        if let Err(e) = modpath::check_file_path(p) {
            add(FileRule::InvalidPath(e.rule));
            continue;
        }
        if p.eq_ignore_ascii_case("go.mod") && p != "go.mod" {
            add(FileRule::GoModCase);
            continue;
        }
        if let Err(rule) = collisions.check(p, false) {
            add(rule);
            continue;
        }
        if f.size <= remaining {
            remaining -= f.size;
        } else {
            too_large = true;
        }
        if p == "go.mod" && f.size > MAX_GO_MOD {
            add(FileRule::GoModTooLarge);
            continue;
        }
        if p == "LICENSE" && f.size > MAX_LICENSE {
            add(FileRule::LicenseTooLarge);
            continue;
        }
        valid.push(f);
    }
    if too_large {
        return Err(ZipError::ContentTooLarge);
    }
    if !invalid.is_empty() {
        return Err(ZipError::InvalidFiles {
            module: module_path.to_string(),
            version: version.to_string(),
            files: FileErrors(invalid),
        });
    }

    let prefix = format!("{module_path}@{version}/");
    // Fixed metadata so the same tree always yields the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let mut digests = Vec::with_capacity(valid.len());
    let mut out_files = Vec::with_capacity(valid.len());
    let mut go_mod = None;
    for f in valid {
        let data = fs::read(&f.abs).map_err(|e| io_err(&f.abs, e))?;
        if data.len() as u64 > f.size {
            return Err(ZipError::InvalidFiles {
                module: module_path.to_string(),
                version: version.to_string(),
                files: FileErrors(vec![FileError {
                    path: f.rel,
                    rule: FileRule::GrewWhileReading,
                }]),
            });
        }
        let name = format!("{prefix}{}", f.rel);
        writer
            .start_file(name.as_str(), options)
            .map_err(ZipError::Write)?;
        writer
            .write_all(&data)
            .map_err(|e| ZipError::Write(e.into()))?;
        digests.push((name.into_bytes(), hash::sha256(&data)));
        if f.rel == "go.mod" {
            go_mod = Some(data.clone());
        }
        out_files.push(ModuleFile {
            path: f.rel,
            size: data.len() as u64,
        });
    }
    let bytes = writer.finish().map_err(ZipError::Write)?.into_inner();
    if bytes.len() as u64 > MAX_ZIP_FILE {
        return Err(ZipError::ZipTooLarge {
            size: bytes.len() as u64,
        });
    }
    let h1 = hash::hash1_from_digests(digests)?;
    Ok(CreatedZip {
        bytes,
        files: out_files,
        skipped,
        go_mod,
        h1,
    })
}

/// `("a/b/", "c")` for `"a/b/c"`, `("", "c")` for `"c"` (Go's `path.Split`).
fn split_dir(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// Whether a go.mod `go` version is at least `major.minor` (Go's
/// `version.Compare(version.Lang("go"+v), "go1.24") >= 0`; an unparsable
/// version compares lower than every valid one).
fn go_lang_at_least(v: &str, major: u64, minor: u64) -> bool {
    let digits = |s: &str| -> Option<(u64, usize)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || (s.starts_with('0') && n > 1) {
            return None;
        }
        Some((s[..n].parse().ok()?, n))
    };
    let Some((ma, n)) = digits(v) else {
        return false;
    };
    let rest = &v[n..];
    if rest.is_empty() {
        return (ma, 0) >= (major, minor);
    }
    let Some(rest) = rest.strip_prefix('.') else {
        return false;
    };
    let Some((mi, n)) = digits(rest) else {
        return false;
    };
    let tail = &rest[n..];
    // The rest must be a valid patch (`.N`) or prerelease (`rc1`, `beta2`).
    let tail_ok = if let Some(p) = tail.strip_prefix('.') {
        digits(p).is_some_and(|(_, n)| n == p.len())
    } else {
        let letters = tail.bytes().take_while(u8::is_ascii_lowercase).count();
        tail.is_empty()
            || (letters > 0
                && (letters == tail.len()
                    || digits(&tail[letters..]).is_some_and(|(_, n)| letters + n == tail.len())))
    };
    tail_ok && (ma, mi) >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "x.com/m";
    const V: &str = "v1.0.0";

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        let o = SimpleFileOptions::default();
        for (name, data) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, o).unwrap();
            } else {
                w.start_file(*name, o).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    fn invalid_rules(entries: &[(&str, &[u8])]) -> Vec<FileRule> {
        match check_zip(M, V, &zip_of(entries)) {
            Err(ZipError::InvalidFiles { files, .. }) => {
                files.0.into_iter().map(|e| e.rule).collect()
            }
            other => panic!("expected InvalidFiles, got {other:?}"),
        }
    }

    #[test]
    fn check_zip_accepts_valid_zip() {
        let gomod = b"module x.com/m\n\ngo 1.22\n";
        let z = zip_of(&[
            ("x.com/m@v1.0.0/go.mod", gomod),
            ("x.com/m@v1.0.0/m.go", b"package m\n"),
            ("x.com/m@v1.0.0/LICENSE", b"MIT\n"),
            ("x.com/m@v1.0.0/sub/é.go", b"package sub\n"),
        ]);
        let s = check_zip(M, V, &z).unwrap();
        assert_eq!(s.go_mod.as_deref(), Some(&gomod[..]));
        assert_eq!(
            s.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["go.mod", "m.go", "LICENSE", "sub/é.go"]
        );
        assert_eq!(s.size, (gomod.len() + 10 + 4 + 12) as u64);
        assert!(s.dir_entries.is_empty());
        assert_eq!(s.h1, hash::hash_zip(&z).unwrap());
    }

    #[test]
    fn check_zip_tolerates_and_reports_directory_entries() {
        let z = zip_of(&[
            ("x.com/m@v1.0.0/", b""),
            ("x.com/m@v1.0.0/sub/", b""),
            ("x.com/m@v1.0.0/sub/a.go", b"package sub\n"),
        ]);
        let s = check_zip(M, V, &z).unwrap();
        assert_eq!(s.dir_entries, ["x.com/m@v1.0.0/", "x.com/m@v1.0.0/sub/"]);
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.h1, hash::hash_zip(&z).unwrap());
        assert_ne!(
            s.h1,
            hash::hash_files([("x.com/m@v1.0.0/sub/a.go", "package sub\n")]).unwrap()
        );
    }

    #[test]
    fn check_zip_rejections() {
        assert_eq!(
            invalid_rules(&[("x.com/other@v1.0.0/a.go", b"")]),
            [FileRule::MissingPrefix("x.com/m@v1.0.0/".into())]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/../evil.go", b"")]),
            [FileRule::InvalidPath(PathRule::DotsOnlyElement(
                "..".into()
            ))]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/a/../../evil.go", b"")]),
            [FileRule::NotClean]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/a/./b.go", b"")]),
            [FileRule::NotClean]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0//abs.go", b"")]),
            [FileRule::InvalidPath(PathRule::EmptyElement)]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/a:b.go", b"")]),
            [FileRule::InvalidPath(PathRule::InvalidChar(':'))]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/a.go", b""), ("x.com/m@v1.0.0/A.go", b"")]),
            [FileRule::CaseCollision {
                other: "a.go".into(),
                this: "A.go".into()
            }]
        );
        assert_eq!(
            invalid_rules(&[
                ("x.com/m@v1.0.0/d/a.go", b""),
                ("x.com/m@v1.0.0/D/b.go", b"")
            ]),
            [FileRule::CaseCollision {
                other: "d".into(),
                this: "D".into()
            }]
        );
        assert_eq!(
            invalid_rules(&[
                ("x.com/m@v1.0.0/k.go", b""),
                ("x.com/m@v1.0.0/\u{212A}.go", b"")
            ]),
            [FileRule::CaseCollision {
                other: "k.go".into(),
                this: "\u{212A}.go".into()
            }]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/a", b""), ("x.com/m@v1.0.0/a/b", b"")]),
            [FileRule::FileAndDirectory("a".into())]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/GO.MOD", b"")]),
            [FileRule::GoModCase]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/sub/go.mod", b"")]),
            [FileRule::GoModNotAtRoot]
        );
        // All offenders are reported, not just the first.
        assert_eq!(
            invalid_rules(&[("y.com/a", b""), ("x.com/m@v1.0.0/sub/go.mod", b"")]).len(),
            2
        );
    }

    #[test]
    fn check_zip_duplicate_entries() {
        // The zip crate refuses to write duplicates, so build the archive by
        // renaming one entry in place (same-length names).
        let mut z = zip_of(&[("x.com/m@v1.0.0/a.go", b"1"), ("x.com/m@v1.0.0/b.go", b"2")]);
        let from = b"x.com/m@v1.0.0/b.go";
        let to = b"x.com/m@v1.0.0/a.go";
        let mut i = 0;
        while i + from.len() <= z.len() {
            if &z[i..i + from.len()] == from {
                z[i..i + from.len()].copy_from_slice(to);
            }
            i += 1;
        }
        match check_zip(M, V, &z) {
            Err(ZipError::InvalidFiles { files, .. }) => {
                assert_eq!(files.0[0].rule, FileRule::Duplicate("a.go".into()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_zip_size_limits() {
        // Declared sizes are what Go checks; a real 16 MiB go.mod is cheap.
        let big = vec![b'/'; (MAX_GO_MOD + 1) as usize];
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/go.mod", &big)]),
            [FileRule::GoModTooLarge]
        );
        assert_eq!(
            invalid_rules(&[("x.com/m@v1.0.0/LICENSE", &big)]),
            [FileRule::LicenseTooLarge]
        );
        // Other files may be large.
        check_zip(M, V, &zip_of(&[("x.com/m@v1.0.0/big.txt", &big)])).unwrap();
        let huge = vec![0u8; MAX_ZIP_FILE as usize + 1];
        assert!(matches!(
            check_zip(M, V, &huge),
            Err(ZipError::ZipTooLarge { .. })
        ));
    }

    #[test]
    fn check_zip_checks_module_and_version() {
        let z = zip_of(&[("x.com/m@v1.0.0/a.go", b"")]);
        assert!(matches!(
            check_zip(M, "v1.0", &z),
            Err(ZipError::Version(VersionError::NotCanonical { .. }))
        ));
        assert!(matches!(
            check_zip("x.com/m/v2", "v1.0.0", &z),
            Err(ZipError::Version(VersionError::MajorMismatch { .. }))
        ));
        assert!(matches!(
            check_zip(M, V, b"garbage"),
            Err(ZipError::Read(_))
        ));
    }

    #[test]
    fn check_zip_detects_corrupt_content() {
        let mut z = zip_of(&[("x.com/m@v1.0.0/a.txt", b"hello hello hello")]);
        // Stored? Default options deflate; flip a byte in the local data area
        // right after the local header (30 bytes + name).
        let off = 30 + "x.com/m@v1.0.0/a.txt".len() + 1;
        z[off] ^= 0xff;
        assert!(matches!(check_zip(M, V, &z), Err(ZipError::Read(_))));
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, data) in files {
            let p = d.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        }
        d
    }

    #[test]
    fn create_is_deterministic_and_has_no_directory_entries() {
        let d = tree(&[
            ("go.mod", "module x.com/m\n"),
            ("b/z.go", "package b\n"),
            ("a.go", "package m\n"),
        ]);
        let one = create_from_dir(M, V, d.path()).unwrap();
        let two = create_from_dir(M, V, d.path()).unwrap();
        assert_eq!(one.bytes, two.bytes);
        assert_eq!(
            one.files
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>(),
            ["a.go", "b/z.go", "go.mod"],
            "lexical walk order"
        );
        let s = check_zip(M, V, &one.bytes).unwrap();
        assert!(s.dir_entries.is_empty());
        assert_eq!(s.h1, one.h1);
        assert_eq!(one.go_mod.as_deref(), Some(&b"module x.com/m\n"[..]));
    }

    #[test]
    fn create_lists_every_invalid_file() {
        let d = tree(&[
            ("go.mod", "module x.com/m\n"),
            ("a:b.txt", ""),
            ("x/A.go", ""),
            ("x/a.go", ""),
            ("con.txt", ""),
        ]);
        match create_from_dir(M, V, d.path()) {
            Err(ZipError::InvalidFiles { files, .. }) => {
                let paths: Vec<_> = files.0.iter().map(|e| e.path.as_str()).collect();
                assert_eq!(paths, ["a:b.txt", "con.txt", "x/a.go"]);
                let msg = ZipError::InvalidFiles {
                    module: M.into(),
                    version: V.into(),
                    files,
                }
                .to_string();
                assert!(
                    msg.contains("a:b.txt: malformed file path: invalid char ':'"),
                    "{msg}"
                );
                assert!(
                    msg.contains("case-insensitive file name collision"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_refuses_miscased_root_go_mod() {
        let d = tree(&[("GO.MOD", "module x.com/m\n"), ("a.go", "")]);
        match create_from_dir(M, V, d.path()) {
            Err(ZipError::InvalidFiles { files, .. }) => {
                assert_eq!(files.0[0].rule, FileRule::GoModCase)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_enforces_size_limits() {
        // Sparse files: the limits are checked on sizes before any reading.
        let d = tree(&[("a.go", "")]);
        fs::File::create(d.path().join("go.mod"))
            .unwrap()
            .set_len(MAX_GO_MOD + 1)
            .unwrap();
        match create_from_dir(M, V, d.path()) {
            Err(ZipError::InvalidFiles { files, .. }) => {
                assert_eq!(files.0[0].rule, FileRule::GoModTooLarge)
            }
            other => panic!("{other:?}"),
        }
        let d = tree(&[("go.mod", "module x.com/m\n")]);
        fs::File::create(d.path().join("big.bin"))
            .unwrap()
            .set_len(MAX_ZIP_FILE + 1)
            .unwrap();
        assert!(matches!(
            create_from_dir(M, V, d.path()),
            Err(ZipError::ContentTooLarge)
        ));
    }

    #[test]
    fn create_checks_module_and_version_first() {
        let d = tree(&[("a.go", "")]);
        assert!(matches!(
            create_from_dir("x.com/m/v2", "v1.0.0", d.path()),
            Err(ZipError::Version(_))
        ));
        assert!(matches!(
            create_from_dir(M, V, &d.path().join("missing")),
            Err(ZipError::Io { .. })
        ));
    }

    #[test]
    fn helpers() {
        assert_eq!(clean("a/../b"), "b");
        assert_eq!(clean("a//b/"), "a/b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../a"), "../a");
        assert_eq!(clean(""), ".");
        assert!(is_vendored_package("vendor/x/a.go", false));
        assert!(!is_vendored_package("vendor/a.go", false));
        assert!(!is_vendored_package("vendor/modules.txt", false));
        assert!(is_vendored_package("vendor/modules.txt", true));
        assert!(is_vendored_package("pkg/vendor/x/a.go", true));
        assert!(!is_vendored_package("pkg/vendor/a.go", true));
        // The pre-1.24 offset bug: counts from the start of the name.
        assert!(is_vendored_package("pkg/vendor/vendor.go", false));
        assert!(is_vendored_package("ab/vendor/a.go", false));
        assert!(!is_vendored_package("ab/vendor/a.go", true));
        assert!(go_lang_at_least("1.24", 1, 24));
        assert!(go_lang_at_least("1.24.0", 1, 24));
        assert!(go_lang_at_least("1.24rc1", 1, 24));
        assert!(go_lang_at_least("1.26", 1, 24));
        assert!(!go_lang_at_least("1.23.5", 1, 24));
        assert!(!go_lang_at_least("1.024", 1, 24));
        assert!(!go_lang_at_least("junk", 1, 24));
        assert_eq!(str_to_fold("ABC/Straße"), "abc/straße");
        assert_eq!(str_to_fold("ſ"), str_to_fold("S"));
        assert_ne!(str_to_fold("ı"), str_to_fold("I"));
    }
}
