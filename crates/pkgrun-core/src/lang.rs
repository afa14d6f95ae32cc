//! The languages pkgrun publishes, and the names each one goes by in config,
//! environment variables and state files. Each variant's rules live in its
//! [`crate::ecosystem`] module, registered in [`Lang::ecosystem`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ecosystem::{self, Ecosystem};

/// A language section of `pkgrun.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Go,
    Python,
    Ts,
}

impl Lang {
    /// All languages, in the order pkgrun reports them.
    pub const ALL: [Lang; 3] = [Lang::Go, Lang::Python, Lang::Ts];

    /// The one place a language is tied to its rules: everything else asks its
    /// [`Ecosystem`] instead of matching on `Lang`.
    pub fn ecosystem(self) -> &'static dyn Ecosystem {
        match self {
            Lang::Go => &ecosystem::go::Go,
            Lang::Python => &ecosystem::python::Python,
            Lang::Ts => &ecosystem::ts::Ts,
        }
    }

    /// The name used in `pkgrun.toml` sections, state documents, `<lang>-version`
    /// files and log scopes: `go`, `python`, `ts`.
    pub fn as_str(self) -> &'static str {
        self.ecosystem().name()
    }

    /// The name used inside environment variables: `GO`, `PYTHON`, `TS`
    /// (as in `{PREFIX}_GO_SDK_VERSION`).
    pub fn env_name(self) -> &'static str {
        self.ecosystem().env_name()
    }

    /// The manifest file a package of this language must have at its path.
    pub fn manifest_file(self) -> &'static str {
        self.ecosystem().manifest_file()
    }

    /// The release override variable for this language: `{prefix}_{LANG}_SDK_VERSION`.
    pub fn override_var(self, env_prefix: &str) -> String {
        format!("{env_prefix}_{}_SDK_VERSION", self.env_name())
    }

    /// The release override variable for one package, which wins over
    /// [`Lang::override_var`]: `{prefix}_{LANG}_SDK_VERSION_{KEY}`, `KEY` being the
    /// package's state key in upper case with every other character than a letter or
    /// digit written `_` (state key `sdk-v2` → `…_SDK_VERSION_SDK_V2`).
    pub fn package_override_var(self, env_prefix: &str, state_key: &str) -> String {
        let key: String = state_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}_{key}", self.override_var(env_prefix))
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for [`Lang::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language `{0}`: expected one of go, python, ts")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLang(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for lang in Lang::ALL {
            assert_eq!(lang.as_str().parse::<Lang>().unwrap(), lang);
        }
        assert_eq!(Lang::Ts.env_name(), "TS");
        assert_eq!(
            Lang::Python.override_var("AMEIDE"),
            "AMEIDE_PYTHON_SDK_VERSION"
        );
        assert!("rust".parse::<Lang>().is_err());
        assert_eq!(
            Lang::Go.package_override_var("ACME", "sdk-v2.x"),
            "ACME_GO_SDK_VERSION_SDK_V2_X"
        );
    }
}
