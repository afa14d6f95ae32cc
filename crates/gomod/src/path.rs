//! Module, import and file path rules, and the `!` case-encoding.
//!
//! This mirrors `golang.org/x/mod/module` (`CheckPath`, `CheckImportPath`,
//! `CheckFilePath`, `SplitPathVersion`, `CheckPathMajor`, `EscapePath`,
//! `UnescapePath`, `EscapeVersion`, `UnescapeVersion`). The Go rules exist so
//! that a module path can live on case-insensitive file systems and in URLs:
//! paths are ASCII (file names may also hold Unicode letters), and an upper-case
//! letter is written `!` + lower-case letter wherever a path becomes a file or
//! URL path (the GOPROXY protocol, Athens' storage, the module cache).
//!
//! Error messages follow Go's wording (`malformed module path "x": ...`) so a
//! user who searches for them finds the Go documentation.

use std::fmt;

use thiserror::Error;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::version;

/// Which kind of path a rule was checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A module path (`example.com/mod/v2`).
    Module,
    /// A package import path (`example.com/mod/v2/sub`).
    Import,
    /// A slash-separated file path inside a module (`sub/file.go`).
    File,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Module => "module",
            PathKind::Import => "import",
            PathKind::File => "file",
        })
    }
}

/// The rule a path broke. Messages match Go's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathRule {
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("empty string")]
    Empty,
    #[error("leading dash")]
    LeadingDash,
    #[error("double slash")]
    DoubleSlash,
    #[error("trailing slash")]
    TrailingSlash,
    #[error("leading slash")]
    LeadingSlash,
    #[error("empty path element")]
    EmptyElement,
    #[error("invalid path element {0:?}")]
    DotsOnlyElement(String),
    #[error("leading dot in path element")]
    LeadingDot,
    #[error("trailing dot in path element")]
    TrailingDot,
    #[error("invalid char {0:?}")]
    InvalidChar(char),
    #[error("{0:?} disallowed as path element component on Windows")]
    WindowsReservedName(String),
    #[error("trailing tilde and digits in path element")]
    WindowsShortName,
    #[error("missing dot in first path element")]
    MissingDotInFirstElement,
    #[error("leading dash in first path element")]
    LeadingDashInFirstElement,
    #[error("invalid char {0:?} in first path element")]
    InvalidCharInFirstElement(char),
    /// The last element looks like a major version suffix but is not a valid
    /// one (`/v1`, `/v0`, `/v2.1`, `/v02`, or a gopkg.in path without `.vN`).
    #[error("invalid version")]
    InvalidMajorSuffix,
}

/// A path that breaks one of Go's naming rules.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed {kind} path {path:?}: {rule}")]
pub struct InvalidPath {
    pub kind: PathKind,
    pub path: String,
    pub rule: PathRule,
}

/// Errors of the `!` case-encoding.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EscapeError {
    /// The path to escape is not a valid module path.
    #[error(transparent)]
    InvalidPath(#[from] InvalidPath),
    /// The escaped text is not a valid encoding (`!` not followed by a
    /// lower-case letter, a raw upper-case letter, or non-ASCII).
    #[error("invalid escaped module path {0:?}")]
    BadEncoding(String),
    /// The escaped text decodes to an invalid module path.
    #[error("invalid escaped module path {escaped:?}: {source}")]
    DecodesToInvalidPath {
        escaped: String,
        #[source]
        source: InvalidPath,
    },
    /// The version is not usable as a file name, or contains `!`.
    #[error("version {0:?} invalid: disallowed version string")]
    BadVersion(String),
    /// The escaped version text is not a valid encoding.
    #[error("invalid escaped version {0:?}")]
    BadEscapedVersion(String),
}

/// The major version suffix did not agree with a version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("version {version:?} invalid: should be {expected}, not {actual}")]
pub struct MajorMismatch {
    pub version: String,
    /// What the path requires (`v2`, or `v0 or v1` for a path without suffix).
    pub expected: String,
    /// The version's major (`v3`), empty if the version is not semver.
    pub actual: String,
}

// Windows reserves these names (case-insensitively, before the first dot) in
// every directory; Go refuses them so a module extracts on Windows.
const BAD_WINDOWS_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// First element of a module path: a lower-case LDH domain name.
fn first_path_ok(c: char) -> bool {
    c == '-' || c == '.' || c.is_ascii_digit() || c.is_ascii_lowercase()
}

