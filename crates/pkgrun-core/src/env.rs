//! The environment contract: *where* to publish and with which credentials.
//!
//! A command declares the variables it needs as [`Requirement`]s (for a language:
//! [`requirements_for`]), then calls [`check`] once, before touching anything. `check`
//! reports *every* missing or malformed variable in a single [`EnvError`], each with
//! what is wrong and a hint; values are never echoed for secrets.
//!
//! The lookup is injectable ([`EnvSource`]) so tests never mutate the process
//! environment; [`ProcessEnv`] reads the real one.

use std::collections::BTreeMap;
use std::fmt;

use crate::lang::Lang;
use crate::secret::{RedactedUrl, Secret};

/// A way to look up environment variables.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> EnvSource for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl EnvSource for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

impl EnvSource for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).cloned()
    }
}

/// What a variable must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An absolute http(s) URL (credentials in it are allowed and never printed).
    Url,
    /// Any non-empty text.
    NonEmpty,
    /// A non-empty secret (token, password); resolved as [`Secret`].
    Secret,
    /// A comma-separated list of Go module path prefixes (as `GONOSUMDB` takes).
    ModulePrefixes,
    /// Optional. When set, its Go module patterns must not match any prefix listed in
    /// the named variable: used for `GOPRIVATE`/`GONOPROXY`, which would otherwise
    /// send those private modules around the registry (straight to VCS).
    MustNotBypass(String),
}

/// One variable a command needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub kind: Kind,
    /// What the variable is for, shown in errors and `--help`.
    pub description: String,
}

impl Requirement {
    pub fn new(name: impl Into<String>, kind: Kind, description: impl Into<String>) -> Self {
        Requirement {
            name: name.into(),
            kind,
            description: description.into(),
        }
    }

    /// Whether a missing value is a problem.
    pub fn is_required(&self) -> bool {
        !matches!(self.kind, Kind::MustNotBypass(_))
    }
}

/// The variables a language's publish and smoke need, in contract order (declared as
/// constants in the language's [`crate::ecosystem`] module).
pub fn requirements_for(lang: Lang, prefix: &str) -> Vec<Requirement> {
    lang.ecosystem()
        .env_vars()
        .iter()
        .map(|var| var.requirement(prefix))
        .collect()
}

/// A resolved value.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Url(RedactedUrl),
    Secret(Secret),
    Prefixes(Vec<String>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(t) => write!(f, "{t:?}"),
            Value::Url(u) => write!(f, "{u}"),
            Value::Secret(s) => write!(f, "{s}"),
            Value::Prefixes(p) => write!(f, "{p:?}"),
        }
    }
}

/// The checked variables, by name. Debug output redacts secrets and URL credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    values: BTreeMap<String, Value>,
}

