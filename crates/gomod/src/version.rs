//! Go's semantic versions: parsing, canonical form, ordering, pseudo-versions,
//! and the module-path/version agreement a registry must enforce.
//!
//! This mirrors `golang.org/x/mod/semver` (which differs from SemVer 2.0 in
//! requiring the `v` prefix and accepting the shorthands `v1` and `v1.2`) and
//! `module.Check`, `module.CanonicalVersion`, `module.IsPseudoVersion`.
//! Shorthands are valid but not canonical; a module version stored or served
//! must be canonical.

use std::cmp::Ordering;

use thiserror::Error;

use crate::path::{self, InvalidPath, MajorMismatch};

/// A version that cannot be used for a module.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VersionError {
    #[error(transparent)]
    InvalidModulePath(#[from] InvalidPath),
    #[error("{module}@{version}: invalid version: not a semantic version")]
    NotSemver { module: String, version: String },
    #[error("{module}@{version}: invalid version: not canonical (should be {canonical:?})")]
    NotCanonical {
        module: String,
        version: String,
        canonical: String,
    },
    #[error("{module}@{version}: invalid version: major version does not match the module path: {source}")]
    MajorMismatch {
        module: String,
        version: String,
        #[source]
        source: MajorMismatch,
    },
    #[error("{module}@{version}: invalid version: +incompatible suffix not allowed: {reason}")]
    Incompatible {
        module: String,
        version: String,
        reason: &'static str,
    },
}

/// The parts of a version, as slices of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    /// `.0.0`, `.0` or empty: what canonicalisation appends to a shorthand.
    short: &'static str,
    /// Including the leading `-`, or empty.
    prerelease: &'a str,
    /// Including the leading `+`, or empty.
    build: &'a str,
}

fn parse(v: &str) -> Option<Parsed<'_>> {
    let rest = v.strip_prefix('v')?;
    let (major, rest) = parse_int(rest)?;
    let mut p = Parsed {
        major,
        minor: "0",
        patch: "0",
        short: "",
        prerelease: "",
        build: "",
    };
    if rest.is_empty() {
        p.short = ".0.0";
        return Some(p);
    }
    let (minor, rest) = parse_int(rest.strip_prefix('.')?)?;
    p.minor = minor;
    if rest.is_empty() {
        p.short = ".0";
        return Some(p);
    }
    let (patch, mut rest) = parse_int(rest.strip_prefix('.')?)?;
    p.patch = patch;
    if rest.starts_with('-') {
        let end = rest.find('+').unwrap_or(rest.len());
        p.prerelease = &rest[..end];
        if !idents_ok(&p.prerelease[1..], true) {
            return None;
        }
        rest = &rest[end..];
    }
    if rest.starts_with('+') {
        p.build = rest;
        if !idents_ok(&rest[1..], false) {
            return None;
        }
        rest = "";
    }
    rest.is_empty().then_some(p)
}

/// A decimal without a leading zero, and the rest of the input.
fn parse_int(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (s.starts_with('0') && n != 1) {
        return None;
    }
    Some(s.split_at(n))
}

/// Dot-separated non-empty identifiers of `[0-9A-Za-z-]`; in a prerelease a
/// numeric identifier must not have a leading zero.
fn idents_ok(s: &str, prerelease: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(prerelease && is_num(id) && id.len() > 1 && id.starts_with('0'))
    })
}

