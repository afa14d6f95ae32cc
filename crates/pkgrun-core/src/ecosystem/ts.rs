//! TypeScript (npm): package.json, SemVer snapshots and releases, and the npm
//! registry's environment contract.
//!
//! | base in package.json | snapshot |
//! |---|---|
//! | release `1.2.0` | `1.2.0-dev.<ts>.<sha12>` (before 1.2.0) |
//! | prerelease `3.1.0-beta.2` | `3.1.0-beta.2.dev.<ts>.<sha12>` (after beta.2, before beta.3) |
//!
//! Why a `g` before an all-digit sha: SemVer prerelease identifiers made only of
//! digits are compared numerically and must not have leading zeros, so a sha like
//! `012345678901` would be invalid and `123456789012` would sort as a number. The
//! `g` makes it alphanumeric in exactly those cases; other shas contain a letter.

use super::{Ecosystem, EnvKind, EnvVar, ParsedManifest, VersionInput};
use crate::lang::Lang;
use crate::manifest::{Dependency, DependencySource};
use crate::version::{Sha12, Timestamp, VersionError};

/// The npm registry for publish and install.
pub const NPM_REGISTRY_URL: EnvVar = EnvVar::plain(
    "NPM_REGISTRY_URL",
    EnvKind::Url,
    "npm registry URL for publish and install",
);
/// The publish token.
pub const NPM_AUTH_TOKEN: EnvVar = EnvVar::plain(
    "NPM_AUTH_TOKEN",
    EnvKind::Secret,
    "npm auth token for publishing",
);

const ENV: [EnvVar; 2] = [NPM_REGISTRY_URL, NPM_AUTH_TOKEN];

/// The TypeScript ecosystem.
#[derive(Debug, Clone, Copy)]
pub struct Ts;

impl Ecosystem for Ts {
    fn lang(&self) -> Lang {
        Lang::Ts
    }
    fn name(&self) -> &'static str {
        "ts"
    }
    fn env_name(&self) -> &'static str {
        "TS"
    }
    fn manifest_file(&self) -> &'static str {
        "package.json"
    }
    fn env_vars(&self) -> &'static [EnvVar] {
        &ENV
    }
    fn registry_url_var(&self) -> EnvVar {
        NPM_REGISTRY_URL
    }
    fn parse_manifest(&self, text: &str) -> Result<ParsedManifest, String> {
        parse_package_json(text)
    }

    fn snapshot(
        &self,
        input: &VersionInput<'_>,
        at: Timestamp,
        sha: &Sha12,
    ) -> Result<String, VersionError> {
        let base = input.base.unwrap_or_default();
        let parsed = semver::Version::parse(base.trim())
            .map_err(|e| input.bad_base(format!("not a SemVer version ({e})")))?;
        if !parsed.build.is_empty() {
            return Err(input
                .bad_base("must not have +build metadata: npm ignores it when ordering versions"));
        }
        let sha_id = if sha.is_all_digits() {
            format!("g{sha}")
        } else {
            sha.to_string()
        };
        let candidate = if parsed.pre.is_empty() {
            format!("{parsed}-dev.{}.{sha_id}", at.compact())
        } else {
            format!("{parsed}.dev.{}.{sha_id}", at.compact())
        };
        semver::Version::parse(&candidate).map_err(|e| input.bad_snapshot(candidate.clone(), e))?;
        Ok(candidate)
    }

    fn check_release(&self, _input: &VersionInput<'_>, version: &str) -> Result<String, String> {
        semver::Version::parse(version)
            .map(|_| version.to_string())
            .map_err(|e| format!("not a SemVer version ({e})"))
    }

    fn release_hint(&self) -> &'static str {
        "use a SemVer version such as 1.4.0, or unset it to publish a snapshot"
    }

    fn probe_syntax(&self) -> (&'static str, &'static str) {
        ("@", "lodash@4.17.21")
    }

    fn check_smoke_import(&self, import: &str) -> Result<(), String> {
        if import == "." || import.starts_with("./") {
            Ok(())
        } else {
            Err("for ts use \".\" (the main entry) or a subpath export like \"./platform/organizations\"".into())
        }
    }
}

fn parse_package_json(text: &str) -> Result<ParsedManifest, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let name = doc
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or("`name` is missing")?
        .to_string();
    let version = doc
        .get("version")
        .and_then(|v| v.as_str())
        .ok_or("`version` is missing: set a base version such as \"0.1.0\"")?
        .to_string();
    let mut deps = Vec::new();
    if let Some(map) = doc.get("dependencies") {
        let map = map.as_object().ok_or("`dependencies` must be an object")?;
        for (dep, range) in map {
            let range = range
                .as_str()
                .ok_or_else(|| format!("dependency `{dep}` must have a string range"))?;
            let source = if range.starts_with("workspace:") {
                DependencySource::Workspace(range.to_string())
            } else if let Some(p) = range
                .strip_prefix("file:")
                .or_else(|| range.strip_prefix("link:"))
            {
                DependencySource::LocalPath(p.to_string())
            } else {
                DependencySource::Registry(range.to_string())
            };
            deps.push(Dependency {
                name: dep.clone(),
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

    fn snap(base: &str, sha: &str) -> Result<String, VersionError> {
        let input = VersionInput {
            package: "t",
            name: "t",
            base: Some(base),
        };
        let at = Timestamp::from_unix(1_795_817_405).unwrap();
        Ts.snapshot(&input, at, &sha.parse().unwrap())
    }

    #[test]
    fn snapshots_on_release_and_prerelease_bases() {
        assert_eq!(
            snap("0.1.0", "0123456789ab").unwrap(),
            "0.1.0-dev.20261127221005.0123456789ab"
        );
        assert_eq!(
            snap("0.1.0", "012345678901").unwrap(),
            "0.1.0-dev.20261127221005.g012345678901"
        );
        assert_eq!(
            snap("3.1.0-beta.2", "0123456789ab").unwrap(),
            "3.1.0-beta.2.dev.20261127221005.0123456789ab"
        );
        assert!(snap("1.0.0+build.1", "0123456789ab").is_err());
        assert!(snap("v1.0.0", "0123456789ab").is_err());
    }

    #[test]
    fn prerelease_snapshots_sort_between_neighbours() {
        let s: semver::Version = snap("3.1.0-beta.2", "0123456789ab")
            .unwrap()
            .parse()
            .unwrap();
        assert!("3.1.0-beta.2".parse::<semver::Version>().unwrap() < s);
        assert!(s < "3.1.0-beta.3".parse::<semver::Version>().unwrap());
    }

    #[test]
    fn package_json_workspace_ranges() {
        let m = parse_package_json(
            r#"{"name":"@s/sdk","version":"0.2.0","dependencies":{"@s/tel":"workspace:*","nanoid":"^5.0.0"}}"#,
        )
        .unwrap();
        assert_eq!(m.name, "@s/sdk");
        assert_eq!(m.base_version.as_deref(), Some("0.2.0"));
        let local: Vec<_> = m
            .dependencies
            .iter()
            .filter(|d| d.is_local())
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(local, ["@s/tel"]);
    }
}
