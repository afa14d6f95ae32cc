//! Snapshot versions and release overrides for each ecosystem.
//!
//! Snapshot formats (UTC timestamp `yyyymmddhhmmss`, 12-hex-char source sha):
//!
//! | lang | snapshot | rules checked with |
//! |---|---|---|
//! | go | `v0.0.0-<ts>-<sha12>` (`vN.0.0-…` for a module path ending in `/vN`) | [`is_go_canonical`] (by hand) |
//! | python | `<base>.dev<ts>+g<sha12>` | `pep440_rs` |
//! | ts | `<base>-dev.<ts>.<sha12>`, `g<sha12>` when the sha is all digits | `semver` |
//!
//! Why the `g` for TypeScript: SemVer prerelease identifiers made only of digits are
//! compared numerically and must not have leading zeros, so a sha like `012345678901`
//! would be invalid, and `123456789012` would sort as a number. A `g` prefix makes
//! it alphanumeric in exactly those cases; other shas already contain a letter.
//!
//! Overrides (`{PREFIX}_{LANG}_SDK_VERSION`, for release promotion) are validated with
//! the same rules, plus Go's major-version suffix rule: a module path ending in `/vN`
//! (N ≥ 2) only takes `vN.x.y` versions, and a path without a suffix only `v0`/`v1`.
//! `+incompatible` versions are rejected: pkgrun publishes modules, which have a go.mod.

use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::lang::Lang;

/// Why a version could not be made or an override is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("base version `{version}` of {package}: {problem}")]
    BadBase {
        package: String,
        version: String,
        problem: String,
    },
    #[error("`{version}` is not a valid {lang} version for {package}: {problem}")]
    BadOverride {
        lang: Lang,
        package: String,
        version: String,
        problem: String,
    },
    #[error("snapshot `{version}` for {package} is invalid: {problem} (this is a bug)")]
    BadSnapshot {
        package: String,
        version: String,
        problem: String,
    },
    #[error("timestamp {0} is outside the years 1000..=9999")]
    TimestampRange(i64),
}

/// A UTC instant with whole-second precision, as used in versions and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Now, truncated to the second.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// From seconds since the Unix epoch; the year must have four digits so that
    /// [`Timestamp::compact`] is always 14 digits.
    pub fn from_unix(seconds: i64) -> Result<Self, VersionError> {
        let dt = OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|_| VersionError::TimestampRange(seconds))?;
        if !(1000..=9999).contains(&dt.year()) {
            return Err(VersionError::TimestampRange(seconds));
        }
        Ok(Self::from_datetime(dt))
    }

    fn from_datetime(dt: OffsetDateTime) -> Self {
        let dt = dt.to_offset(UtcOffset::UTC);
        Timestamp(dt.replace_nanosecond(0).expect("0 is a valid nanosecond"))
    }

    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// `yyyymmddhhmmss`, the form used inside versions.
    pub fn compact(self) -> String {
        let d = self.0;
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        )
    }

    /// RFC 3339 UTC with whole seconds and `Z`: `2026-11-27T22:10:05Z`.
    pub fn rfc3339(self) -> String {
        self.0
            .format(&Rfc3339)
            .expect("a UTC date with a four-digit year formats as RFC 3339")
    }

    /// Parses the RFC 3339 form (any offset; converted to UTC).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(Self::from_datetime)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// The first 12 lowercase hex characters of a commit id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha12(String);

/// Error for [`Sha12::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a commit sha: expected at least 12 hexadecimal characters")]
pub struct BadSha(pub String);

impl Sha12 {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether every character is a digit (needs the `g` prefix in SemVer).
    pub fn is_all_digits(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
    }
}

impl FromStr for Sha12 {
    type Err = BadSha;

    /// Accepts a full or abbreviated sha of at least 12 hex characters (any case)
    /// and keeps the first 12, lowercased.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.len() < 12 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadSha(s.to_string()));
        }
        Ok(Sha12(t[..12].to_ascii_lowercase()))
    }
}