/// ASCII letters, digits and `- . _ ~`: nothing that changes meaning in a URL.
fn mod_path_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

fn import_path_ok(c: char) -> bool {
    mod_path_ok(c) || c == '+'
}

/// File names allow more punctuation (not shell/Windows specials) and any
/// Unicode letter (general category L, as Go's `unicode.IsLetter`).
fn file_name_ok(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&()+,-.=@[]^_{}~ ".contains(c)
    } else {
        c.general_category_group() == GeneralCategoryGroup::Letter
    }
}

fn check_elem(elem: &str, kind: PathKind) -> Result<(), PathRule> {
    if elem.is_empty() {
        return Err(PathRule::EmptyElement);
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(PathRule::DotsOnlyElement(elem.to_string()));
    }
    if elem.starts_with('.') && kind == PathKind::Module {
        return Err(PathRule::LeadingDot);
    }
    if elem.ends_with('.') {
        return Err(PathRule::TrailingDot);
    }
    let ok = match kind {
        PathKind::Module => mod_path_ok,
        PathKind::Import => import_path_ok,
        PathKind::File => file_name_ok,
    };
    if let Some(c) = elem.chars().find(|&c| !ok(c)) {
        return Err(PathRule::InvalidChar(c));
    }
    let short = elem.split('.').next().unwrap_or(elem);
    if BAD_WINDOWS_NAMES
        .iter()
        .any(|bad| bad.eq_ignore_ascii_case(short))
    {
        return Err(PathRule::WindowsReservedName(short.to_string()));
    }
    // Windows short names (`PROGRA~1`) only matter for import paths: a file
    // name like that is harmless inside a module.
    if kind != PathKind::File {
        if let Some(tilde) = short.rfind('~') {
            let suffix = &short[tilde + 1..];
            if !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PathRule::WindowsShortName);
            }
        }
    }
    Ok(())
}

fn check_path_generic(path: &str, kind: PathKind) -> Result<(), PathRule> {
    if path.is_empty() {
        return Err(PathRule::Empty);
    }
    if path.starts_with('-') && kind != PathKind::File {
        return Err(PathRule::LeadingDash);
    }
    if path.contains("//") {
        return Err(PathRule::DoubleSlash);
    }
    if path.ends_with('/') {
        return Err(PathRule::TrailingSlash);
    }
    path.split('/').try_for_each(|elem| check_elem(elem, kind))
}

/// Checks a module path: a valid import path whose first element is a
/// lower-case domain name with a dot, no element starting with a dot, and a
/// well-formed major version suffix (`/vN`, N >= 2, no leading zero; gopkg.in
/// paths use `.vN`).
pub fn check_module_path(path: &str) -> Result<(), InvalidPath> {
    check_module_path_rule(path).map_err(|rule| InvalidPath {
        kind: PathKind::Module,
        path: path.to_string(),
        rule,
    })
}

fn check_module_path_rule(path: &str) -> Result<(), PathRule> {
    check_path_generic(path, PathKind::Module)?;
    let first = path.split('/').next().unwrap_or("");
    if first.is_empty() {
        return Err(PathRule::LeadingSlash);
    }
    if !first.contains('.') {
        return Err(PathRule::MissingDotInFirstElement);
    }
    if path.starts_with('-') {
        return Err(PathRule::LeadingDashInFirstElement);
    }
    if let Some(c) = first.chars().find(|&c| !first_path_ok(c)) {
        return Err(PathRule::InvalidCharInFirstElement(c));
    }
    if split_path_version(path).is_none() {
        return Err(PathRule::InvalidMajorSuffix);
    }
    Ok(())
}

/// Checks a package import path (module path rules without the domain and
/// major-suffix constraints, plus `+` allowed).
pub fn check_import_path(path: &str) -> Result<(), InvalidPath> {
    check_path_generic(path, PathKind::Import).map_err(|rule| InvalidPath {
        kind: PathKind::Import,
        path: path.to_string(),
        rule,
    })
}

/// Checks a slash-separated file path inside a module zip.
pub fn check_file_path(path: &str) -> Result<(), InvalidPath> {
    check_path_generic(path, PathKind::File).map_err(|rule| InvalidPath {
        kind: PathKind::File,
        path: path.to_string(),
        rule,
    })
}

