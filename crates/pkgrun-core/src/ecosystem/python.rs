//! Python: pyproject.toml, PEP 440 snapshots and releases, PEP 503 names and the
//! Python index's environment contract.
//!
//! A snapshot is `<base>.dev<ts>+g<sha12>` with the base normalised per PEP 440; a
//! prerelease base works the same way (`0.4.0b2` → `0.4.0b2.dev<ts>+g<sha12>`, a
//! development release of that beta). A base that already has a `.devN` or a local
//! `+part` is refused: pkgrun adds its own.

use std::str::FromStr;

use super::{Ecosystem, EnvKind, EnvVar, ParsedManifest, VersionInput};
use crate::lang::Lang;
use crate::manifest::{Dependency, DependencySource};
use crate::version::{Sha12, Timestamp, VersionError};

/// Upload URL of the index (`{PREFIX}_PYPI_REPOSITORY_URL`).
pub const PYPI_REPOSITORY_URL: EnvVar = EnvVar::prefixed(
    "PYPI_REPOSITORY_URL",
    EnvKind::Url,
    "upload URL of the Python index (devpi index URL)",
);
/// Upload user (`{PREFIX}_PYPI_USERNAME`).
pub const PYPI_USERNAME: EnvVar = EnvVar::prefixed(
    "PYPI_USERNAME",
    EnvKind::NonEmpty,
    "user name for uploads to the Python index",
);
/// Upload password (`{PREFIX}_PYPI_PASSWORD`).
pub const PYPI_PASSWORD: EnvVar = EnvVar::prefixed(
    "PYPI_PASSWORD",
    EnvKind::Secret,
    "password for uploads to the Python index",
);
/// The simple index consumers install from.
pub const PIP_INDEX_URL: EnvVar = EnvVar::plain(
    "PIP_INDEX_URL",
    EnvKind::Url,
    "simple index URL consumers install from (…/+simple/)",
);

const ENV: [EnvVar; 4] = [
    PYPI_REPOSITORY_URL,
    PYPI_USERNAME,
    PYPI_PASSWORD,
    PIP_INDEX_URL,
];

/// The Python ecosystem.
#[derive(Debug, Clone, Copy)]
pub struct Python;

impl Ecosystem for Python {
    fn lang(&self) -> Lang {
        Lang::Python
    }
    fn name(&self) -> &'static str {
        "python"
    }
    fn env_name(&self) -> &'static str {
        "PYTHON"
    }
    fn manifest_file(&self) -> &'static str {
        "pyproject.toml"
    }
    fn env_vars(&self) -> &'static [EnvVar] {
        &ENV
    }
    fn registry_url_var(&self) -> EnvVar {
        PYPI_REPOSITORY_URL
    }
    fn parse_manifest(&self, text: &str) -> Result<ParsedManifest, String> {
        parse_pyproject(text)
    }

    fn snapshot(
        &self,
        input: &VersionInput<'_>,
        at: Timestamp,
        sha: &Sha12,
    ) -> Result<String, VersionError> {
        let base = input.base.unwrap_or_default();
        let parsed = pep440_rs::Version::from_str(base.trim())
            .map_err(|e| input.bad_base(format!("not a PEP 440 version ({e})")))?;
        if parsed.is_dev() || parsed.is_local() {
            return Err(input.bad_base(
                "must not have a .devN or +local part: pkgrun adds its own (set a release version like 1.2.0)",
            ));
        }
        let candidate = format!("{parsed}.dev{}+g{sha}", at.compact());
        pep440_rs::Version::from_str(&candidate)
            .map(|v| v.to_string())
            .map_err(|e| input.bad_snapshot(candidate.clone(), e))
    }

    fn check_release(&self, _input: &VersionInput<'_>, version: &str) -> Result<String, String> {
        pep440_rs::Version::from_str(version)
            .map(|v| v.to_string())
            .map_err(|e| format!("not a PEP 440 version ({e})"))
    }

    fn release_hint(&self) -> &'static str {
        "use a PEP 440 version such as 1.4.0, or unset it to publish a snapshot"
    }

    fn probe_syntax(&self) -> (&'static str, &'static str) {
        ("==", "requests==2.32.3")
    }

    fn same_name(&self, a: &str, b: &str) -> bool {
        normalize_python_name(a) == normalize_python_name(b)
    }
}

/// The distribution name at the start of a PEP 508 requirement string.
fn pep508_name(req: &str) -> &str {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(req.len());
    &req[..end]
}

