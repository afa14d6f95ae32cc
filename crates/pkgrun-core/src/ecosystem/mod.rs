//! Everything pkgrun knows about one ecosystem that is not I/O, one module per
//! language, registered once in [`Lang::ecosystem`].
//!
//! An [`Ecosystem`] owns its names (config section, variable infix, manifest file), its
//! environment contract as typed [`EnvVar`] constants (the same constants the
//! adapters, the env check, `pkgrun env --help` and the README table use), how its
//! manifest is parsed, how a snapshot version is made from a base version, which
//! release versions it accepts, and the syntax of its upstream probe. Adding an
//! ecosystem means one more module here, one enum variant and one adapter folder in
//! pkgrun-lang (see docs/architecture.md).

pub mod go;
pub mod python;
pub mod ts;

use crate::env::{Kind, Requirement};
use crate::lang::Lang;
use crate::manifest::Dependency;
use crate::version::{Sha12, Timestamp, VersionError};

/// One environment variable of an ecosystem's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// The name, or for a [`EnvVar::prefixed`] variable the part after `{env_prefix}_`.
    pub name: &'static str,
    /// Whether the name is preceded by pkgrun.toml's `env_prefix` and `_`.
    pub prefixed: bool,
    pub kind: EnvKind,
    /// What the variable is for, shown in errors, `--help` and the README.
    pub description: &'static str,
}

/// What an [`EnvVar`] must hold (the static form of [`Kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    Url,
    NonEmpty,
    Secret,
    ModulePrefixes,
    /// Optional; must not cover the prefixes listed in the named variable.
    MustNotBypass(&'static str),
}

impl EnvVar {
    /// A variable named exactly `name`.
    pub const fn plain(name: &'static str, kind: EnvKind, description: &'static str) -> Self {
        EnvVar {
            name,
            prefixed: false,
            kind,
            description,
        }
    }

    /// A variable named `{env_prefix}_{suffix}`.
    pub const fn prefixed(suffix: &'static str, kind: EnvKind, description: &'static str) -> Self {
        EnvVar {
            name: suffix,
            prefixed: true,
            kind,
            description,
        }
    }

    /// The variable's name for a config's `env_prefix`.
    pub fn name(&self, env_prefix: &str) -> String {
        if self.prefixed {
            format!("{env_prefix}_{}", self.name)
        } else {
            self.name.to_string()
        }
    }

    /// The name as documented: `{PREFIX}_AMEIDE…` for prefixed variables.
    pub fn documented_name(&self) -> String {
        self.name("{PREFIX}")
    }

    /// The requirement the env check verifies.
    pub fn requirement(&self, env_prefix: &str) -> Requirement {
        let kind = match self.kind {
            EnvKind::Url => Kind::Url,
            EnvKind::NonEmpty => Kind::NonEmpty,
            EnvKind::Secret => Kind::Secret,
            EnvKind::ModulePrefixes => Kind::ModulePrefixes,
            EnvKind::MustNotBypass(other) => Kind::MustNotBypass(other.to_string()),
        };
        Requirement::new(self.name(env_prefix), kind, self.description)
    }
}

/// What a manifest says, before it is tied to a file: name, base version, dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub name: String,
    pub base_version: Option<String>,
    pub dependencies: Vec<Dependency>,
}

/// What a package's versions are made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionInput<'a> {
    /// The package's name as configured (used in messages).
    pub package: &'a str,
    /// The manifest's name (Go: the module path, whose `/vN` suffix is the major).
    pub name: &'a str,
    /// The base version: the manifest's (Python, TypeScript) or the config's
    /// `base_version` (Go, whose go.mod has none).
    pub base: Option<&'a str>,
}

impl VersionInput<'_> {
    pub(crate) fn bad_base(&self, problem: impl Into<String>) -> VersionError {
        VersionError::BadBase {
            package: self.package.to_string(),
            version: self.base.unwrap_or_default().to_string(),
            problem: problem.into(),
        }
    }

    pub(crate) fn bad_snapshot(&self, version: String, problem: impl ToString) -> VersionError {
        VersionError::BadSnapshot {
            package: self.package.to_string(),
            version,
            problem: problem.to_string(),
        }
    }
}

