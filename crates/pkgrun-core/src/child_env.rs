//! Which of pkgrun's own environment variables a child process inherits: an allow-list.
//!
//! Children run third-party code (build backends, lifecycle scripts, the published
//! package itself), so they start from an empty environment and get back only:
//!
//! * the **base** every program needs: `PATH`, `HOME`, the user and shell names,
//!   `TMPDIR`, time zone and locale (`LANG`, `LANGUAGE`, `LC_*`), `TERM`, `NO_COLOR`,
//!   the XDG base directories (`XDG_*`), the proxy variables (`HTTP(S)_PROXY`,
//!   `NO_PROXY`, `ALL_PROXY`, either case) and the CA bundle locations (`SSL_CERT_FILE`,
//!   `SSL_CERT_DIR`);
//! * the **tool's own configuration** when the program is a known tool ([`Tool`]), found
//!   from the program's file name: the go command's documented variables; `PYTHON*`,
//!   `PIP_*`, `UV_*` and `REQUESTS_CA_BUNDLE` for Python tools; `NODE_*`, `npm_config_*`,
//!   `NPM_CONFIG_*`, `PNPM_*`, `COREPACK_*` for Node tools; `KUBECONFIG`, `HELM_*`,
//!   `HELMFILE_*` for helm; `DOCKER_*`, `BUILDKIT_*`, `BUILDX_*` for docker.
//!   `SOURCE_DATE_EPOCH` goes to the build tools (Python and Node) for reproducible
//!   archives.
//!
//! A tool variable whose name looks like a credential ([`looks_like_credential`]:
//! `TOKEN`, `PASSWORD`, `SECRET`, `AUTH`, …) is never inherited, nor is any credential
//! of the environment contract ([`crate::process::credential_vars`]). What a step sets
//! itself (`StepCommand::env`, `env_secret`) comes on top; a secret is given only to the
//! one step that needs it. `pkgrun step` (the user's own command) inherits everything.
//! The list is documented in docs/child-environment.md.

use std::path::Path;

/// A tool whose own configuration variables its children inherit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Go,
    Python,
    Node,
    Helm,
    Docker,
}

/// Inherited by every child (see the module docs).
pub const BASE_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TZ",
    "LANG",
    "LANGUAGE",
    "TERM",
    "NO_COLOR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Prefixes inherited by every child.
pub const BASE_PREFIXES: &[&str] = &["LC_", "XDG_"];

/// The go command's own variables (`go help environment`), without `GOAUTH`
/// (credentials).
const GO_VARS: &[&str] = &[
    "GO111MODULE",
    "GOARCH",
    "GOAMD64",
    "GOARM",
    "GOARM64",
    "GOBIN",
    "GOCACHE",
    "GOCACHEPROG",
    "GODEBUG",
    "GOENV",
    "GOEXPERIMENT",
    "GOFLAGS",
    "GOINSECURE",
    "GOMODCACHE",
    "GONOPROXY",
    "GONOSUMDB",
    "GOOS",
    "GOPATH",
    "GOPRIVATE",
    "GOPROXY",
    "GOROOT",
    "GOSUMDB",
    "GOTELEMETRY",
    "GOTMPDIR",
    "GOTOOLCHAIN",
    "GOVCS",
    "GOWORK",
    "CGO_ENABLED",
    "CGO_CFLAGS",
    "CGO_LDFLAGS",
    "CC",
    "CXX",
    "AR",
    "PKG_CONFIG",
];

impl Tool {
    /// The tool a program is, from its file name: `go`, `python3`, `/venv/bin/python`,
    /// `uv`, `pip`, `npm`, `pnpm`, `node`, `helm`, `helmfile`, `docker`, …
    pub fn of_program(program: &Path) -> Option<Tool> {
        let name = program.file_name()?.to_str()?;
        match name {
            "go" => Some(Tool::Go),
            "uv" | "pip" | "pip3" => Some(Tool::Python),
            "npm" | "npx" | "pnpm" | "node" | "corepack" => Some(Tool::Node),
            "helm" | "helmfile" => Some(Tool::Helm),
            "docker" => Some(Tool::Docker),
            _ if name.starts_with("python") => Some(Tool::Python),
            _ => None,
        }
    }