fn is_num(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Reports whether `v` is a valid Go semantic version (`v1`, `v1.2`,
/// `v1.2.3-pre+build`).
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// The canonical form of `v`: shorthands expanded, build metadata dropped
/// (`v1.2` → `v1.2.0`, `v1.2.3+meta` → `v1.2.3`). `None` if invalid.
pub fn canonical(v: &str) -> Option<String> {
    let p = parse(v)?;
    Some(if !p.build.is_empty() {
        v[..v.len() - p.build.len()].to_string()
    } else {
        format!("{v}{}", p.short)
    })
}

/// Like [`canonical`], but keeps the `+incompatible` build suffix, which is
/// part of a module version's identity.
pub fn canonical_module_version(v: &str) -> Option<String> {
    let mut c = canonical(v)?;
    if build(v) == Some("+incompatible") {
        c.push_str("+incompatible");
    }
    Some(c)
}

/// The major version prefix (`v2` of `v2.1.0`), `None` if invalid.
pub fn major(v: &str) -> Option<&str> {
    let p = parse(v)?;
    Some(&v[..1 + p.major.len()])
}

/// The prerelease suffix including `-` (`-rc.1`); `Some("")` when there is
/// none; `None` if invalid.
pub fn prerelease(v: &str) -> Option<&str> {
    parse(v).map(|p| p.prerelease)
}

/// The build suffix including `+`; `Some("")` when there is none; `None` if
/// invalid.
pub fn build(v: &str) -> Option<&str> {
    parse(v).map(|p| p.build)
}

/// Semantic-version ordering. Build metadata is ignored; an invalid version
/// sorts before every valid one, and two invalid versions compare equal (as
/// Go's `semver.Compare`).
pub fn compare(v: &str, w: &str) -> Ordering {
    match (parse(v), parse(w)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => compare_int(a.major, b.major)
            .then_with(|| compare_int(a.minor, b.minor))
            .then_with(|| compare_int(a.patch, b.patch))
            .then_with(|| compare_prerelease(a.prerelease, b.prerelease)),
    }
}

fn compare_int(x: &str, y: &str) -> Ordering {
    // No leading zeros, so a longer number is a larger one.
    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
}

fn compare_prerelease(x: &str, y: &str) -> Ordering {
    if x == y {
        return Ordering::Equal;
    }
    // A release sorts after all of its prereleases.
    if x.is_empty() {
        return Ordering::Greater;
    }
    if y.is_empty() {
        return Ordering::Less;
    }
    let mut xs = x[1..].split('.');
    let mut ys = y[1..].split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                return match (is_num(a), is_num(b)) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (true, true) => compare_int(a, b),
                    (false, false) => a.cmp(b),
                }
            }
        }
    }
}

/// Sorts versions by [`compare`], ties broken by string order (Go's
/// `semver.Sort`), e.g. for a `/@v/list` answer.
pub fn sort(versions: &mut [String]) {
    versions.sort_by(|a, b| compare(a, b).then_with(|| a.cmp(b)));
}

/// Reports whether `v` is a pseudo-version (`vX.0.0-yyyymmddhhmmss-abcdef012345`,
/// `vX.Y.(Z+1)-0.yyyymmddhhmmss-rev`, `vX.Y.Z-pre.0.yyyymmddhhmmss-rev`, each
/// optionally with `+incompatible`).
pub fn is_pseudo_version(v: &str) -> bool {
    let Some(p) = parse(v) else {
        return false;
    };
    if v.matches('-').count() < 2 || !p.short.is_empty() {
        return false;
    }
    // Everything up to the build suffix must look like
    //   v\d+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+
    let core = &v[..v.len() - p.build.len()];
    let Some((head, rev)) = core.rsplit_once('-') else {
        return false;
    };
    if rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    if head.len() < 14 || !head.is_char_boundary(head.len() - 14) {
        return false;
    }
    let (base, timestamp) = head.split_at(head.len() - 14);
    if !is_num(timestamp) {
        return false;
    }
    // `base` is `vM.m.p-` plus (form 1) nothing with m.p == 0.0, or (forms
    // 2-5) `0.` optionally preceded by anything ending in `.`.
    let release = format!("v{}.{}.{}-", p.major, p.minor, p.patch);
    let Some(after) = base.strip_prefix(release.as_str()) else {
        return false;
    };
    (after.is_empty() && p.minor == "0" && p.patch == "0")
        || after == "0."
        || after.ends_with(".0.")
}

