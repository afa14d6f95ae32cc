//! Go: go.mod, pseudo-version snapshots, module-version rules and the Go registry's
//! environment contract. Every version and go.mod rule comes from the `gomod` crate
//! (pkgrun's port of `golang.org/x/mod`); this module only decides which of them
//! pkgrun applies.
//!
//! Snapshots are Go's own pseudo-versions, so `go` orders them as it orders any
//! untagged commit:
//!
//! | `base_version` in pkgrun.toml | snapshot |
//! |---|---|
//! | none | `vN.0.0-<ts>-<sha12>` (N from the module path's `/vN`, else 0) |
//! | release `vX.Y.Z` | `vX.Y.(Z+1)-0.<ts>-<sha12>` (after vX.Y.Z, before the next patch) |
//! | prerelease `vX.Y.Z-pre` | `vX.Y.Z-pre.0.<ts>-<sha12>` (after vX.Y.Z-pre) |

use gomod::modfile::{ModFile, ModFileError, ReplaceTarget};
use gomod::path::{check_path_major, split_path_version};
use gomod::version as semver;

use super::{Ecosystem, EnvKind, EnvVar, ParsedManifest, VersionInput};
use crate::lang::Lang;
use crate::manifest::{Dependency, DependencySource};
use crate::version::{Sha12, Timestamp, VersionError};

/// The Go registry: upload endpoint and `GOPROXY` base.
pub const GO_REGISTRY_URL: EnvVar = EnvVar::plain(
    "GO_REGISTRY_URL",
    EnvKind::Url,
    "Go module registry: upload endpoint and GOPROXY base",
);
/// Bearer token for uploads.
pub const GO_REGISTRY_TOKEN: EnvVar = EnvVar::plain(
    "GO_REGISTRY_TOKEN",
    EnvKind::Secret,
    "bearer token for uploads to the Go registry",
);
/// Private module prefixes, kept away from the public checksum database.
pub const GONOSUMDB: EnvVar = EnvVar::plain(
    "GONOSUMDB",
    EnvKind::ModulePrefixes,
    "private module path prefixes, comma-separated (not checked against the public checksum database); must cover every configured Go module",
);
/// Must not send the private modules around the registry.
pub const GOPRIVATE: EnvVar = EnvVar::plain(
    "GOPRIVATE",
    EnvKind::MustNotBypass(GONOSUMDB.name),
    "optional; must not cover the private prefixes (it would bypass the registry)",
);
/// Must not send the private modules around the registry.
pub const GONOPROXY: EnvVar = EnvVar::plain(
    "GONOPROXY",
    EnvKind::MustNotBypass(GONOSUMDB.name),
    "optional; must not cover the private prefixes (it would bypass the registry)",
);

const ENV: [EnvVar; 5] = [
    GO_REGISTRY_URL,
    GO_REGISTRY_TOKEN,
    GONOSUMDB,
    GOPRIVATE,
    GONOPROXY,
];

/// The Go ecosystem.
#[derive(Debug, Clone, Copy)]
pub struct Go;

/// The major version a module path requires: `Some(N)` for a `/vN` suffix (N ≥ 2) or
/// gopkg.in's `.vN`, `None` when the path has no (valid) suffix (v0 or v1).
pub fn path_major(module_path: &str) -> Option<u64> {
    let (_, major) = split_path_version(module_path)?;
    let digits = major
        .strip_prefix("/v")
        .or_else(|| major.strip_prefix(".v"))?
        .trim_end_matches("-unstable");
    digits.parse().ok()
}

/// The path's major suffix as `gomod` splits it (`/v2`, `.v3`, or empty).
fn path_suffix(module_path: &str) -> &str {
    split_path_version(module_path).map_or("", |(_, major)| major)
}

impl Go {
    fn check_base(&self, input: &VersionInput<'_>, base: &str) -> Result<(), VersionError> {
        if semver::canonical(base).as_deref() != Some(base) {
            return Err(input.bad_base(
                "not a canonical Go semantic version: write vMAJOR.MINOR.PATCH with an optional -prerelease, e.g. v1.4.0-beta.1",
            ));
        }
        if semver::is_pseudo_version(base) {
            return Err(input.bad_base(
                "is a pseudo-version: name the release or prerelease the snapshots follow",
            ));
        }
        check_path_major(base, path_suffix(input.name)).map_err(|e| {
            input.bad_base(format!(
                "{e}: the module path {} sets the major version",
                input.name
            ))
        })
    }
}

