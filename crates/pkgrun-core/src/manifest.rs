//! What pkgrun needs from a package's own manifest: its name, its base version and
//! its dependencies (and which of them point at sibling directories).
//!
//! This module owns the types and the file read; how each manifest is parsed belongs
//! to its ecosystem ([`crate::ecosystem`]):
//!
//! * Go `go.mod` (parsed by the `gomod` crate): the `module` line and `require`
//!   directives; a `replace X => ../dir` (a directory) marks `X` as local. Go has no
//!   base version in go.mod (see `base_version` in pkgrun.toml).
//! * Python `pyproject.toml`: `[project].name`, `[project].version` (must be static),
//!   `[project].dependencies` (PEP 508 strings; the name is taken from each) and
//!   `[tool.uv.sources]` entries with `path` or `workspace = true` (local).
//! * TypeScript `package.json`: `name`, `version`, `dependencies`; a `workspace:`
//!   range marks a workspace sibling, `file:`/`link:` a local path.

use std::path::{Path, PathBuf};

use crate::lang::Lang;

pub use crate::ecosystem::python::normalize_python_name;

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
    /// python: `[project].version`; ts: `version`; go: `None` (go.mod has no version).
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
        match lang.ecosystem().parse_manifest(&text) {
            Ok(parsed) => Ok(Manifest {
                lang,
                file,
                name: parsed.name,
                base_version: parsed.base_version,
                dependencies: parsed.dependencies,
            }),
            Err(problem) => Err(ManifestError::Invalid { file, problem }),
        }
    }

    /// The dependencies the manifest points at local directories or workspace members.
    pub fn local_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies.iter().filter(|d| d.is_local())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_through_the_ecosystem_parser() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("go.mod"),
            "module example.com/sdk\n\nrequire example.com/z v1.0.0\n",
        )
        .unwrap();
        let m = Manifest::read(Lang::Go, d.path()).unwrap();
        assert_eq!(m.name, "example.com/sdk");
        assert_eq!(m.file, d.path().join("go.mod"));
        assert_eq!(m.dependencies.len(), 1);
        std::fs::write(d.path().join("go.mod"), "go 1.22\n").unwrap();
        let err = Manifest::read(Lang::Go, d.path()).unwrap_err().to_string();
        assert!(err.contains("go.mod") && err.contains("module"), "{err}");
    }

    #[test]
    fn missing_manifest_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        let err = Manifest::read(Lang::Ts, d.path()).unwrap_err();
        assert!(matches!(err, ManifestError::Missing { .. }));
        assert!(err.to_string().contains("package.json"));
    }
}