/// Splits a module path into its prefix and major version suffix, so that
/// `prefix + suffix == path`. The suffix is empty or `/vN` (N >= 2); for
/// `gopkg.in/` paths it is `.vN` (any N, `.v0` included, optionally
/// `-unstable`).
///
/// Returns `None` when the last element looks like a suffix but is not a valid
/// one (`example.com/m/v1`, `example.com/m/v1.2`, `example.com/m/v02`).
pub fn split_path_version(path: &str) -> Option<(&str, &str)> {
    if path.starts_with("gopkg.in/") {
        return split_gopkg_in(path);
    }
    let b = path.as_bytes();
    let mut i = b.len();
    let mut dot = false;
    while i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
        dot |= b[i - 1] == b'.';
        i -= 1;
    }
    if i <= 1 || i == b.len() || b[i - 1] != b'v' || b[i - 2] != b'/' {
        return Some((path, ""));
    }
    let (prefix, major) = path.split_at(i - 2);
    if dot || major.len() <= 2 || major.as_bytes()[2] == b'0' || major == "/v1" {
        return None;
    }
    Some((prefix, major))
}

fn split_gopkg_in(path: &str) -> Option<(&str, &str)> {
    let b = path.as_bytes();
    let mut i = b.len();
    if path.ends_with("-unstable") {
        i -= "-unstable".len();
    }
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i <= 1 || b[i - 1] != b'v' || b[i - 2] != b'.' {
        // Every gopkg.in path ends in .vN.
        return None;
    }
    let (prefix, major) = path.split_at(i - 2);
    if major.len() <= 2 || (major.as_bytes()[2] == b'0' && major != ".v0") {
        return None;
    }
    Some((prefix, major))
}