fn parse_go_mod(text: &str) -> Result<ParsedManifest, String> {
    let file = ModFile::parse(text).map_err(|e| match e {
        ModFileError::Syntax { line, message } => format!("line {line}: {message}"),
        other => other.to_string(),
    })?;
    let name = file
        .module_path()
        .filter(|m| !m.is_empty())
        .ok_or("no `module` line: the module path is the package name")?
        .to_string();
    let mut dependencies: Vec<Dependency> = file
        .requires()
        .into_iter()
        .map(|r| Dependency {
            name: r.path.clone(),
            source: DependencySource::Registry(r.version.clone()),
        })
        .collect();
    for replace in file.replaces() {
        let ReplaceTarget::Dir(dir) = &replace.new else {
            continue;
        };
        let local = DependencySource::LocalPath(dir.clone());
        match dependencies.iter_mut().find(|d| d.name == replace.old_path) {
            Some(d) => d.source = local,
            None => dependencies.push(Dependency {
                name: replace.old_path.clone(),
                source: local,
            }),
        }
    }
    Ok(ParsedManifest {
        name,
        base_version: None,
        dependencies,
    })
}

impl Ecosystem for Go {
    fn lang(&self) -> Lang {
        Lang::Go
    }
    fn name(&self) -> &'static str {
        "go"
    }
    fn env_name(&self) -> &'static str {
        "GO"
    }
    fn manifest_file(&self) -> &'static str {
        "go.mod"
    }
    fn env_vars(&self) -> &'static [EnvVar] {
        &ENV
    }
    fn registry_url_var(&self) -> EnvVar {
        GO_REGISTRY_URL
    }
    fn parse_manifest(&self, text: &str) -> Result<ParsedManifest, String> {
        parse_go_mod(text)
    }
    fn base_in_config(&self) -> bool {
        true
    }

    fn snapshot(
        &self,
        input: &VersionInput<'_>,
        at: Timestamp,
        sha: &Sha12,
    ) -> Result<String, VersionError> {
        let ts = at.compact();
        let candidate = match input.base.map(str::trim).filter(|b| !b.is_empty()) {
            None => format!("v{}.0.0-{ts}-{sha}", path_major(input.name).unwrap_or(0)),
            Some(base) => {
                self.check_base(input, base)?;
                let pre = semver::prerelease(base).unwrap_or_default();
                if pre.is_empty() {
                    let (major_minor, patch) = base.rsplit_once('.').expect("canonical");
                    let patch: u64 = patch.parse().map_err(|e| input.bad_base(format!("{e}")))?;
                    format!("{major_minor}.{}-0.{ts}-{sha}", patch + 1)
                } else {
                    format!("{base}.0.{ts}-{sha}")
                }
            }
        };
        if !semver::is_pseudo_version(&candidate)
            || check_path_major(&candidate, path_suffix(input.name)).is_err()
        {
            return Err(input.bad_snapshot(candidate, "not a Go pseudo-version for this module"));
        }
        Ok(candidate)
    }

    fn check_release(&self, input: &VersionInput<'_>, version: &str) -> Result<String, String> {
        if version.ends_with("+incompatible") {
            return Err(
                "+incompatible versions are not accepted: pkgrun publishes modules with a go.mod"
                    .into(),
            );
        }
        if semver::canonical(version).as_deref() != Some(version) {
            return Err(
                "not a canonical Go semantic version: write vMAJOR.MINOR.PATCH with an optional -prerelease, e.g. v1.4.0"
                    .into(),
            );
        }
        let major = semver::major(version).unwrap_or_default();
        match path_major(input.name) {
            Some(n) if major != format!("v{n}") => Err(format!(
                "module path ends in major version {n}, so the version must be v{n}.x.y"
            )),
            None if !matches!(major, "v0" | "v1") => Err(format!(
                "{major} needs the module path to end in /{major} (Go's major version suffix rule); use a v0 or v1 version or rename the module"
            )),
            _ => Ok(version.to_string()),
        }
    }

    fn release_depends_on_package(&self) -> bool {
        true
    }

    fn release_hint(&self) -> &'static str {
        "use a canonical Go version such as v1.4.0 that agrees with the module path's /vN suffix, or unset it to publish a snapshot"
    }

    fn probe_syntax(&self) -> (&'static str, &'static str) {
        ("@", "github.com/google/uuid@v1.6.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_unix(1_795_817_405).unwrap() // 2026-11-27T22:10:05Z
    }

    fn sha() -> Sha12 {
        "0123456789ab".parse().unwrap()
    }

    fn input<'a>(name: &'a str, base: Option<&'a str>) -> VersionInput<'a> {
        VersionInput {
            package: name,
            name,
            base,
        }
    }

    fn snap(name: &str, base: Option<&str>) -> Result<String, VersionError> {
        Go.snapshot(&input(name, base), at(), &sha())
    }

    #[test]
    fn snapshots_without_a_base() {
        assert_eq!(
            snap("go.packages.dev.ameide.io/ameide-sdk-go", None).unwrap(),
            "v0.0.0-20261127221005-0123456789ab"
        );
        assert_eq!(
            snap("example.com/m/v3", None).unwrap(),
            "v3.0.0-20261127221005-0123456789ab"
        );
        assert_eq!(
            snap("gopkg.in/yaml.v3", None).unwrap(),
            "v3.0.0-20261127221005-0123456789ab"
        );
    }

    #[test]
    fn snapshots_on_release_and_prerelease_bases() {
        assert_eq!(
            snap("example.com/m", Some("v1.4.0")).unwrap(),
            "v1.4.1-0.20261127221005-0123456789ab"
        );
        assert_eq!(
            snap("example.com/m/v2", Some("v2.1.0-beta.2")).unwrap(),
            "v2.1.0-beta.2.0.20261127221005-0123456789ab"
        );
        for (module, base) in [
            ("example.com/m", Some("v2.0.0")),
            ("example.com/m/v2", Some("v1.0.0")),
        ] {
            let err = snap(module, base).unwrap_err().to_string();
            assert!(
                err.contains("should be") && err.contains("major version"),
                "{err}"
            );
        }
        for bad in [
            "1.0.0",
            "v1.0",
            "v1.0.0+meta",
            "v0.0.0-20261127221005-0123456789ab",
        ] {
            assert!(snap("example.com/m", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn snapshots_order_between_base_and_next() {
        let s = snap("example.com/m", Some("v1.4.0-beta.2")).unwrap();
        assert_eq!(
            semver::compare("v1.4.0-beta.2", &s),
            std::cmp::Ordering::Less
        );
        assert_eq!(
            semver::compare(&s, "v1.4.0-beta.3"),
            std::cmp::Ordering::Less
        );
        let r = snap("example.com/m", Some("v1.4.0")).unwrap();
        assert_eq!(semver::compare("v1.4.0", &r), std::cmp::Ordering::Less);
        assert_eq!(semver::compare(&r, "v1.4.1"), std::cmp::Ordering::Less);
    }

    #[test]
    fn release_major_rules() {
        let m = input("example.com/m", None);
        assert!(Go.check_release(&m, "v1.4.0").is_ok());
        assert!(Go.check_release(&m, "v2.0.0").unwrap_err().contains("/v2"));
        let v3 = input("example.com/m/v3", None);
        assert!(Go.check_release(&v3, "v3.1.0").is_ok());
        assert!(Go.check_release(&v3, "v1.1.0").is_err());
        assert!(Go.check_release(&m, "v2.0.0+incompatible").is_err());
        assert!(Go.check_release(&m, "1.0.0").is_err());
        assert!(Go.check_release(&m, "v1.2.3-01").is_err());
        assert!(Go
            .check_release(&input("gopkg.in/yaml.v3", None), "v3.0.1")
            .is_ok());
    }

    #[test]
    fn go_mod_module_require_replace() {
        let m = parse_go_mod(
            "// comment\nmodule \"example.com/sdk\"\n\ngo 1.22\n\nrequire (\n\texample.com/telemetry v0.0.0 // indirect\n\tgithub.com/x/y v1.2.3\n)\nrequire example.com/z v1.0.0\n\nreplace example.com/telemetry => ../telemetry\nreplace (\n  github.com/x/y v1.2.3 => github.com/fork/y v1.2.4\n)\n",
        )
        .unwrap();
        assert_eq!(m.name, "example.com/sdk");
        let local: Vec<_> = m.dependencies.iter().filter(|d| d.is_local()).collect();
        assert_eq!(local.len(), 1);
        assert_eq!(
            local[0].source,
            DependencySource::LocalPath("../telemetry".into())
        );
        assert_eq!(m.dependencies.len(), 3);
        assert!(parse_go_mod("go 1.22\n").unwrap_err().contains("module"));
    }
}
