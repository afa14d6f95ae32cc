//! Snapshot versions and release overrides: the shared inputs (one [`Timestamp`] per
//! run, the [`Sha12`] of the source) and the dispatch to each ecosystem's rules.
//!
//! Snapshot formats (UTC timestamp `yyyymmddhhmmss`, 12-hex-char source sha):
//!
//! | lang | snapshot (release base) | snapshot (prerelease base) | rules in |
//! |---|---|---|---|
//! | go | `v0.0.0-<ts>-<sha12>` (`vN.0.0-…` for `/vN`; `vX.Y.(Z+1)-0.<ts>-<sha12>` with a `base_version`) | `vX.Y.Z-pre.0.<ts>-<sha12>` | [`crate::ecosystem::go`] (via `gomod`) |
//! | python | `<base>.dev<ts>+g<sha12>` | `0.4.0b2.dev<ts>+g<sha12>` | [`crate::ecosystem::python`] (`pep440_rs`) |
//! | ts | `<base>-dev.<ts>.<sha12>` | `3.1.0-beta.2.dev.<ts>.<sha12>` | [`crate::ecosystem::ts`] (`semver`) |
//!
//! Release overrides (`{PREFIX}_{LANG}_SDK_VERSION`, or per package
//! `{PREFIX}_{LANG}_SDK_VERSION_{KEY}`) are validated by the same ecosystem.

use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::ecosystem::VersionInput;
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

impl crate::Hint for VersionError {
    fn exit_status(&self) -> crate::ExitStatus {
        crate::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            VersionError::BadOverride { lang, .. } => {
                Some(lang.ecosystem().release_hint().to_string())
            }
            _ => None,
        }
    }
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

    /// From any instant, converted to UTC and truncated to the second.
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
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

/// Where a resolved version came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    Snapshot,
    /// A release override, from the named variable (the package's own or its language's).
    Override {
        variable: String,
    },
}

/// The snapshot version of a `lang` package.
pub fn snapshot(
    lang: Lang,
    input: &VersionInput<'_>,
    ts: Timestamp,
    sha: &Sha12,
) -> Result<String, VersionError> {
    lang.ecosystem().snapshot(input, ts, sha)
}

/// Validates a release override for a `lang` package and returns the version to
/// publish (Python's is normalised per PEP 440; the others are returned as given).
pub fn validate_override(
    lang: Lang,
    input: &VersionInput<'_>,
    version: &str,
) -> Result<String, VersionError> {
    lang.ecosystem()
        .check_release(input, version)
        .map_err(|problem| VersionError::BadOverride {
            lang,
            package: input.package.to_string(),
            version: version.to_string(),
            problem,
        })
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
    fn overrides_name_the_language_and_package() {
        let input = VersionInput {
            package: "p",
            name: "p",
            base: Some("0"),
        };
        assert_eq!(
            validate_override(Lang::Python, &input, "1.0-RC1").unwrap(),
            "1.0rc1"
        );
        let err = validate_override(Lang::Ts, &input, "v1.2.3").unwrap_err();
        assert!(
            matches!(err, VersionError::BadOverride { lang: Lang::Ts, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("for p"), "{err}");
    }
}
