//! Validation of an upload against the Go module rules (all rules come from [`gomod`]).
//!
//! The same checks run on uploads and on what the upstream serves before it is cached.
//!
//! Order matters only for which message a client sees first: path, version (canonical,
//! major suffix), storage layout, `.info`, `go.mod`'s module line, then the zip (entries under
//! `module@version/`, no traversal, no case-fold collisions, sizes, no directory entries,
//! root go.mod equal to the uploaded `mod`). Every failure is a 400 (or 413 for sizes) with a
//! message that says what to fix.

use serde::Deserialize;

use crate::config::Limits;
use crate::error::AppError;

/// The small parts of an upload, read into memory (the zip is staged on disk).
#[derive(Debug, Default)]
pub struct Upload {
    /// Module path (unescaped).
    pub module: String,
    /// Version (must be canonical).
    pub version: String,
    /// `.info` JSON.
    pub info: Vec<u8>,
    /// go.mod.
    pub mod_file: Vec<u8>,
}

/// What a valid upload is known to hold.
#[derive(Debug, Clone)]
pub struct Validated {
    /// `h1:` hash of the zip (go.sum's `<module> <version> h1:…`).
    pub h1: String,
    /// `h1:` hash of go.mod (go.sum's `<module> <version>/go.mod h1:…`).
    pub mod_h1: String,
}

#[derive(Deserialize)]
struct Info {
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "Time")]
    time: Option<String>,
}

fn bad(msg: impl Into<String>) -> AppError {
    AppError::BadRequest(msg.into())
}

/// Longest file name (one path element) the storage writes; Linux' NAME_MAX.
const NAME_MAX: usize = 255;

/// Whether `module@version` can be stored in Athens' layout without colliding with another
/// module's files: no path element may look like a version directory (`example.com/a/v1.0.0/x`
/// would live inside `example.com/a@v1.0.0`), and every element — the version's
/// `<version>.info` too — must fit in a file name.
pub fn check_layout(module: &str, version: Option<&str>) -> Result<(), AppError> {
    for elem in module.split('/').skip(1) {
        if crate::storage::is_version_dir_name(elem) {
            return Err(bad(format!(
                "module path element {elem:?} looks like a version; in the storage layout \
                 <module>/<version>/ it would collide with another module's version directory"
            )));
        }
    }
    if let Some(elem) = module.split('/').find(|e| e.len() > NAME_MAX) {
        return Err(bad(format!(
            "module path element of {} bytes is longer than {NAME_MAX}",
            elem.len()
        )));
    }
    if version.is_some_and(|v| v.len() + ".info".len() > NAME_MAX) {
        return Err(bad(format!(
            "version is longer than {} bytes",
            NAME_MAX - ".info".len()
        )));
    }
    Ok(())
}

/// Check every rule on `u` and the module `zip`; returns the hashes on success.
pub fn validate(u: &Upload, zip: &[u8], limits: &Limits) -> Result<Validated, AppError> {
    if u.module.is_empty() {
        return Err(bad("field `module` is empty"));
    }
    gomod::path::check_module_path(&u.module)
        .map_err(|e| bad(format!("invalid module path: {e}")))?;
    gomod::version::check_version_for_module(&u.module, &u.version)
        .map_err(|e| bad(format!("invalid version: {e}")))?;
    check_layout(&u.module, Some(&u.version))?;

    if zip.len() as u64 > limits.zip {
        return Err(AppError::PayloadTooLarge(format!(
            "zip is {} bytes; the limit is {} bytes",
            zip.len(),
            limits.zip
        )));
    }

    let info: Info = serde_json::from_slice(&u.info).map_err(|e| {
        bad(format!(
            "info is not a JSON object with Version and Time: {e}"
        ))
    })?;
    match info.version.as_deref() {
        Some(v) if v == u.version => {}
        Some(v) => {
            return Err(bad(format!(
                "info.Version {v:?} does not match version {:?}",
                u.version
            )))
        }
        None => return Err(bad("info has no Version")),
    }
    if let Some(t) = info.time.as_deref() {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad(format!("info.Time {t:?} is not an RFC 3339 time")))?;
    }

    let declared =
        mod_module_path(&u.mod_file).ok_or_else(|| bad("mod has no module directive"))?;
    if declared != u.module {
        return Err(bad(format!(
            "mod declares module {declared:?}, not {:?}",
            u.module
        )));
    }

    let summary = gomod::zip::check_zip(&u.module, &u.version, zip).map_err(|e| match e {
        gomod::zip::ZipError::ZipTooLarge { .. } | gomod::zip::ZipError::ContentTooLarge => {
            AppError::PayloadTooLarge(format!("invalid zip: {e}"))
        }
        gomod::zip::ZipError::Read(ref cause) => bad(format!("invalid zip: {e}: {cause}")),
        e => bad(format!("invalid zip: {e}")),
    })?;
    if !summary.dir_entries.is_empty() {
        return Err(bad(format!(
            "invalid zip: directory entries are not allowed (they change the h1: hash): {}",
            summary.dir_entries.join(", ")
        )));
    }
    match &summary.go_mod {
        Some(zip_mod) if zip_mod == &u.mod_file => {}
        Some(_) => return Err(bad(
            "invalid zip: its go.mod differs from the uploaded mod (they must be byte-identical)",
        )),
        None => return Err(bad("invalid zip: no go.mod at the module root")),
    }
    Ok(Validated {
        h1: summary.h1,
        mod_h1: gomod::hash::hash_go_mod(&u.mod_file),
    })
}

/// The module path declared by a go.mod file (read as leniently as the go command does).
fn mod_module_path(data: &[u8]) -> Option<String> {
    gomod::modfile::module_path(data)
}