/// Checks that `version` agrees with a path's major suffix (as returned by
/// [`split_path_version`]): no suffix admits v0, v1 and `+incompatible`
/// versions; `/vN` and `.vN` admit only major N.
pub fn check_path_major(version: &str, path_major: &str) -> Result<(), MajorMismatch> {
    let mut path_major = path_major;
    if path_major.starts_with(".v") {
        path_major = path_major.strip_suffix("-unstable").unwrap_or(path_major);
    }
    // An old go bug published v0.0.0- pseudo-versions for gopkg.in .v1 paths;
    // Go still accepts them, so do we.
    if version.starts_with("v0.0.0-") && path_major == ".v1" {
        return Ok(());
    }
    let actual = version::major(version).unwrap_or("");
    let expected = if path_major.is_empty() {
        if actual == "v0" || actual == "v1" || version::build(version) == Some("+incompatible") {
            return Ok(());
        }
        "v0 or v1"
    } else if path_major.starts_with('/') || path_major.starts_with('.') {
        if actual == &path_major[1..] {
            return Ok(());
        }
        &path_major[1..]
    } else {
        path_major
    };
    Err(MajorMismatch {
        version: version.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}

/// Reports whether `version` agrees with `path_major`.
pub fn match_path_major(version: &str, path_major: &str) -> bool {
    check_path_major(version, path_major).is_ok()
}

/// Escapes a module path for use in a URL or file path: every upper-case
/// letter becomes `!` + its lower-case form. Fails if the path is invalid.
pub fn escape_path(path: &str) -> Result<String, EscapeError> {
    check_module_path(path)?;
    Ok(escape_string(path))
}

/// Reverses [`escape_path`]; fails on a malformed encoding or when the result
/// is not a valid module path.
pub fn unescape_path(escaped: &str) -> Result<String, EscapeError> {
    let path =
        unescape_string(escaped).ok_or_else(|| EscapeError::BadEncoding(escaped.to_string()))?;
    check_module_path(&path).map_err(|source| EscapeError::DecodesToInvalidPath {
        escaped: escaped.to_string(),
        source,
    })?;
    Ok(path)
}

/// Escapes a version for use in a URL or file path (versions may hold
/// upper-case letters in prerelease/build parts, e.g. `v1.0.0-RC1`).
pub fn escape_version(version: &str) -> Result<String, EscapeError> {
    if check_elem(version, PathKind::File).is_err() || version.contains('!') {
        return Err(EscapeError::BadVersion(version.to_string()));
    }
    Ok(escape_string(version))
}

/// Reverses [`escape_version`].
pub fn unescape_version(escaped: &str) -> Result<String, EscapeError> {
    let v = unescape_string(escaped)
        .ok_or_else(|| EscapeError::BadEscapedVersion(escaped.to_string()))?;
    if check_elem(&v, PathKind::File).is_err() {
        return Err(EscapeError::BadEscapedVersion(escaped.to_string()));
    }
    Ok(v)
}

/// Callers guarantee ASCII without `!` (checked paths and versions).
fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape_string(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut bang = false;
    for c in escaped.chars() {
        if !c.is_ascii() {
            return None;
        }
        if bang {
            bang = false;
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
        } else if c == '!' {
            bang = true;
        } else if c.is_ascii_uppercase() {
            // An upper-case letter must have been escaped.
            return None;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(p: &str) -> PathRule {
        check_module_path(p).unwrap_err().rule
    }

    #[test]
    fn module_paths_accepted() {
        for p in [
            "example.com/m",
            "go.packages.dev.ameide.io/ameide-sdk-go",
            "github.com/Azure/azure-sdk-for-go",
            "example.com/m/v2",
            "example.com/m/v10",
            "example.com/a_b~c/x.y",
            "gopkg.in/yaml.v2",
            "gopkg.in/check.v1",
            "gopkg.in/x/y.v0",
            "gopkg.in/x.v3-unstable",
            "example.com",
        ] {
            check_module_path(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn module_paths_rejected_with_rule() {
        assert_eq!(rule(""), PathRule::Empty);
        assert_eq!(rule("-x.com/a"), PathRule::LeadingDash);
        assert_eq!(rule("x.com//a"), PathRule::DoubleSlash);
        assert_eq!(rule("x.com/a/"), PathRule::TrailingSlash);
        assert_eq!(rule("x.com/./a"), PathRule::DotsOnlyElement(".".into()));
        assert_eq!(rule("x.com/../a"), PathRule::DotsOnlyElement("..".into()));
        assert_eq!(rule("x.com/.a"), PathRule::LeadingDot);
        assert_eq!(rule("x.com/a."), PathRule::TrailingDot);
        assert_eq!(rule("x.com/a+b"), PathRule::InvalidChar('+'));
        assert_eq!(rule("x.com/a b"), PathRule::InvalidChar(' '));
        assert_eq!(rule("x.com/é"), PathRule::InvalidChar('é'));
        assert_eq!(rule("x.com/a@v1"), PathRule::InvalidChar('@'));
        assert_eq!(
            rule("x.com/con.go"),
            PathRule::WindowsReservedName("con".into())
        );
        assert_eq!(rule("x.com/progra~1"), PathRule::WindowsShortName);
        assert_eq!(rule("localhost/a"), PathRule::MissingDotInFirstElement);
        assert_eq!(
            rule("Example.com/a"),
            PathRule::InvalidCharInFirstElement('E')
        );
        assert_eq!(
            rule("ex_ample.com/a"),
            PathRule::InvalidCharInFirstElement('_')
        );
        assert_eq!(rule("x.com/m/v1"), PathRule::InvalidMajorSuffix);
        assert_eq!(rule("x.com/m/v0"), PathRule::InvalidMajorSuffix);
        assert_eq!(rule("x.com/m/v02"), PathRule::InvalidMajorSuffix);
        assert_eq!(rule("x.com/m/v2.1"), PathRule::InvalidMajorSuffix);
        assert_eq!(rule("gopkg.in/yaml"), PathRule::InvalidMajorSuffix);
        assert_eq!(rule("gopkg.in/yaml.v01"), PathRule::InvalidMajorSuffix);
    }

    #[test]
    fn error_message_names_path_and_rule() {
        let e = check_module_path("x.com/m/v1").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"malformed module path "x.com/m/v1": invalid version"#
        );
    }

    #[test]
    fn import_and_file_paths() {
        check_import_path("x.com/a/c++").unwrap();
        check_import_path("localhost/a").unwrap(); // no domain rule for imports
        assert!(check_import_path("x.com/a b").is_err());
        check_file_path("dir/My File (1).go").unwrap();
        check_file_path("-leading-dash.txt").unwrap();
        check_file_path(".gitignore").unwrap();
        check_file_path("données/été.txt").unwrap();
        check_file_path("x~1.go").unwrap(); // short-name rule is import-only
        for bad in [
            "a/../b", "./a", "a\\b", "a:b", "a*b", "a?b", "a\"b", "a'b", "a`b", "a|b", "a<b",
            "/abs", "a//b", "aux.txt", "a\u{301}", // combining mark is not a letter
            "x/NUL",
        ] {
            assert!(check_file_path(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn split_and_major() {
        assert_eq!(split_path_version("x.com/m"), Some(("x.com/m", "")));
        assert_eq!(split_path_version("x.com/m/v2"), Some(("x.com/m", "/v2")));
        assert_eq!(split_path_version("x.com/v2"), Some(("x.com", "/v2")));
        assert_eq!(split_path_version("x.com/m/v1"), None);
        assert_eq!(split_path_version("x.com/m/2"), Some(("x.com/m/2", "")));
        assert_eq!(
            split_path_version("gopkg.in/yaml.v2"),
            Some(("gopkg.in/yaml", ".v2"))
        );
        assert_eq!(
            split_path_version("gopkg.in/x.v3-unstable"),
            Some(("gopkg.in/x", ".v3-unstable"))
        );

        check_path_major("v1.2.3", "").unwrap();
        check_path_major("v0.0.0-20261127221005-0123456789ab", "").unwrap();
        check_path_major("v2.0.0+incompatible", "").unwrap();
        check_path_major("v2.1.0", "/v2").unwrap();
        check_path_major("v3.0.0", ".v3").unwrap();
        check_path_major("v3.0.0", ".v3-unstable").unwrap();
        check_path_major("v0.0.0-20161208181325-20d25e280405", ".v1").unwrap();
        let e = check_path_major("v2.0.0", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"version "v2.0.0" invalid: should be v0 or v1, not v2"#
        );
        let e = check_path_major("v1.0.0", "/v2").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"version "v1.0.0" invalid: should be v2, not v1"#
        );
        assert!(!match_path_major("v3.0.0", "/v2"));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape_path("github.com/GoogleCloudPlatform/cloudsql-proxy").unwrap(),
            "github.com/!google!cloud!platform/cloudsql-proxy"
        );
        assert_eq!(escape_path("x.com/plain").unwrap(), "x.com/plain");
        assert!(matches!(
            escape_path("x.com/a b"),
            Err(EscapeError::InvalidPath(_))
        ));
        assert_eq!(
            unescape_path("github.com/!azure/azure-sdk-for-go").unwrap(),
            "github.com/Azure/azure-sdk-for-go"
        );
        for bad in ["x.com/!", "x.com/!A", "x.com/Azure", "x.com/!1", "x.com/é"] {
            assert!(
                matches!(unescape_path(bad), Err(EscapeError::BadEncoding(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            unescape_path("!x.com/a"),
            Err(EscapeError::DecodesToInvalidPath { .. })
        ));
        assert_eq!(escape_version("v1.0.0-RC1").unwrap(), "v1.0.0-!r!c1");
        assert_eq!(unescape_version("v1.0.0-!r!c1").unwrap(), "v1.0.0-RC1");
        assert!(escape_version("v1!").is_err());
        assert!(escape_version("v1/x").is_err());
        assert!(unescape_version("v1.0.0-RC1").is_err());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn module_path() -> impl Strategy<Value = String> {
        let elem = "[A-Za-z0-9_~-]{0,6}[A-Za-z0-9]";
        (
            "[a-z0-9]{1,8}\\.[a-z]{2,5}",
            proptest::collection::vec(elem, 0..4),
        )
            .prop_map(|(host, elems)| {
                let mut p = host;
                for e in elems {
                    p.push('/');
                    p.push_str(&e);
                }
                p
            })
            .prop_filter("valid module path", |p| check_module_path(p).is_ok())
    }

    proptest! {
        #[test]
        fn escape_round_trips(path in module_path()) {
            let escaped = escape_path(&path).unwrap();
            prop_assert!(!escaped.bytes().any(|b| b.is_ascii_uppercase()));
            prop_assert_eq!(unescape_path(&escaped).unwrap(), path);
        }

        #[test]
        fn escape_is_injective_under_case_folding(path in module_path()) {
            // Two paths that differ only in case must escape differently,
            // which is the whole point of the encoding.
            let lower = path.to_ascii_lowercase();
            if lower != path {
                prop_assert_ne!(escape_path(&path).unwrap(), escape_path(&lower).unwrap());
            }
        }

        #[test]
        fn unescape_never_panics(s in "[!-~]{0,40}") {
            if let Ok(p) = unescape_path(&s) {
                prop_assert_eq!(escape_path(&p).unwrap(), s);
            }
        }

        #[test]
        fn version_escape_round_trips(v in "v[0-9]\\.[0-9]\\.[0-9](-[A-Za-z0-9]{1,8})?") {
            let e = escape_version(&v).unwrap();
            prop_assert_eq!(unescape_version(&e).unwrap(), v);
        }
    }
}