impl Resolved {
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A `NonEmpty` variable's text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn url(&self, name: &str) -> Option<&RedactedUrl> {
        match self.values.get(name)? {
            Value::Url(u) => Some(u),
            _ => None,
        }
    }

    pub fn secret(&self, name: &str) -> Option<&Secret> {
        match self.values.get(name)? {
            Value::Secret(s) => Some(s),
            _ => None,
        }
    }

    pub fn prefixes(&self, name: &str) -> Option<&[String]> {
        match self.values.get(name)? {
            Value::Prefixes(p) => Some(p),
            _ => None,
        }
    }

    /// Names of the resolved variables.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// One variable's problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable's name (or `SOURCE_GIT_SHA`-like pseudo names for derived inputs).
    pub variable: String,
    /// What is wrong, never containing a secret value.
    pub problem: String,
    /// How to fix it.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)?;
        if !self.hint.is_empty() {
            write!(f, "\n    fix: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Every problem found with the environment, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment is not usable; {} problem{}:\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, problem_list(problems))]
pub struct EnvError {
    pub problems: Vec<Problem>,
}

fn problem_list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl EnvError {
    /// The names of the offending variables.
    pub fn variables(&self) -> Vec<&str> {
        self.problems.iter().map(|p| p.variable.as_str()).collect()
    }
}

impl crate::Hint for EnvError {
    fn exit_status(&self) -> crate::ExitStatus {
        crate::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("set the variables listed above (see the README's environment contract); nothing was touched".into())
    }
}

/// Collects problems from several checks so a command can report them all at once.
#[derive(Debug, Clone, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        variable: impl Into<String>,
        problem: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.0.push(Problem {
            variable: variable.into(),
            problem: problem.into(),
            hint: hint.into(),
        });
    }

    pub fn extend(&mut self, err: EnvError) {
        self.0.extend(err.problems);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err` with every collected problem, or `Ok(())` if there are none.
    pub fn into_result(self) -> Result<(), EnvError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(EnvError { problems: self.0 })
        }
    }
}

/// Checks every requirement against `source`; `Err` lists all problems.
pub fn check(requirements: &[Requirement], source: &dyn EnvSource) -> Result<Resolved, EnvError> {
    let mut resolved = Resolved::default();
    let mut problems = Problems::new();
    let mut seen = Vec::new();
    for req in requirements {
        if seen.contains(&req.name.as_str()) {
            continue;
        }
        seen.push(req.name.as_str());
        let raw = source.get(&req.name);
        let value = raw.as_deref().map(str::trim).filter(|v| !v.is_empty());
        let Some(value) = value else {
            if req.is_required() {
                let state = if raw.is_some() {
                    "is set but empty"
                } else {
                    "is not set"
                };
                problems.push(
                    &req.name,
                    format!("{state}; needed: {}", req.description),
                    example_hint(&req.kind),
                );
            }
            continue;
        };
        match &req.kind {
            Kind::Url => match RedactedUrl::parse(value) {
                Ok(u) => {
                    resolved.values.insert(req.name.clone(), Value::Url(u));
                }
                Err(e) => problems.push(&req.name, e.to_string(), example_hint(&req.kind)),
            },
            Kind::NonEmpty => {
                resolved
                    .values
                    .insert(req.name.clone(), Value::Text(value.to_string()));
            }
            Kind::Secret => {
                // Not trimmed: a secret is used byte for byte.
                let raw = raw.unwrap_or_default();
                resolved
                    .values
                    .insert(req.name.clone(), Value::Secret(Secret::new(raw)));
            }
            Kind::ModulePrefixes => match parse_prefixes(value) {
                Ok(list) => {
                    resolved
                        .values
                        .insert(req.name.clone(), Value::Prefixes(list));
                }
                Err(e) => problems.push(&req.name, e, example_hint(&req.kind)),
            },
            Kind::MustNotBypass(other) => {
                let private = source
                    .get(other)
                    .map(|v| parse_prefixes(&v).unwrap_or_default())
                    .unwrap_or_default();
                let patterns: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                let hit: Vec<String> = private
                    .iter()
                    .filter(|prefix| patterns.iter().any(|pat| go_patterns_overlap(pat, prefix)))
                    .cloned()
                    .collect();
                if hit.is_empty() {
                    resolved
                        .values
                        .insert(req.name.clone(), Value::Text(value.to_string()));
                } else {
                    problems.push(
                        &req.name,
                        format!(
                            "{value:?} covers {} listed in {other}, so the go command would fetch {} directly from version control instead of through GO_REGISTRY_URL",
                            hit.join(", "),
                            if hit.len() == 1 { "it" } else { "them" }
                        ),
                        format!("unset {} or remove those prefixes from it; {other} alone keeps checksum lookups private", req.name),
                    );
                }
            }
        }
    }
    problems.into_result().map(|()| resolved)
}

fn example_hint(kind: &Kind) -> String {
    match kind {
        Kind::Url => "set an absolute http(s) URL, e.g. http://127.0.0.1:5000".into(),
        Kind::NonEmpty => "set a non-empty value".into(),
        Kind::Secret => "set it from your secret store; the value is never printed".into(),
        Kind::ModulePrefixes => {
            "set comma-separated module path prefixes, e.g. go.packages.dev.example.io".into()
        }
        Kind::MustNotBypass(_) => "unset it".into(),
    }
}

fn parse_prefixes(value: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        return Err("lists no module path prefix".into());
    }
    if let Some(bad) = list.iter().find(|p| {
        p.contains(char::is_whitespace)
            || p.contains("://")
            || p.starts_with('/')
            || p.contains('\\')
    }) {
        return Err(format!(
            "{bad:?} is not a module path prefix (no scheme, spaces or leading slash)"
        ));
    }
    Ok(list)
}

/// Whether a Go module path pattern (as in GOPRIVATE: glob per path element, matching
/// a prefix of the path) matches `path`.
pub fn go_pattern_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let elems: Vec<&str> = path.split('/').collect();
    if pat.len() > elems.len() {
        return false;
    }
    pat.iter()
        .zip(&elems)
        .all(|(p, e)| glob(p.as_bytes(), e.as_bytes()))
}

/// Whether a GOPRIVATE-style pattern covers some module under `prefix`: either it
/// matches the prefix itself or it names something below it.
pub fn go_patterns_overlap(pattern: &str, prefix: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let elems: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
    pat.iter()
        .zip(&elems)
        .all(|(p, e)| glob(p.as_bytes(), e.as_bytes()))
}

/// `*` and `?` glob within one path element (Go's path.Match without classes).
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_missing_variable_is_reported_once() {
        let reqs: Vec<_> = Lang::ALL
            .iter()
            .flat_map(|l| requirements_for(*l, "AMEIDE"))
            .collect();
        let err = check(&reqs, &env(&[("NPM_AUTH_TOKEN", "")])).unwrap_err();
        assert_eq!(
            err.variables(),
            [
                "GO_REGISTRY_URL",
                "GO_REGISTRY_TOKEN",
                "GONOSUMDB",
                "AMEIDE_PYPI_REPOSITORY_URL",
                "AMEIDE_PYPI_USERNAME",
                "AMEIDE_PYPI_PASSWORD",
                "PIP_INDEX_URL",
                "NPM_REGISTRY_URL",
                "NPM_AUTH_TOKEN",
            ]
        );
        let text = err.to_string();
        assert!(text.contains("NPM_AUTH_TOKEN: is set but empty"), "{text}");
        assert!(text.contains("9 problems"), "{text}");
    }

    #[test]
    fn resolves_and_redacts() {
        let source = env(&[
            ("NPM_REGISTRY_URL", "http://u:pw@127.0.0.1:4873/"),
            ("NPM_AUTH_TOKEN", "tok-secret"),
        ]);
        let r = check(&requirements_for(Lang::Ts, "X"), &source).unwrap();
        assert_eq!(r.secret("NPM_AUTH_TOKEN").unwrap().expose(), "tok-secret");
        assert_eq!(
            r.url("NPM_REGISTRY_URL").unwrap().expose().password(),
            Some("pw")
        );
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("tok-secret") && !shown.contains("pw@"),
            "{shown}"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        let source = env(&[
            ("GO_REGISTRY_URL", "ftp://x"),
            ("GO_REGISTRY_TOKEN", "t"),
            ("GONOSUMDB", "https://bad.example"),
        ]);
        let err = check(&requirements_for(Lang::Go, "X"), &source).unwrap_err();
        assert_eq!(err.variables(), ["GO_REGISTRY_URL", "GONOSUMDB"]);
    }

    #[test]
    fn goprivate_covering_private_prefixes_is_a_problem() {
        let source = env(&[
            ("GO_REGISTRY_URL", "http://127.0.0.1:5000"),
            ("GO_REGISTRY_TOKEN", "t"),
            ("GONOSUMDB", "go.packages.dev.ameide.io"),
            ("GOPRIVATE", "*.dev.ameide.io"),
            ("GONOPROXY", "github.com/other"),
        ]);
        let err = check(&requirements_for(Lang::Go, "X"), &source).unwrap_err();
        assert_eq!(err.variables(), ["GOPRIVATE"]);
        assert!(err.to_string().contains("go.packages.dev.ameide.io"));
    }

    #[test]
    fn go_patterns() {
        assert!(go_pattern_matches(
            "go.packages.dev.ameide.io",
            "go.packages.dev.ameide.io/sdk"
        ));
        assert!(go_pattern_matches("*.ameide.io", "go.ameide.io"));
        assert!(!go_pattern_matches("*.ameide.io", "ameide.io"));
        assert!(!go_pattern_matches("github.com/a/b", "github.com/a"));
        assert!(go_pattern_matches("github.com/*", "github.com/a"));
        assert!(go_patterns_overlap("go.ameide.io/sdk", "go.ameide.io"));
        assert!(!go_patterns_overlap("go.other.io", "go.ameide.io"));
    }

    #[test]
    fn problems_collect_across_checks() {
        let mut all = Problems::new();
        all.push("SOURCE_GIT_SHA", "not set and no .git", "set it");
        if let Err(e) = check(&requirements_for(Lang::Ts, "X"), &env(&[])) {
            all.extend(e);
        }
        let err = all.into_result().unwrap_err();
        assert_eq!(
            err.variables(),
            ["SOURCE_GIT_SHA", "NPM_REGISTRY_URL", "NPM_AUTH_TOKEN"]
        );
    }
}