/// PEP 503 normalised name: lowercase, runs of `-_.` become `-`.
pub fn normalize_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn parse_pyproject(text: &str) -> Result<ParsedManifest, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    let project = doc
        .get("project")
        .and_then(|p| p.as_table())
        .ok_or("no [project] table")?;
    let name = project
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or("[project].name is missing")?
        .to_string();
    let dynamic = project
        .get("dynamic")
        .and_then(|d| d.as_array())
        .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
    if dynamic {
        return Err("[project].version is dynamic: pkgrun needs a static `version = \"X.Y.Z\"` in [project] to stamp snapshot versions".into());
    }
    let version = project
        .get("version")
        .and_then(|v| v.as_str())
        .ok_or("[project].version is missing: set a static version such as `version = \"0.1.0\"`")?
        .to_string();
    let sources = doc
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(|s| s.as_table());
    let mut deps = Vec::new();
    if let Some(list) = project.get("dependencies") {
        let list = list
            .as_array()
            .ok_or("[project].dependencies must be an array of strings")?;
        for item in list {
            let req = item
                .as_str()
                .ok_or("[project].dependencies must be an array of strings")?;
            let dep_name = pep508_name(req.trim()).to_string();
            let source = sources
                .and_then(|s| {
                    s.iter()
                        .find(|(k, _)| normalize_python_name(k) == normalize_python_name(&dep_name))
                })
                .and_then(|(_, v)| {
                    if let Some(p) = v.get("path").and_then(|p| p.as_str()) {
                        Some(DependencySource::LocalPath(p.to_string()))
                    } else if v.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
                        Some(DependencySource::Workspace("workspace".to_string()))
                    } else {
                        None
                    }
                })
                .unwrap_or_else(|| DependencySource::Registry(req.trim().to_string()));
            deps.push(Dependency {
                name: dep_name,
                source,
            });
        }
    }
    Ok(ParsedManifest {
        name,
        base_version: Some(version),
        dependencies: deps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(base: &str) -> Result<String, VersionError> {
        let input = VersionInput {
            package: "p",
            name: "p",
            base: Some(base),
        };
        let at = Timestamp::from_unix(1_795_817_405).unwrap();
        Python.snapshot(&input, at, &"0123456789ab".parse().unwrap())
    }

    #[test]
    fn snapshots_on_release_and_prerelease_bases() {
        assert_eq!(
            snap("0.1.0").unwrap(),
            "0.1.0.dev20261127221005+g0123456789ab"
        );
        assert_eq!(
            snap("0.4.0b2").unwrap(),
            "0.4.0b2.dev20261127221005+g0123456789ab"
        );
        // Normalised base (PEP 440): `1.0-RC1` is `1.0rc1`.
        assert_eq!(
            snap("1.0-RC1").unwrap(),
            "1.0rc1.dev20261127221005+g0123456789ab"
        );
        assert!(snap("1.0.dev3").unwrap_err().to_string().contains(".devN"));
        assert!(snap("1.0+local").is_err());
        assert!(snap("banana").is_err());
    }

    #[test]
    fn pyproject_static_version_and_sources() {
        let m = parse_pyproject(
            "[project]\nname = \"ameide-sdk\"\nversion = \"0.1.0\"\ndependencies = [\"ameide_telemetry>=0.1\", \"httpx[http2] ; python_version>'3'\"]\n[tool.uv.sources]\nameide-telemetry = { path = \"../telemetry\" }\n",
        )
        .unwrap();
        assert_eq!(m.name, "ameide-sdk");
        assert_eq!(m.base_version.as_deref(), Some("0.1.0"));
        assert_eq!(m.dependencies[0].name, "ameide_telemetry");
        assert_eq!(
            m.dependencies[0].source,
            DependencySource::LocalPath("../telemetry".into())
        );
        assert_eq!(m.dependencies[1].name, "httpx");
        assert!(!m.dependencies[1].is_local());
        let err =
            parse_pyproject("[project]\nname = \"x\"\ndynamic = [\"version\"]\n").unwrap_err();
        assert!(err.contains("dynamic") && err.contains("static"), "{err}");
    }

    #[test]
    fn python_name_normalisation() {
        assert_eq!(normalize_python_name("Ameide__SDK.x"), "ameide-sdk-x");
        assert!(Python.same_name("Ameide_SDK", "ameide-sdk"));
    }
}
