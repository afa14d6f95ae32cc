//! The languages pkgrun publishes, and the names each one goes by in config,
//! environment variables and state files.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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

    /// The name used in `pkgrun.toml` sections, state documents, `<lang>-version`
    /// files and log scopes: `go`, `python`, `ts`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Go => "go",
            Lang::Python => "python",
            Lang::Ts => "ts",
        }
    }

    /// The name used inside environment variables: `GO`, `PYTHON`, `TS`
    /// (as in `{PREFIX}_GO_SDK_VERSION`).
    pub fn env_name(self) -> &'static str {
        match self {
            Lang::Go => "GO",
            Lang::Python => "PYTHON",
            Lang::Ts => "TS",
        }
    }

    /// The manifest file a package of this language must have at its path.
    pub fn manifest_file(self) -> &'static str {
        match self {
            Lang::Go => "go.mod",
            Lang::Python => "pyproject.toml",
            Lang::Ts => "package.json",
        }
    }

    /// The version override variable for this language: `{prefix}_{LANG}_SDK_VERSION`.
    pub fn override_var(self, env_prefix: &str) -> String {
        format!("{env_prefix}_{}_SDK_VERSION", self.env_name())
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
        match s {
            "go" => Ok(Lang::Go),
            "python" => Ok(Lang::Python),
            "ts" => Ok(Lang::Ts),
            other => Err(UnknownLang(other.to_string())),
        }
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
    }
}
