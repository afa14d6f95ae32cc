//! What a run would publish, decided before anything is touched: the source sha, one
//! timestamp for the whole run, and each package's version (snapshot or validated
//! override), plus the full environment preflight for a set of languages.
//!
//! Every problem (missing or malformed variables, no sha, invalid overrides) is
//! collected into one [`EnvError`], so a user fixes everything in one go.

use crate::config::Config;
use crate::ecosystem::go::GONOSUMDB;
use crate::env::{self, EnvError, EnvSource, Problems, Resolved};
use crate::git;
use crate::lang::Lang;
use crate::version::{self, Sha12, Timestamp, VersionSource};
use crate::Hint;

/// One package's version for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVersion {
    pub lang: Lang,
    pub package: String,
    pub state_key: String,
    pub version: String,
    pub source: VersionSource,
}

/// The versions of a run, packages in publish order per language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPlan {
    pub sha: Sha12,
    pub at: Timestamp,
    pub packages: Vec<PlannedVersion>,
}

impl VersionPlan {
    /// The planned version of a package by name and language.
    pub fn version_of(&self, lang: Lang, package: &str) -> Option<&str> {
        self.packages
            .iter()
            .find(|p| p.lang == lang && p.package == package)
            .map(|p| p.version.as_str())
    }
}

/// Everything a publish of `langs` needs from the environment, checked at once.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub env: Resolved,
    pub versions: VersionPlan,
}

/// The languages to act on: `requested`, or every configured one when empty.
/// Requesting a language that pkgrun.toml does not configure is a problem.
pub fn select_languages(config: &Config, requested: &[Lang]) -> Result<Vec<Lang>, String> {
    if requested.is_empty() {
        return Ok(config.languages().collect());
    }
    let missing: Vec<&str> = requested
        .iter()
        .filter(|l| config.section(**l).is_none())
        .map(|l| l.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} not configured in {}: add a [{}] section with packages or leave {} out",
            missing.join(", "),
            config.path().display(),
            missing[0],
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    let mut out = Vec::new();
    for l in Lang::ALL {
        if requested.contains(&l) {
            out.push(l);
        }
    }
    Ok(out)
}

/// A non-empty release override in `var`, with the variable's name.
fn release_override(source: &dyn EnvSource, var: &str) -> Option<(String, String)> {
    source
        .get(var)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(|v| (var.to_string(), v))
}

/// Resolves the sha and every package version of `langs`, collecting problems into
/// `problems`. A package's own override variable wins over its language's.
fn versions_into(
    config: &Config,
    langs: &[Lang],
    source: &dyn EnvSource,
    at: Timestamp,
    problems: &mut Problems,
) -> Option<VersionPlan> {
    let sha = match git::resolve_sha(config.root(), source) {
        Ok(sha) => Some(sha),
        Err(e) => {
            problems.push(
                git::SOURCE_GIT_SHA,
                e.to_string(),
                e.hint().unwrap_or_default(),
            );
            None
        }
    };
    let mut packages = Vec::new();
    for &lang in langs {
        let Some(section) = config.section(lang) else {
            continue;
        };
        let lang_var = config.override_var(lang);
        // Where a release version is valid or not regardless of the package (Python,
        // TypeScript), one problem per variable is enough.
        let mut reported = Vec::new();
        for pkg in section.publish_order() {
            let over = release_override(source, &pkg.override_var(config.env_prefix()))
                .or_else(|| release_override(source, &lang_var));
            let planned = match (over, &sha) {
                (Some((var, v)), _) => {
                    match version::validate_override(lang, &pkg.version_input(), &v) {
                        Ok(version) => Some((
                            version,
                            VersionSource::Override {
                                variable: var.clone(),
                            },
                        )),
                        Err(e) => {
                            let per_package = lang.ecosystem().release_depends_on_package();
                            if per_package || !reported.contains(&var) {
                                problems.push(&var, e.to_string(), lang.ecosystem().release_hint());
                                reported.push(var);
                            }
                            None
                        }
                    }
                }
                (None, Some(sha)) => match version::snapshot(lang, &pkg.version_input(), at, sha) {
                    Ok(version) => Some((version, VersionSource::Snapshot)),
                    Err(e) => {
                        problems.push(
                                pkg.manifest.file.display().to_string(),
                                e.to_string(),
                                "fix the base version in the manifest (go: `base_version` in pkgrun.toml)",
                            );
                        None
                    }
                },
                (None, None) => None,
            };
            if let Some((version, source)) = planned {
                packages.push(PlannedVersion {
                    lang,
                    package: pkg.name.clone(),
                    state_key: pkg.state_key.clone(),
                    version,
                    source,
                });
            }
        }
    }
    sha.map(|sha| VersionPlan { sha, at, packages })
}

