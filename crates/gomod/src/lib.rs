//! Go module rules, hand-written in Rust for pkgrun's Go registry and Go runner.
//!
//! Each module owns one concern and mirrors the corresponding package of
//! `golang.org/x/mod`, with Go's wording in error messages:
//!
//! * [`path`]: module/import/file path rules, major version suffixes and the
//!   `!` case-encoding used in URLs and storage paths;
//! * [`version`]: semantic versions, pseudo-versions, and which versions a
//!   module path may carry;
//! * [`hash`]: `h1:` hashes of module zips and go.mod files (go.sum lines);
//! * [`zip`]: building a module zip from a directory and validating one;
//! * [`modfile`]: reading and minimally editing go.mod files.
//!
//! The behaviour is cross-checked against the real `go` command in
//! `tests/go_crosscheck.rs`.

pub mod hash;
pub mod modfile;
pub mod path;
pub mod version;
pub mod zip;

pub use hash::{hash_files, hash_go_mod, hash_zip, HashError};
pub use modfile::{ModFile, ModFileError, Replace, ReplaceTarget, Require};
pub use path::{
    check_file_path, check_import_path, check_module_path, check_path_major, escape_path,
    escape_version, split_path_version, unescape_path, unescape_version, EscapeError, InvalidPath,
};
pub use version::{check_version_for_module, VersionError};
pub use zip::{check_zip, create_from_dir, CreatedZip, ZipError, ZipSummary};