    fn exact(self) -> &'static [&'static str] {
        match self {
            Tool::Go => GO_VARS,
            Tool::Python => &["SOURCE_DATE_EPOCH", "REQUESTS_CA_BUNDLE"],
            Tool::Node => &["SOURCE_DATE_EPOCH"],
            Tool::Helm => &["KUBECONFIG"],
            Tool::Docker => &[],
        }
    }

    fn prefixes(self) -> &'static [&'static str] {
        match self {
            Tool::Go => &[],
            Tool::Python => &["PYTHON", "PIP_", "UV_"],
            Tool::Node => &["NODE_", "npm_config_", "NPM_CONFIG_", "PNPM_", "COREPACK_"],
            Tool::Helm => &["HELM_", "HELMFILE_"],
            Tool::Docker => &["DOCKER_", "BUILDKIT_", "BUILDX_"],
        }
    }
}

/// Whether a variable name looks like it holds a credential (case-insensitive:
/// `TOKEN`, `PASSWORD`, `PASSWD`, `SECRET`, `CREDENTIAL`, `AUTH`, `APIKEY`, `API_KEY`).
/// Such a tool variable is never inherited (e.g. `npm_config_//host/:_authToken`,
/// `UV_INDEX_X_PASSWORD`, `GOAUTH`).
pub fn looks_like_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "CREDENTIAL",
        "AUTH",
        "APIKEY",
        "API_KEY",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

/// Whether a child running `tool` (or no known tool) inherits `name`.
pub fn inherits(name: &str, tool: Option<Tool>) -> bool {
    if crate::process::credential_vars([name]).len() == 1 {
        return false;
    }
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| name.starts_with(p));
    if BASE_VARS.contains(&name) || starts(BASE_PREFIXES) {
        return true;
    }
    tool.is_some_and(|t| {
        (t.exact().contains(&name) || starts(t.prefixes())) && !looks_like_credential(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_map_to_their_tool() {
        let of = |p: &str| Tool::of_program(Path::new(p));
        assert_eq!(of("go"), Some(Tool::Go));
        assert_eq!(of("/usr/local/go/bin/go"), Some(Tool::Go));
        assert_eq!(of("/tmp/x/venv/bin/python"), Some(Tool::Python));
        assert_eq!(of("python3.11"), Some(Tool::Python));
        assert_eq!(of("/opt/tools/bin/uv"), Some(Tool::Python));
        assert_eq!(of("pnpm"), Some(Tool::Node));
        assert_eq!(of("node"), Some(Tool::Node));
        assert_eq!(of("helmfile"), Some(Tool::Helm));
        assert_eq!(of("docker"), Some(Tool::Docker));
        // The smoke consumer program (the published package's code) is no tool.
        assert_eq!(of("/tmp/x/work/smoke-consumer"), None);
        assert_eq!(of("gofmt"), None);
    }

    #[test]
    fn base_variables_reach_every_child() {
        for name in ["PATH", "HOME", "LC_ALL", "XDG_CACHE_HOME", "https_proxy"] {
            assert!(inherits(name, None), "{name}");
        }
    }

    #[test]
    fn tool_variables_reach_only_that_tool() {
        assert!(inherits("GOFLAGS", Some(Tool::Go)));
        assert!(!inherits("GOFLAGS", Some(Tool::Node)));
        assert!(!inherits("GOFLAGS", None));
        assert!(inherits("npm_config_cache", Some(Tool::Node)));
        assert!(!inherits("npm_config_cache", Some(Tool::Go)));
        assert!(inherits("UV_CACHE_DIR", Some(Tool::Python)));
        assert!(inherits("SOURCE_DATE_EPOCH", Some(Tool::Python)));
        assert!(!inherits("SOURCE_DATE_EPOCH", None));
        assert!(inherits("KUBECONFIG", Some(Tool::Helm)));
        assert!(inherits("DOCKER_HOST", Some(Tool::Docker)));
        // Unknown variables reach nobody.
        assert!(!inherits("AWS_REGION", Some(Tool::Go)));
        assert!(!inherits("GOOGLE_CLOUD_PROJECT", Some(Tool::Go)));
    }

    #[test]
    fn credentials_reach_nobody_even_under_a_tool_prefix() {
        for (name, tool) in [
            ("GO_REGISTRY_TOKEN", Tool::Go),
            ("GOAUTH", Tool::Go),
            ("NPM_AUTH_TOKEN", Tool::Node),
            ("npm_config_//127.0.0.1:4873/:_authToken", Tool::Node),
            ("NPM_CONFIG__AUTH", Tool::Node),
            ("UV_INDEX_PRIVATE_PASSWORD", Tool::Python),
            ("PIP_PASSWORD", Tool::Python),
            ("AMEIDE_PYPI_PASSWORD", Tool::Python),
            ("HELM_REGISTRY_SECRET", Tool::Helm),
            ("DOCKER_AUTH_CONFIG", Tool::Docker),
        ] {
            assert!(!inherits(name, Some(tool)), "{name}");
            assert!(!inherits(name, None), "{name}");
        }
    }
}