/// One ecosystem's rules. Implementations are unit structs registered in
/// [`Lang::ecosystem`].
pub trait Ecosystem: Sync {
    fn lang(&self) -> Lang;
    /// The name in `pkgrun.toml` sections, state documents and log scopes (`go`).
    fn name(&self) -> &'static str;
    /// The name inside environment variables (`GO` in `{PREFIX}_GO_SDK_VERSION`).
    fn env_name(&self) -> &'static str;
    /// The manifest file a package of this ecosystem has at its path.
    fn manifest_file(&self) -> &'static str;
    /// The variables publish and smoke need, in contract order.
    fn env_vars(&self) -> &'static [EnvVar];
    /// The variable holding the URL publish uploads to (what `pkgrun health` probes).
    fn registry_url_var(&self) -> EnvVar;
    /// Reads name, base version and dependencies from the manifest's text.
    fn parse_manifest(&self, text: &str) -> Result<ParsedManifest, String>;
    /// Whether the base version comes from pkgrun.toml's `base_version` (Go) rather
    /// than from the manifest.
    fn base_in_config(&self) -> bool {
        false
    }
    /// The snapshot version for a package at `at` from source `sha`.
    fn snapshot(
        &self,
        input: &VersionInput<'_>,
        at: Timestamp,
        sha: &Sha12,
    ) -> Result<String, VersionError>;
    /// Validates a release (override) version, returning the form to publish or what
    /// is wrong with it.
    fn check_release(&self, input: &VersionInput<'_>, version: &str) -> Result<String, String>;
    /// Whether a release version can be valid for one package and not another (Go: the
    /// module path's major suffix), so each package's problem is reported.
    fn release_depends_on_package(&self) -> bool {
        false
    }
    /// How to fix a refused release version.
    fn release_hint(&self) -> &'static str;
    /// The upstream probe's separator and an example (`@`, `lodash@4.17.21`).
    fn probe_syntax(&self) -> (&'static str, &'static str);
    /// Whether two package names denote the same package (PEP 503 for Python).
    fn same_name(&self, a: &str, b: &str) -> bool {
        a == b
    }
    /// A problem with a smoke check's `import`, beyond being non-empty.
    fn check_smoke_import(&self, _import: &str) -> Result<(), String> {
        Ok(())
    }
}

impl EnvKind {
    /// How the README names the kind.
    pub fn label(self) -> &'static str {
        match self {
            EnvKind::Url => "URL",
            EnvKind::NonEmpty => "text",
            EnvKind::Secret => "secret",
            EnvKind::ModulePrefixes => "module prefixes",
            EnvKind::MustNotBypass(_) => "optional",
        }
    }
}

/// The environment variable table of every ecosystem, as the README shows it
/// between `<!-- env-table:start -->` and `<!-- env-table:end -->`.
pub fn env_table_markdown() -> String {
    let mut out = String::from("| language | variable | kind | meaning |\n|---|---|---|---|\n");
    for lang in Lang::ALL {
        let eco = lang.ecosystem();
        for var in eco.env_vars() {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                eco.name(),
                var.documented_name(),
                var.kind.label(),
                var.description
            ));
        }
    }
    for lang in Lang::ALL {
        out.push_str(&format!(
            "| {lang} | `{}` | optional | release version for every {lang} package instead of a snapshot (see [Versions](#versions)) |\n",
            lang.override_var("{PREFIX}"),
        ));
        out.push_str(&format!(
            "| {lang} | `{}_{{KEY}}` | optional | release version for the one {lang} package whose `state_key` is KEY (in upper case, other characters than letters and digits as `_`); wins over the line above |\n",
            lang.override_var("{PREFIX}"),
        ));
    }
    out.push_str(&format!(
        "| all | `{}` | optional | commit to stamp (≥ 12 hex characters); else HEAD |\n",
        crate::git::SOURCE_GIT_SHA
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's environment table is generated from the constants above; this
    /// fails when one changes without the other (regenerate with
    /// `PKGRUN_BLESS_README=1 cargo test -p pkgrun-core readme_env_table`).
    #[test]
    fn readme_env_table_matches_the_constants() {
        let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(readme_path).expect("README.md at the repo root");
        let (start, end) = ("<!-- env-table:start -->\n", "<!-- env-table:end -->");
        let from = readme
            .find(start)
            .expect("README has the env-table start marker")
            + start.len();
        let to = readme[from..]
            .find(end)
            .expect("README has the env-table end marker")
            + from;
        let expected = env_table_markdown();
        if std::env::var_os("PKGRUN_BLESS_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..from], &readme[to..]);
            std::fs::write(readme_path, updated).unwrap();
            return;
        }
        assert_eq!(
            &readme[from..to],
            expected,
            "README.md's environment table drifted from pkgrun-core's ecosystem constants; regenerate it with PKGRUN_BLESS_README=1"
        );
    }

    #[test]
    fn every_language_is_registered_once() {
        for lang in Lang::ALL {
            assert_eq!(lang.ecosystem().lang(), lang);
            assert_eq!(lang.ecosystem().name().parse::<Lang>().unwrap(), lang);
        }
    }
}
