//! Running npm and pnpm against the registry of the environment, never the user's.
//!
//! Every npm/pnpm/node child gets a fresh user config (`NPM_CONFIG_USERCONFIG`) in the
//! run's scratch directory with the registry and no credentials. The user's own
//! `~/.npmrc` and the workspace's `.npmrc` are therefore not read, and the registry
//! comes from `NPM_REGISTRY_URL` alone.
//!
//! No npm child holds `NPM_AUTH_TOKEN`: installs, build scripts and packing run
//! third-party code (lifecycle scripts, the package's own build), and the one request
//! that needs the token, the publish, is sent by pkgrun itself
//! ([`super::registry`]). Installs are therefore anonymous, as a downstream consumer's
//! are: a registry that refuses anonymous reads fails the install with its 401.

use std::path::{Path, PathBuf};

use pkgrun_core::process::StepCommand;
use pkgrun_core::secret::RedactedUrl;

use crate::adapter::Context;
use crate::failure::Failure;

/// The environment variable holding the token in every npm child.
pub const TOKEN_VAR: &str = pkgrun_core::ecosystem::ts::NPM_AUTH_TOKEN.name;

/// Which client builds a package: pnpm when its workspace uses pnpm, else npm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Npm,
    Pnpm,
}

impl Client {
    pub fn program(self) -> &'static str {
        match self {
            Client::Npm => "npm",
            Client::Pnpm => "pnpm",
        }
    }

    /// Looks for pnpm's marks (`pnpm-workspace.yaml`, `pnpm-lock.yaml`, a
    /// `packageManager: "pnpm@…"`) from the package directory up to `stop` (the
    /// directory of pkgrun.toml) when the package is inside it, else up to the
    /// filesystem root. An npm lock file found first means npm.
    pub fn detect(package_dir: &Path, stop: &Path) -> Client {
        let inside = package_dir.starts_with(stop);
        for dir in package_dir.ancestors() {
            if dir.join("pnpm-workspace.yaml").is_file() || dir.join("pnpm-lock.yaml").is_file() {
                return Client::Pnpm;
            }
            if dir.join("package-lock.json").is_file() || dir.join("npm-shrinkwrap.json").is_file()
            {
                return Client::Npm;
            }
            let manager = fs_err::read_to_string(dir.join("package.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("packageManager")?.as_str().map(str::to_string));
            if let Some(manager) = manager {
                if manager.starts_with("pnpm@") {
                    return Client::Pnpm;
                }
                if manager.starts_with("npm@") {
                    return Client::Npm;
                }
            }
            if inside && dir == stop {
                break;
            }
        }
        Client::Npm
    }
}

/// The user config every npm child reads: the registry, and no credentials.
pub fn npmrc_text(registry: &RedactedUrl) -> String {
    format!(
        "registry={}\nupdate-notifier=false\nfund=false\naudit=false\n",
        registry.without_credentials().as_str(),
    )
}

/// Where npm children of one step keep their config and cache.
#[derive(Debug, Clone)]
pub struct NpmEnv {
    registry: String,
    userconfig: PathBuf,
    cache: PathBuf,
}

impl NpmEnv {
    /// A fresh config and empty cache under the run's scratch directory.
    pub fn new(ctx: &Context, purpose: &str, registry: &RedactedUrl) -> Result<Self, Failure> {
        let dir = ctx.scratch_dir(&format!("npm-{purpose}"))?;
        let userconfig = dir.join("npmrc");
        fs_err::write(&userconfig, npmrc_text(registry))?;
        let registry = registry.without_credentials().to_string();
        let cache = dir.join("cache");
        fs_err::create_dir_all(&cache)?;
        Ok(NpmEnv {
            registry,
            userconfig,
            cache,
        })
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// `program args…` in `dir`, with this config.
    pub fn command(&self, name: impl Into<String>, program: &str, dir: &Path) -> StepCommand {
        StepCommand::new(name, program)
            .current_dir(dir)
            .env("NPM_CONFIG_USERCONFIG", &self.userconfig)
            .env("npm_config_registry", &self.registry)
            .env("npm_config_cache", &self.cache)
            .env("npm_config_update_notifier", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_audit", "false")
            // A project-level or global setting must not redirect the install elsewhere.
            .env_remove("npm_config_userconfig")
            .env_remove("NPM_CONFIG_REGISTRY")
            // Builds need devDependencies (compilers); a production NODE_ENV would drop them.
            .env_remove("NODE_ENV")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_npmrc_names_the_registry_and_holds_no_credentials() {
        let u = RedactedUrl::parse("https://registry.example.test/npm/private").unwrap();
        let text = npmrc_text(&u);
        assert_eq!(
            text,
            "registry=https://registry.example.test/npm/private\nupdate-notifier=false\nfund=false\naudit=false\n"
        );
        assert!(!text.contains("_auth"), "{text}");
    }

    #[test]
    fn detects_pnpm_up_to_the_config_root() {
        let root = tempfile::tempdir().unwrap();
        let pkg = root.path().join("packages/a");
        fs_err::create_dir_all(&pkg).unwrap();
        assert_eq!(Client::detect(&pkg, root.path()), Client::Npm);
        fs_err::write(root.path().join("pnpm-workspace.yaml"), "packages: []\n").unwrap();
        assert_eq!(Client::detect(&pkg, root.path()), Client::Pnpm);
        // A marker above the config root does not count.
        let inner = root.path().join("packages");
        assert_eq!(Client::detect(&pkg, &inner), Client::Npm);
        fs_err::write(
            inner.join("package.json"),
            r#"{"packageManager":"pnpm@10.0.0"}"#,
        )
        .unwrap();
        assert_eq!(Client::detect(&pkg, &inner), Client::Pnpm);
    }
}