/// Checks that `version` may be published as a version of `module_path`: the
/// path is a valid module path, the version is canonical semver, its major
/// agrees with the path's suffix (`/vN` ⇒ `vN.*`; no suffix ⇒ v0/v1, or
/// vN+incompatible for N ≥ 2), and `+incompatible` appears only where Go
/// allows it. gopkg.in paths follow Go's `.vN` rules.
pub fn check_version_for_module(module_path: &str, version: &str) -> Result<(), VersionError> {
    path::check_module_path(module_path)?;
    let err_ctx = || (module_path.to_string(), version.to_string());
    let Some(canon) = canonical_module_version(version) else {
        let (module, version) = err_ctx();
        return Err(VersionError::NotSemver { module, version });
    };
    if canon != version {
        let (module, version) = err_ctx();
        return Err(VersionError::NotCanonical {
            module,
            version,
            canonical: canon,
        });
    }
    // check_module_path succeeded, so the split does too.
    let (_, path_major) = path::split_path_version(module_path).unwrap_or((module_path, ""));
    if let Err(source) = path::check_path_major(version, path_major) {
        let (module, version) = err_ctx();
        return Err(VersionError::MajorMismatch {
            module,
            version,
            source,
        });
    }
    if build(version) == Some("+incompatible") {
        let reason = if !path_major.is_empty() {
            Some("module path includes a major version suffix, so major version must match")
        } else if matches!(major(version), Some("v0" | "v1")) {
            Some("major version v0 and v1 are compatible")
        } else {
            None
        };
        if let Some(reason) = reason {
            let (module, version) = err_ctx();
            return Err(VersionError::Incompatible {
                module,
                version,
                reason,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_and_canonical() {
        for (v, c) in [
            ("v1", Some("v1.0.0")),
            ("v1.2", Some("v1.2.0")),
            ("v1.2.3", Some("v1.2.3")),
            ("v1.2.3-rc.1", Some("v1.2.3-rc.1")),
            ("v1.2.3+meta", Some("v1.2.3")),
            ("v1.2.3-pre+meta.1", Some("v1.2.3-pre")),
            ("v2.0.0+incompatible", Some("v2.0.0")),
            ("1.2.3", None),
            ("v01.2.3", None),
            ("v1.02.3", None),
            ("v1.2.3-01", None),
            ("v1.2.3-", None),
            ("v1.2.3-a..b", None),
            ("v1.2.3+", None),
            ("v1.2-pre", None),
            ("v1.2.3.4", None),
            ("v1.2.3-é", None),
            ("", None),
        ] {
            assert_eq!(canonical(v).as_deref(), c, "{v}");
            assert_eq!(is_valid(v), c.is_some(), "{v}");
        }
        assert_eq!(
            canonical_module_version("v2.0.0+incompatible").as_deref(),
            Some("v2.0.0+incompatible")
        );
        assert_eq!(major("v12.3.4"), Some("v12"));
        assert_eq!(prerelease("v1.2.3-rc.1+x"), Some("-rc.1"));
        assert_eq!(build("v1.2.3-rc.1+x"), Some("+x"));
        assert_eq!(prerelease("nope"), None);
    }

    #[test]
    fn ordering() {
        // Ascending, as in the SemVer spec's example plus Go's shorthands.
        let ordered = [
            "bad",
            "v1.0.0-alpha",
            "v1.0.0-alpha.1",
            "v1.0.0-alpha.beta",
            "v1.0.0-beta",
            "v1.0.0-beta.2",
            "v1.0.0-beta.11",
            "v1.0.0-rc.1",
            "v1.0.0",
            "v1.0.1",
            "v1.2.0",
            "v1.10.0",
            "v2.0.0-0.20261127221005-0123456789ab",
            "v2.0.0",
            "v10.0.0",
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(compare("v1.2", "v1.2.0"), Ordering::Equal);
        assert_eq!(compare("v1.2.0+a", "v1.2.0+b"), Ordering::Equal);
        assert_eq!(compare("x", "y"), Ordering::Equal);
        let mut list: Vec<String> = ["v1.10.0", "v1.2.0", "v1.2", "v0.1.0"]
            .map(String::from)
            .to_vec();
        sort(&mut list);
        assert_eq!(list, ["v0.1.0", "v1.2", "v1.2.0", "v1.10.0"]);
    }

    #[test]
    fn pseudo_versions() {
        for v in [
            "v0.0.0-20261127221005-0123456789ab",
            "v2.0.0-20261127221005-0123456789ab",
            "v1.2.4-0.20261127221005-0123456789ab",
            "v1.2.3-pre.0.20261127221005-0123456789ab",
            "v1.2.3-pre.0.20261127221005-0123456789ab+incompatible",
            "v2.0.0-20261127221005-0123456789ab+incompatible",
        ] {
            assert!(is_pseudo_version(v), "{v}");
        }
        for v in [
            "v1.2.3",
            "v1.2.3-pre",
            "v0.0.0-2026112722100-0123456789ab",  // 13-digit time
            "v1.2.4-20261127221005-0123456789ab", // form 1 needs .0.0
            "v1.2.4-1.20261127221005-0123456789ab",
            "v0.0.0-20261127221005-",
            "v0.0.0-20261127221005",
            "0.0.0-20261127221005-0123456789ab",
        ] {
            assert!(!is_pseudo_version(v), "{v}");
        }
    }

    #[test]
    fn version_for_module() {
        let ok = |m: &str, v: &str| {
            check_version_for_module(m, v).unwrap_or_else(|e| panic!("{m}@{v}: {e}"))
        };
        ok("x.com/m", "v0.0.0-20261127221005-0123456789ab");
        ok("x.com/m", "v1.2.3");
        ok("x.com/m/v2", "v2.0.0-20261127221005-0123456789ab");
        ok("x.com/m/v3", "v3.1.0-rc.1");
        ok("x.com/m", "v4.1.0+incompatible");
        ok("gopkg.in/yaml.v2", "v2.4.0");

        let err = |m: &str, v: &str| check_version_for_module(m, v).unwrap_err();
        assert!(matches!(
            err("x.com/m", "1.0.0"),
            VersionError::NotSemver { .. }
        ));
        assert!(matches!(
            err("x.com/m", "v1.0"),
            VersionError::NotCanonical { .. }
        ));
        assert!(matches!(
            err("x.com/m", "v1.0.0+meta"),
            VersionError::NotCanonical { .. }
        ));
        assert!(matches!(
            err("x.com/m", "v2.0.0"),
            VersionError::MajorMismatch { .. }
        ));
        assert!(matches!(
            err("x.com/m/v2", "v1.0.0"),
            VersionError::MajorMismatch { .. }
        ));
        assert!(matches!(
            err("x.com/m/v2", "v0.0.0-20261127221005-0123456789ab"),
            VersionError::MajorMismatch { .. }
        ));
        assert!(matches!(
            err("x.com/m/v2", "v2.0.0+incompatible"),
            VersionError::Incompatible { .. }
        ));
        assert!(matches!(
            err("x.com/m", "v1.0.0+incompatible"),
            VersionError::Incompatible { .. }
        ));
        assert!(matches!(
            err("x.com/m/v1", "v1.0.0"),
            VersionError::InvalidModulePath(_)
        ));
        assert!(matches!(
            err("gopkg.in/yaml.v2", "v3.0.0"),
            VersionError::MajorMismatch { .. }
        ));
        assert_eq!(
            err("x.com/m/v2", "v1.0.0").to_string(),
            "x.com/m/v2@v1.0.0: invalid version: major version does not match the module path: \
             version \"v1.0.0\" invalid: should be v2, not v1"
        );
        assert_eq!(
            err("x.com/m", "v1.0").to_string(),
            "x.com/m@v1.0: invalid version: not canonical (should be \"v1.0.0\")"
        );
    }
}