/// The versions `langs` would be published with at `at`.
pub fn versions(
    config: &Config,
    langs: &[Lang],
    source: &dyn EnvSource,
    at: Timestamp,
) -> Result<VersionPlan, EnvError> {
    let mut problems = Problems::new();
    let plan = versions_into(config, langs, source, at, &mut problems);
    problems.into_result()?;
    Ok(plan.expect("no problems means a sha was resolved"))
}

/// The environment contract of `langs` (every required variable, see
/// [`env::requirements_for`]) checked against the configuration: the private Go
/// module prefixes in `GONOSUMDB` must cover every configured Go module, or consumers
/// would ask the public checksum database about private modules (and fail, or leak
/// their names).
pub fn environment(
    config: &Config,
    langs: &[Lang],
    source: &dyn EnvSource,
) -> Result<Resolved, EnvError> {
    let mut problems = Problems::new();
    let resolved = environment_into(config, langs, source, &mut problems);
    problems.into_result()?;
    Ok(resolved.expect("no problems"))
}

fn environment_into(
    config: &Config,
    langs: &[Lang],
    source: &dyn EnvSource,
    problems: &mut Problems,
) -> Option<Resolved> {
    let requirements: Vec<_> = langs
        .iter()
        .flat_map(|l| env::requirements_for(*l, config.env_prefix()))
        .collect();
    let resolved = match env::check(&requirements, source) {
        Ok(r) => r,
        Err(e) => {
            problems.extend(e);
            return None;
        }
    };
    if let (true, Some(prefixes)) = (langs.contains(&Lang::Go), resolved.prefixes(GONOSUMDB.name)) {
        let uncovered: Vec<&str> = config
            .section(Lang::Go)
            .map(|s| {
                s.packages
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|module| !prefixes.iter().any(|p| env::go_pattern_matches(p, module)))
            .collect();
        if !uncovered.is_empty() {
            problems.push(
                GONOSUMDB.name,
                format!(
                    "does not cover the configured Go module{} {}",
                    if uncovered.len() == 1 { "" } else { "s" },
                    uncovered.join(", ")
                ),
                "list the private module path prefixes, e.g. GONOSUMDB=go.example.internal",
            );
            return None;
        }
    }
    Some(resolved)
}

/// The full environment contract for publishing `langs`: [`environment`], the sha and
/// the overrides, all problems at once.
pub fn preflight(
    config: &Config,
    langs: &[Lang],
    source: &dyn EnvSource,
    at: Timestamp,
) -> Result<Preflight, EnvError> {
    let mut problems = Problems::new();
    let resolved = environment_into(config, langs, source, &mut problems);
    let plan = versions_into(config, langs, source, at, &mut problems);
    problems.into_result()?;
    Ok(Preflight {
        env: resolved.expect("no problems"),
        versions: plan.expect("no problems"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn workspace() -> (tempfile::TempDir, Config) {
        let d = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("g/go.mod", "module example.com/sdk/v2\n");
        w("t/package.json", r#"{"name":"@a/t","version":"1.2.0"}"#);
        w("pkgrun.toml", "env_prefix = \"ACME\"\n[[go.packages]]\nname = \"example.com/sdk/v2\"\npath = \"g\"\n[[ts.packages]]\nname = \"@a/t\"\npath = \"t\"\n");
        let c = Config::load(&d.path().join("pkgrun.toml")).unwrap();
        (d, c)
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at() -> Timestamp {
        Timestamp::from_unix(1_795_817_405).unwrap()
    }

    #[test]
    fn snapshots_and_overrides() {
        let (_d, c) = workspace();
        let e = env(&[
            ("SOURCE_GIT_SHA", "0123456789abcdef"),
            ("ACME_TS_SDK_VERSION", "1.3.0"),
        ]);
        let plan = versions(&c, &[Lang::Go, Lang::Ts], &e, at()).unwrap();
        assert_eq!(
            plan.version_of(Lang::Go, "example.com/sdk/v2"),
            Some("v2.0.0-20261127221005-0123456789ab")
        );
        assert_eq!(plan.version_of(Lang::Ts, "@a/t"), Some("1.3.0"));
        assert_eq!(
            plan.packages[1].source,
            VersionSource::Override {
                variable: "ACME_TS_SDK_VERSION".into()
            }
        );
    }

    #[test]
    fn a_package_override_wins_over_the_language_variable() {
        let d = tempfile::tempdir().unwrap();
        for (dir, module) in [("a", "example.com/a"), ("b", "example.com/b/v2")] {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            std::fs::write(
                d.path().join(dir).join("go.mod"),
                format!("module {module}\n"),
            )
            .unwrap();
        }
        std::fs::write(d.path().join("pkgrun.toml"), "env_prefix = \"ACME\"\n[[go.packages]]\nname = \"example.com/a\"\npath = \"a\"\n[[go.packages]]\nname = \"example.com/b/v2\"\npath = \"b\"\nstate_key = \"b-v2\"\n").unwrap();
        let c = Config::load(&d.path().join("pkgrun.toml")).unwrap();
        // One language variable cannot fit a v0 module and a /v2 module...
        let lang_only = env(&[
            ("SOURCE_GIT_SHA", "0123456789ab"),
            ("ACME_GO_SDK_VERSION", "v0.5.0"),
        ]);
        let err = versions(&c, &[Lang::Go], &lang_only, at()).unwrap_err();
        assert_eq!(err.variables(), ["ACME_GO_SDK_VERSION"]);
        // ...the /v2 module's own variable does.
        let both = env(&[
            ("SOURCE_GIT_SHA", "0123456789ab"),
            ("ACME_GO_SDK_VERSION", "v0.5.0"),
            ("ACME_GO_SDK_VERSION_B_V2", "v2.1.0"),
        ]);
        let plan = versions(&c, &[Lang::Go], &both, at()).unwrap();
        assert_eq!(plan.version_of(Lang::Go, "example.com/a"), Some("v0.5.0"));
        assert_eq!(
            plan.version_of(Lang::Go, "example.com/b/v2"),
            Some("v2.1.0")
        );
        // A bad package variable is reported under its own name.
        let bad = env(&[
            ("SOURCE_GIT_SHA", "0123456789ab"),
            ("ACME_GO_SDK_VERSION_B_V2", "v3.0.0"),
        ]);
        let err = versions(&c, &[Lang::Go], &bad, at()).unwrap_err();
        assert_eq!(err.variables(), ["ACME_GO_SDK_VERSION_B_V2"]);
        // Only the package variable set: the other package still gets a snapshot.
        let one = env(&[
            ("SOURCE_GIT_SHA", "0123456789ab"),
            ("ACME_GO_SDK_VERSION_B_V2", "v2.1.0"),
        ]);
        let plan = versions(&c, &[Lang::Go], &one, at()).unwrap();
        assert_eq!(
            plan.version_of(Lang::Go, "example.com/a"),
            Some("v0.0.0-20261127221005-0123456789ab")
        );
    }

    #[test]
    fn every_problem_at_once() {
        let (d, c) = workspace();
        let e = env(&[
            ("ACME_GO_SDK_VERSION", "v1.0.0"),
            ("ACME_TS_SDK_VERSION", "one"),
        ]);
        let err = preflight(&c, &[Lang::Go, Lang::Ts], &e, at()).unwrap_err();
        let mut vars = err.variables();
        // No .git in a temp dir unless the temp dir is inside a repository.
        if git::find_git_dir(d.path()).is_err() {
            assert!(vars.contains(&"SOURCE_GIT_SHA"));
        }
        vars.retain(|v| *v != "SOURCE_GIT_SHA");
        assert_eq!(
            vars,
            [
                "GO_REGISTRY_URL",
                "GO_REGISTRY_TOKEN",
                "GONOSUMDB",
                "NPM_REGISTRY_URL",
                "NPM_AUTH_TOKEN",
                "ACME_GO_SDK_VERSION",
                "ACME_TS_SDK_VERSION"
            ]
        );
    }

    #[test]
    fn gonosumdb_must_cover_every_configured_go_module() {
        let (_d, c) = workspace();
        let contract = |nosumdb: &str| {
            env(&[
                ("GO_REGISTRY_URL", "http://127.0.0.1:5000"),
                ("GO_REGISTRY_TOKEN", "t"),
                ("GONOSUMDB", nosumdb),
            ])
        };
        let err = environment(&c, &[Lang::Go], &contract("example.org/other")).unwrap_err();
        assert_eq!(err.variables(), ["GONOSUMDB"]);
        assert!(err.to_string().contains("example.com/sdk/v2"), "{err}");
        for covering in [
            "example.com",
            "example.com/sdk",
            "example.org,example.com/*",
        ] {
            assert!(
                environment(&c, &[Lang::Go], &contract(covering)).is_ok(),
                "{covering}"
            );
        }
        // Languages without Go modules are not affected.
        let ts_only = env(&[
            ("NPM_REGISTRY_URL", "http://127.0.0.1:4873"),
            ("NPM_AUTH_TOKEN", "t"),
        ]);
        assert!(environment(&c, &[Lang::Ts], &ts_only).is_ok());
    }

    #[test]
    fn one_problem_per_invalid_ts_override() {
        let d = tempfile::tempdir().unwrap();
        for name in ["a", "b"] {
            std::fs::create_dir_all(d.path().join(name)).unwrap();
            std::fs::write(
                d.path().join(name).join("package.json"),
                format!(r#"{{"name":"{name}","version":"1.0.0"}}"#),
            )
            .unwrap();
        }
        std::fs::write(d.path().join("pkgrun.toml"), "env_prefix = \"A\"\n[[ts.packages]]\nname = \"a\"\npath = \"a\"\n[[ts.packages]]\nname = \"b\"\npath = \"b\"\n").unwrap();
        let c = Config::load(&d.path().join("pkgrun.toml")).unwrap();
        let e = env(&[
            ("SOURCE_GIT_SHA", "0123456789ab"),
            ("A_TS_SDK_VERSION", "x"),
        ]);
        assert_eq!(
            versions(&c, &[Lang::Ts], &e, at()).unwrap_err().variables(),
            ["A_TS_SDK_VERSION"]
        );
    }

    #[test]
    fn selecting_unconfigured_languages() {
        let (_d, c) = workspace();
        assert_eq!(select_languages(&c, &[]).unwrap(), [Lang::Go, Lang::Ts]);
        assert_eq!(
            select_languages(&c, &[Lang::Ts, Lang::Go]).unwrap(),
            [Lang::Go, Lang::Ts]
        );
        assert!(select_languages(&c, &[Lang::Python])
            .unwrap_err()
            .contains("python"));
    }
}
