//! Reading what pkgrun needs from a package's own manifest: its name, its base
//! version and its dependencies (and which of them point at sibling directories).
//!
//! * Go `go.mod`: the `module` line, `require` and `replace` directives (single-line
//!   and block forms). A `replace X => ../dir` (a local path) marks `X` as local.
//!   Go has no base version in go.mod: the major version comes from the module path.
//!   This is a small, honest reader of those three directives, not a go.mod editor.
//! * Python `pyproject.toml`: `[project].name`, `[project].version` (must be static),
//!   `[project].dependencies` (PEP 508 strings; the name is taken from each) and
//!   `[tool.uv.sources]` entries with `path` or `workspace = true` (local).
//! * TypeScript `package.json`: `name`, `version`, `dependencies`; a `workspace:`
//!   range marks a workspace sibling, `file:`/`link:` a local path.

use std::path::{Path, PathBuf};

use crate::lang::Lang;

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{} is missing: a {lang} package needs its {} here", file.display(), lang.manifest_file())]
    Missing { lang: Lang, file: PathBuf },
    #[error("cannot read {}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", file.display())]
    Invalid { file: PathBuf, problem: String },
}

/// What a package's manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub lang: Lang,
    /// The manifest file that was read.
    pub file: PathBuf,
    /// go: module path; python: `[project].name`; ts: package.json `name`.
    pub name: String,
    /// python: `[project].version`; ts: `version`; go: `None` (see [`crate::version::go_major_suffix`]).
    pub base_version: Option<String>,
    /// Declared dependencies, in manifest order.
    pub dependencies: Vec<Dependency>,
}

/// One declared dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// go: module path; python: distribution name as written; ts: package name.
    pub name: String,
    pub source: DependencySource,
}

/// Where a dependency comes from according to the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencySource {
    /// From a registry: the version or requirement string as written.
    Registry(String),
    /// A local directory (go `replace … => ../dir`, uv `path`, npm `file:`/`link:`),
    /// as written (relative to the manifest's directory).
    LocalPath(String),
    /// A workspace member (npm `workspace:*`, uv `workspace = true`): the range as written.
    Workspace(String),
}

impl Dependency {
    /// Whether the manifest points this dependency at a sibling package in the
    /// repository rather than at a registry.
    pub fn is_local(&self) -> bool {
        !matches!(self.source, DependencySource::Registry(_))
    }
}

impl Manifest {
    /// Reads the manifest of a `lang` package in `dir`.
    pub fn read(lang: Lang, dir: &Path) -> Result<Manifest, ManifestError> {
        let file = dir.join(lang.manifest_file());
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing { lang, file })
            }
            Err(source) => return Err(ManifestError::Read { file, source }),
        };
        let parsed = match lang {
            Lang::Go => parse_go_mod(&text),
            Lang::Python => parse_pyproject(&text),
            Lang::Ts => parse_package_json(&text),
        };
        parsed
            .map(|(name, base_version, dependencies)| Manifest {
                lang,
                file: file.clone(),
                name,
                base_version,
                dependencies,
            })
            .map_err(|problem| ManifestError::Invalid { file, problem })
    }

    /// The dependencies the manifest points at local directories or workspace members.
    pub fn local_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies.iter().filter(|d| d.is_local())
    }
}

type Parsed = (String, Option<String>, Vec<Dependency>);

/// Strips a `//` comment and surrounding space from a go.mod line.
fn go_line(line: &str) -> &str {
    match line.find("//") {
        Some(i) => line[..i].trim(),
        None => line.trim(),
    }
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('`') && s.ends_with('`')))
    {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

fn parse_go_mod(text: &str) -> Result<Parsed, String> {
    let mut module = None;
    let mut requires: Vec<(String, String)> = Vec::new();
    let mut replaces: Vec<(String, String)> = Vec::new();
    let mut block: Option<&str> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = go_line(raw);
        if line.is_empty() {
            continue;
        }
        if let Some(kind) = block {
            if line == ")" {
                block = None;
                continue;
            }
            go_directive(kind, line, n + 1, &mut requires, &mut replaces)?;
            continue;
        }
        let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match verb {
            "module" => module = Some(unquote(rest)),
            "require" | "replace" if rest == "(" => {
                block = Some(if verb == "require" {
                    "require"
                } else {
                    "replace"
                })
            }
            "require" | "replace" => go_directive(verb, rest, n + 1, &mut requires, &mut replaces)?,
            _ => {}
        }
    }
    let name = module
        .filter(|m| !m.is_empty())
        .ok_or("no `module` line: the module path is the package name")?;
    let mut deps: Vec<Dependency> = requires
        .into_iter()
        .map(|(name, version)| Dependency {
            name,
            source: DependencySource::Registry(version),
        })
        .collect();
    for (name, target) in replaces {
        let local =
            target.starts_with("./") || target.starts_with("../") || target.starts_with('/');
        if !local {
            continue;
        }
        match deps.iter_mut().find(|d| d.name == name) {
            Some(d) => d.source = DependencySource::LocalPath(target),
            None => deps.push(Dependency {
                name,
                source: DependencySource::LocalPath(target),
            }),
        }
    }
    Ok((name, None, deps))
}

