//! `pkgrun.toml`: what to publish. Loading, validation and accessors.
//!
//! The file is found by walking up from the current directory ([`Config::discover`])
//! or given explicitly ([`Config::load`]). Unknown keys are errors. Validation reads
//! every package's manifest (see [`crate::manifest`]) and reports *all* problems in one
//! [`ConfigError::Invalid`]: bad `env_prefix`, missing package directories, missing
//! manifests, names that differ from the manifest's, duplicate state keys across
//! languages, unusable base versions, malformed smoke checks and upstream probes, and
//! dependency cycles between sibling packages.
//!
//! Relative paths (`state_dir`, each package's `path`) are relative to the directory
//! holding `pkgrun.toml`, which is the workspace root.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ecosystem::VersionInput;
use crate::lang::Lang;
use crate::manifest::{Manifest, ManifestError};
use crate::version::{self, Sha12, Timestamp};

/// The config file name searched for by [`Config::discover`].
pub const FILE_NAME: &str = "pkgrun.toml";
/// `state_dir` when the file does not set one.
pub const DEFAULT_STATE_DIR: &str = "tmp/tilt-packages";

/// Why `pkgrun.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no {FILE_NAME} found in {} or any parent directory", start.display())]
    NotFound { start: PathBuf },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid pkgrun.toml: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{} has {} problem{}:\n{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" }, bullet_list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

fn bullet_list(items: &[String]) -> String {
    items
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl crate::Hint for ConfigError {
    fn exit_status(&self) -> crate::ExitStatus {
        crate::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            ConfigError::NotFound { .. } => Some(format!(
                "create {FILE_NAME} at the workspace root (see the README's pkgrun.toml reference), or pass --config <path> or set PKGRUN_CONFIG"
            )),
            ConfigError::Parse { .. } => Some(
                "keys pkgrun does not know are errors; the README's pkgrun.toml reference lists every key".into(),
            ),
            ConfigError::Invalid { .. } => Some(
                "fix each problem listed above; `pkgrun config check` re-validates without touching anything".into(),
            ),
            ConfigError::Read { .. } => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    env_prefix: String,
    state_dir: Option<String>,
    go: Option<RawLang>,
    python: Option<RawLang>,
    ts: Option<RawLang>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLang {
    upstream_probe: Option<String>,
    configmap: Option<String>,
    #[serde(default)]
    packages: Vec<RawPackage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackage {
    name: String,
    path: String,
    state_key: Option<String>,
    /// Go only: the release or prerelease the snapshots follow (go.mod has no version).
    base_version: Option<String>,
    #[serde(default)]
    smoke: Vec<SmokeCheck>,
}

/// One consumer smoke check: `symbol` must exist in `import`.
///
/// go: `import` is an import path and `symbol` a func/var/const usable as `pkg.Symbol`;
/// python: a module and an attribute of it; ts: `"."` or a subpath export `"./x"` and
/// a named export.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheck {
    pub import: String,
    pub symbol: String,
}

/// A validated `pkgrun.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    root: PathBuf,
    env_prefix: String,
    state_dir: PathBuf,
    sections: Vec<LangSection>,
}

/// One language's section (`[go]`, `[python]`, `[ts]`).
#[derive(Debug, Clone)]
pub struct LangSection {
    pub lang: Lang,
    /// go `module@version`, python `name==version`, ts `name@version`.
    pub upstream_probe: Option<String>,
    /// Name of the ConfigMap that receives this language's state after a passed smoke
    /// (the `configmap` key); setting it enables the ConfigMap sink (see pkgrun-kube).
    pub configmap: Option<String>,
    /// Packages in the order the file lists them.
    pub packages: Vec<Package>,
    /// Indexes into `packages`, dependencies first.
    order: Vec<usize>,
}

/// One package to publish.
#[derive(Debug, Clone)]
pub struct Package {
    pub lang: Lang,
    /// As in the config (equal to the manifest's name).
    pub name: String,
    /// `path` as written in the config.
    pub path: String,
    /// Absolute directory of the package.
    pub dir: PathBuf,
    /// File stem of its state document; unique across all languages.
    pub state_key: String,
    pub smoke: Vec<SmokeCheck>,
    /// The package's manifest, read during validation.
    pub manifest: Manifest,
    /// Go's `base_version` from pkgrun.toml; for the other languages the manifest's.
    pub base_version: Option<String>,
}

impl Package {
    /// What this package's snapshot and release versions are made from.
    pub fn version_input(&self) -> VersionInput<'_> {
        VersionInput {
            package: &self.name,
            name: &self.manifest.name,
            base: self.base_version.as_deref(),
        }
    }

    /// The variable that overrides this package's version alone
    /// (see [`Lang::package_override_var`]).
    pub fn override_var(&self, env_prefix: &str) -> String {
        self.lang.package_override_var(env_prefix, &self.state_key)
    }
}

impl LangSection {
    /// Packages in publish order: every package after the siblings it depends on.
    pub fn publish_order(&self) -> Vec<&Package> {
        self.order.iter().map(|&i| &self.packages[i]).collect()
    }

    /// The packages of this section that `package` depends on (by manifest dependency
    /// name), in manifest order.
    pub fn siblings(&self, package: &Package) -> Vec<&Package> {
        sibling_indexes(self.lang, &self.packages, package)
            .into_iter()
            .map(|i| &self.packages[i])
            .collect()
    }
}

/// A Kubernetes object name (RFC 1123 subdomain), as ConfigMap names must be.
pub fn is_dns_subdomain(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|c| alnum(c) || c == '-' || c == '.')
}

fn same_name(lang: Lang, a: &str, b: &str) -> bool {
    lang.ecosystem().same_name(a, b)
}

fn sibling_indexes(lang: Lang, packages: &[Package], package: &Package) -> Vec<usize> {
    let mut out = Vec::new();
    for dep in &package.manifest.dependencies {
        if let Some(i) = packages
            .iter()
            .position(|p| p.state_key != package.state_key && same_name(lang, &p.name, &dep.name))
        {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// Depth-first topological order; `Err` names a cycle.
fn topo_order(lang: Lang, packages: &[Package]) -> Result<Vec<usize>, Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        lang: Lang,
        packages: &[Package],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..]
                    .iter()
                    .map(|&s| packages[s].name.clone())
                    .collect();
                cycle.push(packages[i].name.clone());
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        stack.push(i);
        for dep in sibling_indexes(lang, packages, &packages[i]) {
            visit(dep, lang, packages, marks, stack, out)?;
        }
        stack.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; packages.len()];
    let mut out = Vec::new();
    for i in 0..packages.len() {
        visit(i, lang, packages, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// Default state key: last segment of the name, without npm scope or Go `/vN`.
/// The package's name is set and its state key (given or derived) is a usable file name
/// not taken by another package of any language; returns the state key.
fn check_identity(
    lang: Lang,
    at: &str,
    raw: &RawPackage,
    keys: &mut HashMap<String, String>,
    problems: &mut Vec<String>,
) -> String {
    if raw.name.trim().is_empty() {
        problems.push(format!(
            "`{at}.name` is empty: set the package's {} name",
            lang.manifest_file()
        ));
    }
    let state_key = raw
        .state_key
        .clone()
        .unwrap_or_else(|| default_state_key(&raw.name));
    if !valid_state_key(&state_key) {
        problems.push(format!(
            "`{at}.state_key` {state_key:?} is not a usable file name: use letters, digits, `-`, `_`, `.` (not starting with `.`)"
        ));
    } else if let Some(other) = keys.insert(state_key.clone(), at.to_string()) {
        problems.push(format!(
            "`{at}` and `{other}` both use state key {state_key:?}: state keys must be unique across all languages; set `state_key` on one of them"
        ));
    }
    state_key
}

/// Every smoke check names an import and a symbol, and the import is one the
/// ecosystem can resolve.
fn check_smoke(lang: Lang, at: &str, smoke: &[SmokeCheck], problems: &mut Vec<String>) {
    for (j, check) in smoke.iter().enumerate() {
        if check.import.trim().is_empty() || check.symbol.trim().is_empty() {
            problems.push(format!(
                "`{at}.smoke[{j}]` needs a non-empty `import` and `symbol`"
            ));
        } else if let Err(rule) = lang.ecosystem().check_smoke_import(&check.import) {
            problems.push(format!(
                "`{at}.smoke[{j}].import` = {:?}: {rule}",
                check.import
            ));
        }
    }
}

/// The package directory under `root` and its manifest, or `None` (with the problem
/// recorded) when either is missing or unreadable.
fn read_manifest(
    lang: Lang,
    at: &str,
    root: &Path,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<(PathBuf, Manifest)> {
    let dir = root.join(path);
    if path.trim().is_empty() || !dir.is_dir() {
        problems.push(format!(
            "`{at}.path` = {path:?}: directory {} does not exist: create it or fix `path` (relative to {})",
            dir.display(),
            root.display()
        ));
        return None;
    }
    match Manifest::read(lang, &dir) {
        Ok(manifest) => Some((dir, manifest)),
        Err(ManifestError::Missing { file, .. }) => {
            problems.push(format!(
                "`{at}.path` = {path:?}: no {} at {}: a {lang} package needs one",
                lang.manifest_file(),
                file.display()
            ));
            None
        }
        Err(e) => {
            problems.push(format!("`{at}`: {e}"));
            None
        }
    }
}

pub fn default_state_key(name: &str) -> String {
    let mut segments: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > 1 {
        if let Some(last) = segments.last() {
            if crate::ecosystem::go::path_major(&format!("x/{last}")).is_some() {
                segments.pop();
            }
        }
    }
    segments.last().copied().unwrap_or(name).to_string()
}

fn valid_state_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn valid_env_prefix(prefix: &str) -> bool {
    let mut bytes = prefix.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z'))
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn check_probe(lang: Lang, probe: &str) -> Result<(), String> {
    let (sep, example) = lang.ecosystem().probe_syntax();
    // npm scoped names start with `@`, so split at the last separator.
    let ok = match probe.rsplit_once(sep) {
        Some((name, ver)) => {
            !name.is_empty()
                && !ver.is_empty()
                && !name.contains(char::is_whitespace)
                && !ver.contains(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{lang}.upstream_probe` = {probe:?} must be name{sep}version, e.g. {example:?}"
        ))
    }
}

impl Config {
    /// Finds `pkgrun.toml` in `start` or its nearest ancestor.
    pub fn find(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| candidate.is_file())
    }

    /// Finds and loads the nearest `pkgrun.toml` at or above `cwd`.
    pub fn discover(cwd: &Path) -> Result<Config, ConfigError> {
        match Self::find(cwd) {
            Some(path) => Self::load(&path),
            None => Err(ConfigError::NotFound {
                start: cwd.to_path_buf(),
            }),
        }
    }

    /// Loads and validates the config file at `path`: every language section, with
    /// every package's directory and manifest (what `pkgrun config check` needs).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_languages(path, &[])
    }

    /// Like [`Config::discover`], restricted as [`Config::load_languages`] is.
    pub fn discover_languages(cwd: &Path, langs: &[Lang]) -> Result<Config, ConfigError> {
        match Self::find(cwd) {
            Some(path) => Self::load_languages(&path, langs),
            None => Err(ConfigError::NotFound {
                start: cwd.to_path_buf(),
            }),
        }
    }

    /// Loads the config file at `path` for a command that acts on `langs` only (empty:
    /// every configured language). The whole file is parsed, but sections of other
    /// languages are neither validated nor kept: a runner image holds only its own
    /// language's package directories (issue 13), so `pkgrun run python` must not need
    /// the TypeScript packages to exist.
    pub fn load_languages(path: &Path, langs: &[Lang]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let raw: RawConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::validate(path, root, raw, langs)
    }

    fn validate(
        path: PathBuf,
        root: PathBuf,
        raw: RawConfig,
        langs: &[Lang],
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        if !valid_env_prefix(&raw.env_prefix) {
            problems.push(format!(
                "`env_prefix` = {:?} must match [A-Z][A-Z0-9_]* (it prefixes variables like AMEIDE_GO_SDK_VERSION), e.g. \"AMEIDE\"",
                raw.env_prefix
            ));
        }
        let state_dir_raw = raw.state_dir.as_deref().unwrap_or(DEFAULT_STATE_DIR);
        if state_dir_raw.trim().is_empty() {
            problems.push("`state_dir` is empty: remove it to use the default \"tmp/tilt-packages\" or name a directory".into());
        }
        let state_dir = root.join(state_dir_raw);

        let mut sections = Vec::new();
        let mut keys: HashMap<String, String> = HashMap::new();
        let raw_sections = [
            (Lang::Go, raw.go),
            (Lang::Python, raw.python),
            (Lang::Ts, raw.ts),
        ];
        if raw_sections.iter().all(|(_, s)| s.is_none()) {
            problems.push("no language section: add at least one of [go], [python], [ts] with [[<lang>.packages]]".into());
        }
        for (lang, section) in raw_sections {
            let Some(section) = section else { continue };
            if !langs.is_empty() && !langs.contains(&lang) {
                continue;
            }
            if let Some(probe) = &section.upstream_probe {
                if let Err(p) = check_probe(lang, probe) {
                    problems.push(p);
                }
            }
            if let Some(name) = &section.configmap {
                if !is_dns_subdomain(name) {
                    problems.push(format!("`{lang}.configmap` = {name:?} is not a Kubernetes object name: use lowercase letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit"));
                }
            }
            if section.packages.is_empty() {
                problems.push(format!("[{lang}] has no packages: add a [[{lang}.packages]] table with `name` and `path`, or remove [{lang}]"));
            }
            let mut packages = Vec::new();
            for (i, pkg) in section.packages.into_iter().enumerate() {
                let at = format!("{lang}.packages[{i}]");
                if let Some(p) = Self::package(lang, &at, &root, pkg, &mut keys, &mut problems) {
                    packages.push(p);
                }
            }
            let mut names: BTreeMap<String, usize> = BTreeMap::new();
            for p in &packages {
                let key = packages
                    .iter()
                    .find(|q| same_name(lang, &q.name, &p.name))
                    .map_or(p.name.clone(), |q| q.name.clone());
                *names.entry(key).or_default() += 1;
            }
            for (name, n) in names {
                if n > 1 {
                    problems.push(format!(
                        "[{lang}] lists package {name:?} {n} times: list each package once"
                    ));
                }
            }
            let order = match topo_order(lang, &packages) {
                Ok(order) => order,
                Err(cycle) => {
                    problems.push(format!(
                        "[{lang}] packages depend on each other in a cycle: {}; break the cycle, pkgrun publishes dependencies first",
                        cycle.join(" -> ")
                    ));
                    (0..packages.len()).collect()
                }
            };
            sections.push(LangSection {
                lang,
                upstream_probe: section.upstream_probe,
                configmap: section.configmap,
                packages,
                order,
            });
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid { path, problems });
        }
        Ok(Config {
            path,
            root,
            env_prefix: raw.env_prefix,
            state_dir,
            sections,
        })
    }

    fn package(
        lang: Lang,
        at: &str,
        root: &Path,
        raw: RawPackage,
        keys: &mut HashMap<String, String>,
        problems: &mut Vec<String>,
    ) -> Option<Package> {
        let before = problems.len();
        let state_key = check_identity(lang, at, &raw, keys, problems);
        check_smoke(lang, at, &raw.smoke, problems);
        let (dir, manifest) = read_manifest(lang, at, root, &raw.path, problems)?;
        if !same_name(lang, &manifest.name, &raw.name) {
            problems.push(format!(
                "`{at}.name` = {:?} but {} names the package {:?}: make them equal",
                raw.name,
                manifest.file.display(),
                manifest.name
            ));
        }
        let base_version = if lang.ecosystem().base_in_config() {
            raw.base_version
        } else {
            if raw.base_version.is_some() {
                problems.push(format!(
                    "`{at}.base_version` is only for go: a {lang} package's base version is the `version` in its {}",
                    lang.manifest_file()
                ));
            }
            manifest.base_version.clone()
        };
        let package = Package {
            lang,
            name: raw.name,
            path: raw.path,
            dir,
            state_key,
            smoke: raw.smoke,
            manifest,
            base_version,
        };
        // Catch an unusable base version now rather than in the middle of a publish.
        let probe_sha: Sha12 = "0123456789ab".parse().expect("valid sha");
        let probe_ts = Timestamp::from_unix(0).expect("1970 is in range");
        if let Err(e) = version::snapshot(lang, &package.version_input(), probe_ts, &probe_sha) {
            problems.push(format!("`{at}`: {e}"));
        }
        (problems.len() == before).then_some(package)
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The workspace root: the directory holding `pkgrun.toml`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `env_prefix`, e.g. `AMEIDE`.
    pub fn env_prefix(&self) -> &str {
        &self.env_prefix
    }

    /// The state directory, absolute.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The configured language sections, in `Lang::ALL` order.
    pub fn sections(&self) -> &[LangSection] {
        &self.sections
    }

    pub fn section(&self, lang: Lang) -> Option<&LangSection> {
        self.sections.iter().find(|s| s.lang == lang)
    }

    /// The configured languages, in `Lang::ALL` order.
    pub fn languages(&self) -> impl Iterator<Item = Lang> + '_ {
        self.sections.iter().map(|s| s.lang)
    }

    /// Every package of every language.
    pub fn packages(&self) -> impl Iterator<Item = &Package> {
        self.sections.iter().flat_map(|s| s.packages.iter())
    }

    /// `{env_prefix}_{LANG}_SDK_VERSION`.
    pub fn override_var(&self, lang: Lang) -> String {
        lang.override_var(&self.env_prefix)
    }
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ws(tempfile::TempDir);

    impl Ws {
        fn new() -> Self {
            Ws(tempfile::tempdir().unwrap())
        }
        fn file(&self, rel: &str, text: &str) -> &Self {
            let p = self.0.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
            self
        }
        fn load(&self) -> Result<Config, ConfigError> {
            Config::load(&self.0.path().join(FILE_NAME))
        }
    }

    fn valid_ws() -> Ws {
        let ws = Ws::new();
        ws.file("go/sdk/go.mod", "module example.com/sdk\n\nrequire example.com/tel v0.0.0\nreplace example.com/tel => ../tel\n")
            .file("go/tel/go.mod", "module example.com/tel\n")
            .file("py/sdk/pyproject.toml", "[project]\nname = \"acme-sdk\"\nversion = \"0.1.0\"\n")
            .file("ts/sdk/package.json", r#"{"name":"@acme/sdk","version":"0.1.0"}"#)
            .file(
                FILE_NAME,
                r#"env_prefix = "ACME"
[go]
upstream_probe = "github.com/google/uuid@v1.6.0"
[[go.packages]]
name = "example.com/sdk"
path = "go/sdk"
smoke = [ { import = "example.com/sdk", symbol = "New" } ]
[[go.packages]]
name = "example.com/tel"
path = "go/tel"
[[python.packages]]
name = "acme_sdk"
path = "py/sdk"
[ts]
[[ts.packages]]
name = "@acme/sdk"
path = "ts/sdk"
state_key = "acme-sdk-ts"
smoke = [ { import = "./x", symbol = "y" } ]
"#,
            );
        ws
    }

    #[test]
    fn loads_a_valid_config() {
        let ws = valid_ws();
        let c = ws.load().unwrap();
        assert_eq!(c.env_prefix(), "ACME");
        assert_eq!(c.state_dir(), ws.0.path().join("tmp/tilt-packages"));
        assert_eq!(c.languages().collect::<Vec<_>>(), Lang::ALL);
        let go = c.section(Lang::Go).unwrap();
        let order: Vec<_> = go
            .publish_order()
            .iter()
            .map(|p| p.state_key.as_str())
            .collect();
        assert_eq!(order, ["tel", "sdk"], "dependencies publish first");
        assert_eq!(go.siblings(&go.packages[0])[0].name, "example.com/tel");
        assert_eq!(
            c.section(Lang::Python).unwrap().packages[0].state_key,
            "acme_sdk"
        );
        assert_eq!(c.override_var(Lang::Ts), "ACME_TS_SDK_VERSION");
        assert_eq!(c.packages().count(), 4);
    }

    /// Issue 13: a runner image holds only its own language's packages.
    #[test]
    fn languages_not_requested_need_no_directories() {
        let ws = valid_ws();
        std::fs::remove_dir_all(ws.0.path().join("ts")).unwrap();
        std::fs::remove_dir_all(ws.0.path().join("go")).unwrap();
        let path = ws.0.path().join(FILE_NAME);
        let c = Config::load_languages(&path, &[Lang::Python]).unwrap();
        assert_eq!(c.languages().collect::<Vec<_>>(), [Lang::Python]);
        assert_eq!(c.packages().count(), 1);
        let deep = ws.0.path().join("py/sdk");
        let c = Config::discover_languages(&deep, &[Lang::Python]).unwrap();
        assert_eq!(c.languages().collect::<Vec<_>>(), [Lang::Python]);

        // The full load (config check, and no languages named) still needs them all.
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("`ts.packages[0].path`"), "{err}");
        assert!(err.contains("`go.packages[0].path`"), "{err}");
        let err = Config::load_languages(&path, &[Lang::Python, Lang::Ts])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`ts.packages[0].path`"), "{err}");
        assert!(!err.contains("go.packages"), "{err}");
    }

    #[test]
    fn discover_walks_up() {
        let ws = valid_ws();
        let deep = ws.0.path().join("go/sdk");
        let c = Config::discover(&deep).unwrap();
        assert_eq!(c.root(), ws.0.path());
        let err = Config::discover(Path::new("/")).unwrap_err();
        assert!(matches!(err, ConfigError::NotFound { .. }));
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let ws = Ws::new();
        ws.file(FILE_NAME, "env_prefix = \"A\"\n[go]\nupstream = 1\n");
        let err = ws.load().unwrap_err().to_string();
        assert!(err.contains("upstream"), "{err}");
        assert!(err.contains(FILE_NAME), "{err}");
    }

    #[test]
    fn all_problems_in_one_error() {
        let ws = Ws::new();
        ws.file("a/go.mod", "module example.com/other\n")
            .file("b/package.json", r#"{"name":"b","version":"1.0.0"}"#)
            .file(
                "c/pyproject.toml",
                "[project]\nname = \"c\"\ndynamic = [\"version\"]\n",
            )
            .file(
                FILE_NAME,
                r#"env_prefix = "lower"
[[go.packages]]
name = "example.com/a"
path = "a"
[[go.packages]]
name = "example.com/missing"
path = "nope"
[[ts.packages]]
name = "b"
path = "b"
state_key = "a"
[[ts.packages]]
name = "x"
path = "a"
[[python.packages]]
name = "c"
path = "c"
"#,
            );
        let err = ws.load().unwrap_err();
        let ConfigError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        let text = err.to_string();
        for needle in [
            "env_prefix",
            "go.packages[0].name",
            "go.packages[1].path",
            "state key \"a\"",
            "no package.json",
            "dynamic",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(problems.len(), 6, "{text}");
    }

    #[test]
    fn cycles_are_reported() {
        let ws = Ws::new();
        ws.file("a/package.json", r#"{"name":"a","version":"1.0.0","dependencies":{"b":"workspace:*"}}"#)
            .file("b/package.json", r#"{"name":"b","version":"1.0.0","dependencies":{"a":"workspace:*"}}"#)
            .file(FILE_NAME, "env_prefix = \"A\"\n[[ts.packages]]\nname = \"a\"\npath = \"a\"\n[[ts.packages]]\nname = \"b\"\npath = \"b\"\n");
        let err = ws.load().unwrap_err().to_string();
        assert!(err.contains("cycle: a -> b -> a"), "{err}");
    }

    #[test]
    fn default_state_keys() {
        assert_eq!(
            default_state_key("go.packages.dev.ameide.io/ameide-sdk-go"),
            "ameide-sdk-go"
        );
        assert_eq!(default_state_key("example.com/sdk/v2"), "sdk");
        assert_eq!(
            default_state_key("@ameideio/ameide-sdk-ts"),
            "ameide-sdk-ts"
        );
        assert_eq!(default_state_key("ameide-sdk"), "ameide-sdk");
    }

    #[test]
    fn bad_probe_and_ts_import() {
        let ws = Ws::new();
        ws.file("t/package.json", r#"{"name":"t","version":"1.0.0"}"#).file(
            FILE_NAME,
            "env_prefix = \"A\"\n[ts]\nupstream_probe = \"lodash\"\n[[ts.packages]]\nname = \"t\"\npath = \"t\"\nsmoke = [{ import = \"sub\", symbol = \"x\" }]\n",
        );
        let text = ws.load().unwrap_err().to_string();
        assert!(text.contains("ts.upstream_probe"), "{text}");
        assert!(text.contains("ts.packages[0].smoke[0].import"), "{text}");
    }

    #[test]
    fn configmap_key_is_a_kubernetes_name() {
        let ws = Ws::new();
        ws.file("t/package.json", r#"{"name":"t","version":"1.0.0"}"#).file(
            FILE_NAME,
            "env_prefix = \"A\"\n[ts]\nconfigmap = \"ts-packages-state\"\n[[ts.packages]]\nname = \"t\"\npath = \"t\"\n",
        );
        let config = ws.load().unwrap();
        assert_eq!(
            config.section(Lang::Ts).unwrap().configmap.as_deref(),
            Some("ts-packages-state")
        );
        ws.file(
            FILE_NAME,
            "env_prefix = \"A\"\n[ts]\nconfigmap = \"TS_State\"\n[[ts.packages]]\nname = \"t\"\npath = \"t\"\n",
        );
        let text = ws.load().unwrap_err().to_string();
        assert!(text.contains("ts.configmap"), "{text}");
        assert!(!is_dns_subdomain("-a") && !is_dns_subdomain("") && is_dns_subdomain("a.b-c"));
    }
}