impl fmt::Display for Sha12 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The input a snapshot version is made from, per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base<'a> {
    /// Go: the module path (its `/vN` suffix picks the major version).
    GoModule(&'a str),
    /// Python: `[project].version`.
    Python(&'a str),
    /// TypeScript: package.json `version`.
    Ts(&'a str),
}

/// Where a resolved version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSource {
    Snapshot,
    Override,
}

/// The major version a Go module path requires: `Some(N)` for a `/vN` suffix
/// (N ≥ 2) or gopkg.in's `.vN`, `None` when the path has no suffix (v0 or v1).
pub fn go_major_suffix(module_path: &str) -> Option<u64> {
    if let Some(rest) = module_path.strip_prefix("gopkg.in/") {
        let (_, n) = rest.rsplit_once(".v")?;
        return parse_decimal(n);
    }
    let (_, last) = module_path.rsplit_once('/')?;
    let n = parse_decimal(last.strip_prefix('v')?)?;
    (n >= 2).then_some(n)
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Go's snapshot (pseudo-)version for a module path.
pub fn go_snapshot(module_path: &str, ts: Timestamp, sha: &Sha12) -> String {
    let major = go_major_suffix(module_path).unwrap_or(0);
    format!("v{major}.0.0-{}-{sha}", ts.compact())
}

/// Python's snapshot version: `<base>.dev<ts>+g<sha12>`, `base` normalised per PEP 440.
pub fn python_snapshot(
    package: &str,
    base: &str,
    ts: Timestamp,
    sha: &Sha12,
) -> Result<String, VersionError> {
    let bad = |problem: &str| VersionError::BadBase {
        package: package.to_string(),
        version: base.to_string(),
        problem: problem.to_string(),
    };
    let parsed = pep440_rs::Version::from_str(base.trim())
        .map_err(|e| bad(&format!("not a PEP 440 version ({e})")))?;
    if parsed.is_dev() || parsed.is_local() {
        return Err(bad(
            "must not have a .devN or +local part: pkgrun adds its own (set a release version like 1.2.0)",
        ));
    }
    let candidate = format!("{parsed}.dev{}+g{sha}", ts.compact());
    let version =
        pep440_rs::Version::from_str(&candidate).map_err(|e| VersionError::BadSnapshot {
            package: package.to_string(),
            version: candidate.clone(),
            problem: e.to_string(),
        })?;
    Ok(version.to_string())
}

/// TypeScript's snapshot version: `<base>-dev.<ts>.<sha12>` (`g<sha12>` when all digits).
pub fn ts_snapshot(
    package: &str,
    base: &str,
    ts: Timestamp,
    sha: &Sha12,
) -> Result<String, VersionError> {
    let bad = |problem: String| VersionError::BadBase {
        package: package.to_string(),
        version: base.to_string(),
        problem,
    };
    let parsed = semver::Version::parse(base.trim())
        .map_err(|e| bad(format!("not a SemVer version ({e})")))?;
    if !parsed.pre.is_empty() || !parsed.build.is_empty() {
        return Err(bad(
            "must be a plain release MAJOR.MINOR.PATCH: pkgrun adds its own prerelease".into(),
        ));
    }
    let sha_id = if sha.is_all_digits() {
        format!("g{sha}")
    } else {
        sha.to_string()
    };
    let candidate = format!("{parsed}-dev.{}.{sha_id}", ts.compact());
    semver::Version::parse(&candidate).map_err(|e| VersionError::BadSnapshot {
        package: package.to_string(),
        version: candidate.clone(),
        problem: e.to_string(),
    })?;
    Ok(candidate)
}

/// The snapshot version for a package.
pub fn snapshot(
    package: &str,
    base: Base<'_>,
    ts: Timestamp,
    sha: &Sha12,
) -> Result<String, VersionError> {
    match base {
        Base::GoModule(module) => Ok(go_snapshot(module, ts, sha)),
        Base::Python(v) => python_snapshot(package, v, ts, sha),
        Base::Ts(v) => ts_snapshot(package, v, ts, sha),
    }
}

/// Validates an override for a package and returns the version to publish
/// (Python's is normalised per PEP 440; the others are returned as given).
pub fn validate_override(
    package: &str,
    base: Base<'_>,
    version: &str,
) -> Result<String, VersionError> {
    let (lang, result) = match base {
        Base::GoModule(module) => (Lang::Go, check_go_override(module, version)),
        Base::Python(_) => (
            Lang::Python,
            pep440_rs::Version::from_str(version)
                .map(|v| v.to_string())
                .map_err(|e| format!("not a PEP 440 version ({e})")),
        ),
        Base::Ts(_) => (
            Lang::Ts,
            semver::Version::parse(version)
                .map(|_| version.to_string())
                .map_err(|e| format!("not a SemVer version ({e})")),
        ),
    };
    result.map_err(|problem| VersionError::BadOverride {
        lang,
        package: package.to_string(),
        version: version.to_string(),
        problem,
    })
}

fn check_go_override(module: &str, version: &str) -> Result<String, String> {
    if version.ends_with("+incompatible") {
        return Err(
            "+incompatible versions are not accepted: pkgrun publishes modules with a go.mod"
                .into(),
        );
    }
    if !is_go_canonical(version) {
        return Err(
            "not a canonical Go semantic version: write vMAJOR.MINOR.PATCH with an optional -prerelease, e.g. v1.4.0"
                .into(),
        );
    }
    let major = go_version_major(version).expect("canonical versions have a major");
    match go_major_suffix(module) {
        Some(n) if n != major => Err(format!(
            "module path ends in major version {n}, so the version must be v{n}.x.y"
        )),
        None if major >= 2 => Err(format!(
            "v{major} needs the module path to end in /v{major} (Go's major version suffix rule); use a v0 or v1 version or rename the module"
        )),
        _ => Ok(version.to_string()),
    }
}

/// The major number of a Go version string like `v3.1.0`.
pub fn go_version_major(version: &str) -> Option<u64> {
    let rest = version.strip_prefix('v')?;
    let major = rest.split(['.', '-', '+']).next()?;
    parse_decimal(major)
}

/// Whether `v` is a canonical Go semantic version: `vMAJOR.MINOR.PATCH`, optional
/// `-prerelease`, optional build metadata only as `+incompatible`, numbers without
/// leading zeros (this is what `semver.Canonical(v) == v` means in Go).
pub fn is_go_canonical(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    if let Some(b) = build {
        if b != "incompatible" {
            return false;
        }
    }
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 || nums.iter().any(|n| parse_decimal(n).is_none()) {
        return false;
    }
    if let Some(pre) = pre {
        for ident in pre.split('.') {
            if ident.is_empty()
                || !ident
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return false;
            }
            if ident.bytes().all(|b| b.is_ascii_digit())
                && ident.len() > 1
                && ident.starts_with('0')
            {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> Timestamp {
        // 2026-11-27T22:10:05Z
        Timestamp::from_unix(1_795_817_405).unwrap()
    }

    fn sha(s: &str) -> Sha12 {
        s.parse().unwrap()
    }

    #[test]
    fn timestamp_forms() {
        assert_eq!(ts().rfc3339(), "2026-11-27T22:10:05Z");
        assert_eq!(ts().compact(), "20261127221005");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-27T23:10:05+01:00"),
            Some(ts())
        );
        assert!(Timestamp::from_unix(-70_000_000_000).is_err());
    }

    #[test]
    fn sha_parsing() {
        assert_eq!(sha("0123456789ABCDEF0123").as_str(), "0123456789ab");
        assert!("0123456789a".parse::<Sha12>().is_err());
        assert!("0123456789ag".parse::<Sha12>().is_err());
    }

    #[test]
    fn go_snapshots() {
        let s = sha("0123456789ab");
        assert_eq!(
            go_snapshot("go.packages.dev.ameide.io/ameide-sdk-go", ts(), &s),
            "v0.0.0-20261127221005-0123456789ab"
        );
        assert_eq!(
            go_snapshot("example.com/m/v3", ts(), &s),
            "v3.0.0-20261127221005-0123456789ab"
        );
        assert!(is_go_canonical(&go_snapshot("example.com/m/v3", ts(), &s)));
    }

    #[test]
    fn python_snapshots() {
        let s = sha("0123456789ab");
        assert_eq!(
            python_snapshot("p", "0.1.0", ts(), &s).unwrap(),
            "0.1.0.dev20261127221005+g0123456789ab"
        );
        // Normalised base (PEP 440): `1.0-RC1` is `1.0rc1`.
        assert_eq!(
            python_snapshot("p", "1.0-RC1", ts(), &s).unwrap(),
            "1.0rc1.dev20261127221005+g0123456789ab"
        );
        let err = python_snapshot("p", "1.0.dev3", ts(), &s).unwrap_err();
        assert!(err.to_string().contains(".devN"), "{err}");
        assert!(python_snapshot("p", "banana", ts(), &s).is_err());
    }

    #[test]
    fn ts_snapshots_and_all_digit_sha() {
        assert_eq!(
            ts_snapshot("t", "0.1.0", ts(), &sha("0123456789ab")).unwrap(),
            "0.1.0-dev.20261127221005.0123456789ab"
        );
        assert_eq!(
            ts_snapshot("t", "0.1.0", ts(), &sha("012345678901")).unwrap(),
            "0.1.0-dev.20261127221005.g012345678901"
        );
        assert!(ts_snapshot("t", "1.0.0-beta.1", ts(), &sha("0123456789ab")).is_err());
    }

    #[test]
    fn go_canonical_checker() {
        for ok in [
            "v0.0.0",
            "v1.2.3",
            "v1.2.3-pre.1",
            "v2.0.0-20261127221005-0123456789ab",
            "v1.0.0-0a",
        ] {
            assert!(is_go_canonical(ok), "{ok}");
        }
        for bad in [
            "1.2.3",
            "v1.2",
            "v01.2.3",
            "v1.2.3-01",
            "v1.2.3+meta",
            "v1.2.3-",
            "v1.2.3-a..b",
            "vx.1.2",
        ] {
            assert!(!is_go_canonical(bad), "{bad}");
        }
    }

    #[test]
    fn go_override_major_rules() {
        let base = Base::GoModule("example.com/m");
        assert!(validate_override("m", base, "v1.4.0").is_ok());
        let err = validate_override("m", base, "v2.0.0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/v2"), "{err}");
        let v3 = Base::GoModule("example.com/m/v3");
        assert!(validate_override("m", v3, "v3.1.0").is_ok());
        assert!(validate_override("m", v3, "v1.1.0").is_err());
        assert!(validate_override("m", base, "v2.0.0+incompatible").is_err());
        assert!(validate_override("m", base, "1.0.0").is_err());
        assert!(validate_override("y", Base::GoModule("gopkg.in/yaml.v3"), "v3.0.1").is_ok());
    }

    #[test]
    fn python_and_ts_overrides() {
        assert_eq!(
            validate_override("p", Base::Python("0"), "1.0-RC1").unwrap(),
            "1.0rc1"
        );
        assert!(validate_override("p", Base::Python("0"), "one").is_err());
        assert!(validate_override("t", Base::Ts("0.0.0"), "1.2.3-rc.1").is_ok());
        assert!(validate_override("t", Base::Ts("0.0.0"), "v1.2.3").is_err());
    }

    #[test]
    fn major_suffix() {
        assert_eq!(go_major_suffix("example.com/m"), None);
        assert_eq!(go_major_suffix("example.com/m/v2"), Some(2));
        assert_eq!(go_major_suffix("example.com/m/v1"), None);
        assert_eq!(go_major_suffix("example.com/m/v02"), None);
        assert_eq!(go_major_suffix("gopkg.in/yaml.v3"), Some(3));
    }
}