fn go_directive(
    kind: &str,
    line: &str,
    line_no: usize,
    requires: &mut Vec<(String, String)>,
    replaces: &mut Vec<(String, String)>,
) -> Result<(), String> {
    if kind == "require" {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some(m), Some(v)) => requires.push((unquote(m), unquote(v))),
            _ => {
                return Err(format!(
                    "line {line_no}: `require` needs a module path and a version"
                ))
            }
        }
    } else {
        let (left, right) = line
            .split_once("=>")
            .ok_or_else(|| format!("line {line_no}: `replace` needs `=>`"))?;
        let from = left
            .split_whitespace()
            .next()
            .ok_or_else(|| format!("line {line_no}: `replace` needs a module path"))?;
        let to = right
            .split_whitespace()
            .next()
            .ok_or_else(|| format!("line {line_no}: `replace` needs a target"))?;
        replaces.push((unquote(from), unquote(to)));
    }
    Ok(())
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

fn parse_pyproject(text: &str) -> Result<Parsed, String> {
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
    Ok((name, Some(version), deps))
}

fn parse_package_json(text: &str) -> Result<Parsed, String> {
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
    Ok((name, Some(version), deps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn go_mod_module_require_replace() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "go.mod",
            "// comment\nmodule \"example.com/sdk\"\n\ngo 1.22\n\nrequire (\n\texample.com/telemetry v0.0.0 // indirect\n\tgithub.com/x/y v1.2.3\n)\nrequire example.com/z v1.0.0\n\nreplace example.com/telemetry => ../telemetry\nreplace (\n  github.com/x/y v1.2.3 => github.com/fork/y v1.2.4\n)\n",
        );
        let m = Manifest::read(Lang::Go, d.path()).unwrap();
        assert_eq!(m.name, "example.com/sdk");
        assert_eq!(m.base_version, None);
        assert_eq!(
            m.dependencies,
            vec![
                Dependency {
                    name: "example.com/telemetry".into(),
                    source: DependencySource::LocalPath("../telemetry".into())
                },
                Dependency {
                    name: "github.com/x/y".into(),
                    source: DependencySource::Registry("v1.2.3".into())
                },
                Dependency {
                    name: "example.com/z".into(),
                    source: DependencySource::Registry("v1.0.0".into())
                },
            ]
        );
        assert_eq!(m.local_dependencies().count(), 1);
    }

    #[test]
    fn go_mod_without_module_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "go.mod", "go 1.22\n");
        let err = Manifest::read(Lang::Go, d.path()).unwrap_err().to_string();
        assert!(err.contains("module"), "{err}");
    }

    #[test]
    fn pyproject_static_version_and_sources() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "pyproject.toml",
            "[project]\nname = \"ameide-sdk\"\nversion = \"0.1.0\"\ndependencies = [\"ameide_telemetry>=0.1\", \"httpx[http2] ; python_version>'3'\"]\n[tool.uv.sources]\nameide-telemetry = { path = \"../telemetry\" }\n",
        );
        let m = Manifest::read(Lang::Python, d.path()).unwrap();
        assert_eq!(m.name, "ameide-sdk");
        assert_eq!(m.base_version.as_deref(), Some("0.1.0"));
        assert_eq!(m.dependencies[0].name, "ameide_telemetry");
        assert_eq!(
            m.dependencies[0].source,
            DependencySource::LocalPath("../telemetry".into())
        );
        assert_eq!(m.dependencies[1].name, "httpx");
        assert!(!m.dependencies[1].is_local());
    }

    #[test]
    fn pyproject_dynamic_version_is_refused() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "pyproject.toml",
            "[project]\nname = \"x\"\ndynamic = [\"version\"]\n",
        );
        let err = Manifest::read(Lang::Python, d.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("dynamic") && err.contains("static"), "{err}");
    }

    #[test]
    fn package_json_workspace_ranges() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "package.json",
            r#"{"name":"@s/sdk","version":"0.2.0","dependencies":{"@s/tel":"workspace:*","nanoid":"^5.0.0"}}"#,
        );
        let m = Manifest::read(Lang::Ts, d.path()).unwrap();
        assert_eq!(m.name, "@s/sdk");
        assert_eq!(m.base_version.as_deref(), Some("0.2.0"));
        let local: Vec<_> = m.local_dependencies().map(|d| d.name.as_str()).collect();
        assert_eq!(local, ["@s/tel"]);
    }

    #[test]
    fn missing_manifest_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        let err = Manifest::read(Lang::Ts, d.path()).unwrap_err();
        assert!(matches!(err, ManifestError::Missing { .. }));
        assert!(err.to_string().contains("package.json"));
    }

    #[test]
    fn python_name_normalisation() {
        assert_eq!(normalize_python_name("Ameide__SDK.x"), "ameide-sdk-x");
    }
}
