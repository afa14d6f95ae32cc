//! Command-line flags and the resolved runtime configuration.
//!
//! Secrets never come from argv: the upload token is read from `--token-file` (one token per
//! line, `#` comments allowed) or from the environment variable `GO_REGISTRY_TOKEN`. The
//! upstream GOPROXY comes from `--upstream` / `GO_REGISTRY_UPSTREAM`, else from the first
//! http(s) entry of `go env GOPROXY` at startup; no host is written in this code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Environment variable holding the upload token (when no `--token-file` is given).
pub const ENV_TOKEN: &str = "GO_REGISTRY_TOKEN";

/// Which routes this instance serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Uploads and the GOPROXY read protocol (with upstream fallback).
    Standalone,
    /// Only `/upload`, health and metrics: a sidecar writing into the volume that a real
    /// Athens serves reads from.
    UploadOnly,
}

/// `go-registry` flags. Every flag also reads an environment variable (shown in `--help`).
#[derive(Debug, Parser)]
#[command(
    name = "go-registry",
    version,
    about = "Go module registry for private modules"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "GO_REGISTRY_LISTEN", default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,

    /// Storage root, in Athens' disk layout: <root>/<module>/<version>/{go.mod,source.zip,<version>.info}.
    #[arg(long, env = "GO_REGISTRY_STORAGE")]
    pub storage: PathBuf,

    /// Directory where versions are staged before being renamed into the root. Must be on
    /// the same filesystem as the root and outside it. Default: `<root>/../.<root name>.staging`.
    #[arg(long, env = "GO_REGISTRY_STAGING")]
    pub staging: Option<PathBuf>,

    /// Upstream GOPROXY base URL for modules not stored here; `off` or `none` disables the
    /// fallback. Default: the first http(s) entry of `go env GOPROXY`.
    #[arg(long, env = "GO_REGISTRY_UPSTREAM")]
    pub upstream: Option<String>,

    /// File holding the upload token(s), one per line. Otherwise the token is read from
    /// the environment variable GO_REGISTRY_TOKEN. Without a token uploads are refused.
    #[arg(long, env = "GO_REGISTRY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// Which routes to serve.
    #[arg(
        long,
        value_enum,
        env = "GO_REGISTRY_MODE",
        default_value = "standalone"
    )]
    pub mode: Mode,

    /// Include pseudo-versions in `@v/list` answers (the go command does not expect them).
    #[arg(long, env = "GO_REGISTRY_LIST_PSEUDO_VERSIONS")]
    pub list_pseudo_versions: bool,

    /// Module path patterns (GOPRIVATE syntax, comma-separated) never looked up upstream,
    /// so private module names do not leak to the upstream proxy.
    #[arg(long, env = "GO_REGISTRY_PRIVATE", value_delimiter = ',')]
    pub private: Vec<String>,

    /// Largest accepted module zip, in bytes (the go command's own limit is 500 MiB).
    #[arg(long, env = "GO_REGISTRY_MAX_ZIP_BYTES", default_value_t = 500 << 20)]
    pub max_zip_bytes: u64,

    /// Memory for caching stored files (immutable, so safe to keep); 0 disables. Files
    /// over an eighth of this (at most 8 MiB) are always streamed from disk.
    #[arg(long, env = "GO_REGISTRY_MEMORY_CACHE_BYTES", default_value_t = 128 << 20)]
    pub memory_cache_bytes: u64,

    /// Accept an `http://` upstream. Without it only `https://` upstreams are accepted: what
    /// the upstream serves is cached and then served as immutable.
    #[arg(long, env = "GO_REGISTRY_ALLOW_HTTP_UPSTREAM")]
    pub allow_http_upstream: bool,

    /// Checksum database names proxied under `/sumdb/<name>/` and used to verify what is
    /// cached from the upstream (comma-separated; a `name+hash+key` verifier key is
    /// accepted too). Default: `go env GOSUMDB`. `off` disables both.
    #[arg(long, env = "GO_REGISTRY_SUMDB", value_delimiter = ',')]
    pub sumdb: Vec<String>,

    /// Seconds a client has to send the request line and headers; also how long a
    /// kept-alive connection may sit idle.
    #[arg(long, env = "GO_REGISTRY_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,

    /// Seconds a request body may send nothing before the request fails.
    #[arg(long, env = "GO_REGISTRY_BODY_TIMEOUT", default_value_t = 30)]
    pub body_timeout: u64,

    /// Seconds a handler may take to produce its response headers (upstream fetches
    /// included).
    #[arg(long, env = "GO_REGISTRY_REQUEST_TIMEOUT", default_value_t = 600)]
    pub request_timeout: u64,

    /// Open connections at most; more are closed right after accept.
    #[arg(long, env = "GO_REGISTRY_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Upstream fetches (module versions, lists, checksum database) running at once; more
    /// wait their turn.
    #[arg(long, env = "GO_REGISTRY_MAX_UPSTREAM_FETCHES", default_value_t = 16)]
    pub max_upstream_fetches: usize,

    /// Bytes of module zips held in memory for checking at once (uploads and upstream
    /// misses are streamed to staging first; checks wait for room).
    #[arg(long, env = "GO_REGISTRY_MAX_CHECK_BYTES", default_value_t = 1 << 30)]
    pub max_check_bytes: u64,

    /// Seconds in-flight requests get after SIGTERM before connections are dropped.
    #[arg(long, env = "GO_REGISTRY_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,

    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `debug`.
    #[arg(long, env = "GO_REGISTRY_LOG", default_value = "info")]
    pub log: String,
}

/// An upload token. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Wrap a token value.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Token(value.into())
    }

    /// Constant-time comparison. Both sides are hashed first so that not even the length of
    /// the configured token leaks through timing.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let a = Sha256::digest(&self.0);
        let b = Sha256::digest(presented);
        a.ct_eq(&b).into()
    }
}

/// A configuration problem found at startup (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The token file could not be read.
    #[error("cannot read token file {path}")]
    TokenFile {
        /// The file given with `--token-file`.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The token file has no token in it.
    #[error("token file {0} holds no token")]
    EmptyTokenFile(PathBuf),
    /// Upload-only mode without any token would be useless.
    #[error("--mode upload-only needs an upload token (--token-file or GO_REGISTRY_TOKEN)")]
    NoToken,
    /// The upstream is not an http(s) URL.
    #[error("upstream {0:?} is not an http(s) URL (or `off`)")]
    BadUpstream(String),
    /// The upstream is plain HTTP and that was not allowed.
    #[error(
        "upstream {0:?} is plain http://, so anyone on the path could change what gets cached; \
         use an https:// upstream, or pass --allow-http-upstream if the network is trusted"
    )]
    HttpUpstream(String),
    /// A numeric limit is zero.
    #[error("--{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// The storage root cannot be created or used.
    #[error("storage root {path} is not usable")]
    Storage {
        /// The root.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Staging and root are on different filesystems, so renames would not be atomic.
    #[error(
        "staging directory {staging} is not on the same filesystem as the storage root {root}; \
         hint: put the root in a subdirectory of the volume, or pass --staging"
    )]
    CrossDevice {
        /// The staging directory.
        staging: PathBuf,
        /// The storage root.
        root: PathBuf,
    },
    /// The staging directory is inside the root, where Athens would see it.
    #[error("staging directory {staging} must be outside the storage root {root}")]
    StagingInsideRoot {
        /// The staging directory.
        staging: PathBuf,
        /// The storage root.
        root: PathBuf,
    },
}

/// The resolved configuration the service runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Storage root (absolute).
    pub storage: PathBuf,
    /// Staging directory (absolute, same filesystem as `storage`, outside it).
    pub staging: PathBuf,
    /// Upstream GOPROXY base URL without trailing slash; `None` = no fallback.
    pub upstream: Option<String>,
    /// Accepted upload tokens; empty = uploads refused.
    pub tokens: Vec<Token>,
    /// Routes served.
    pub mode: Mode,
    /// Whether `@v/list` includes pseudo-versions.
    pub list_pseudo_versions: bool,
    /// GOPRIVATE-style patterns never asked upstream.
    pub private: Vec<String>,
    /// Upload size limits.
    pub limits: Limits,
    /// Bytes of stored files kept in memory (0 = off).
    pub memory_cache_bytes: u64,
    /// Connection-level timeouts and caps.
    pub server: crate::server::ServerLimits,
    /// Upstream fetches at once.
    pub max_upstream_fetches: usize,
    /// Zip bytes held in memory for checks at once.
    pub max_check_bytes: u64,
    /// Checksum databases proxied and used for verification (empty = off).
    pub sumdb: Vec<crate::sumdb::SumdbName>,
}

/// Size limits on the parts of an upload.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Module zip.
    pub zip: u64,
    /// go.mod (the go command's limit is 16 MiB).
    pub mod_file: u64,
    /// .info JSON.
    pub info: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            zip: 500 << 20,
            mod_file: 16 << 20,
            info: 64 << 10,
        }
    }
}

impl Config {
    /// A configuration for tests and embedding: given root, no upstream, no tokens.
    pub fn new(storage: impl Into<PathBuf>) -> Self {
        let storage = storage.into();
        let staging = default_staging(&storage);
        Config {
            storage,
            staging,
            upstream: None,
            tokens: Vec::new(),
            mode: Mode::Standalone,
            list_pseudo_versions: false,
            private: Vec::new(),
            limits: Limits::default(),
            memory_cache_bytes: 0,
            server: crate::server::ServerLimits::default(),
            max_upstream_fetches: 16,
            max_check_bytes: 1 << 30,
            sumdb: Vec::new(),
        }
    }

    /// Resolve flags + environment into a configuration. `go_env` (`go env <NAME>`) is
    /// called only for what was not given: GOPROXY when no upstream was given, GOSUMDB when
    /// no `--sumdb` was given and there is an upstream (so tests and `off` never run `go`).
    pub fn from_args(
        args: &Args,
        env_token: Option<String>,
        go_env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let storage = absolute(&args.storage);
        let staging = args
            .staging
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| default_staging(&storage));

        let tokens = match &args.token_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::TokenFile {
                        path: path.clone(),
                        source,
                    })?;
                let tokens: Vec<Token> = parse_token_file(&text);
                if tokens.is_empty() {
                    return Err(ConfigError::EmptyTokenFile(path.clone()));
                }
                tokens
            }
            None => env_token
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .map(|t| vec![Token::new(t)])
                .unwrap_or_default(),
        };
        if args.mode == Mode::UploadOnly && tokens.is_empty() {
            return Err(ConfigError::NoToken);
        }

        let upstream = match args.upstream.as_deref().map(str::trim) {
            Some(u) if is_off(u) => None,
            Some(u) => Some(normalize_upstream(u)?),
            None if args.mode == Mode::UploadOnly => None,
            None => go_env("GOPROXY").and_then(|v| first_http_entry(&v)),
        };
        if let Some(u) = &upstream {
            if u.starts_with("http://") && !args.allow_http_upstream {
                return Err(ConfigError::HttpUpstream(u.clone()));
            }
        }
        let sumdb = match (&upstream, args.sumdb.as_slice()) {
            (None, _) => Vec::new(),
            (Some(_), []) => go_env("GOSUMDB")
                .map(|v| crate::sumdb::parse_names(std::slice::from_ref(&v)))
                .unwrap_or_default(),
            (Some(_), given) => crate::sumdb::parse_names(given),
        };
        for (flag, value) in [
            ("header-timeout", args.header_timeout),
            ("body-timeout", args.body_timeout),
            ("request-timeout", args.request_timeout),
            ("max-connections", args.max_connections as u64),
            ("max-upstream-fetches", args.max_upstream_fetches as u64),
            ("max-check-bytes", args.max_check_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit(flag));
            }
        }
        let secs = std::time::Duration::from_secs;
        let server = crate::server::ServerLimits {
            header_timeout: secs(args.header_timeout),
            body_timeout: secs(args.body_timeout),
            request_timeout: secs(args.request_timeout),
            max_connections: args.max_connections,
            shutdown_timeout: secs(args.shutdown_timeout),
        };

        Ok(Config {
            storage,
            staging,
            upstream,
            tokens,
            mode: args.mode,
            list_pseudo_versions: args.list_pseudo_versions,
            private: args
                .private
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            limits: Limits {
                zip: args.max_zip_bytes,
                ..Limits::default()
            },
            memory_cache_bytes: args.memory_cache_bytes,
            server,
            max_upstream_fetches: args.max_upstream_fetches,
            max_check_bytes: args.max_check_bytes,
            sumdb,
        })
    }
}

fn is_off(value: &str) -> bool {
    value.is_empty() || value.eq_ignore_ascii_case("off") || value.eq_ignore_ascii_case("none")
}

fn normalize_upstream(value: &str) -> Result<String, ConfigError> {
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        return Err(ConfigError::BadUpstream(value.to_string()));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// Tokens in a token file: one per line, blank lines and `#` comments skipped.
pub fn parse_token_file(text: &str) -> Vec<Token> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(Token::new)
        .collect()
}

/// The first `http://` or `https://` entry of a GOPROXY value (entries are separated by `,`
/// or `|`; `direct` and `off` are skipped).
pub fn first_http_entry(goproxy: &str) -> Option<String> {
    goproxy
        .split([',', '|'])
        .map(str::trim)
        .find(|e| e.starts_with("http://") || e.starts_with("https://"))
        .map(|e| e.trim_end_matches('/').to_string())
}

/// Run `go env <name>`; `None` if `go` is missing or fails.
pub fn go_env(name: &str) -> Option<String> {
    let out = std::process::Command::new("go")
        .args(["env", name])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `<parent>/.<name>.staging`: beside the root, so on the same filesystem unless the root
/// is itself a mount point.
pub fn default_staging(root: &Path) -> PathBuf {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "storage".to_string());
    let parent = root.parent().unwrap_or(Path::new("/"));
    parent.join(format!(".{name}.staging"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_http_entry_skips_direct_and_off() {
        assert_eq!(
            first_http_entry("direct,http://127.0.0.1:1/|off"),
            Some("http://127.0.0.1:1".to_string())
        );
        assert_eq!(first_http_entry("direct"), None);
        assert_eq!(first_http_entry("off"), None);
    }

    #[test]
    fn tokens_compare_by_value() {
        let t = Token::new("s3cret");
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cret2"));
        assert!(!t.matches(b""));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn token_file_lines() {
        let toks = parse_token_file("# comment\n\n a \nb\n");
        assert_eq!(toks.len(), 2);
        assert!(toks[0].matches(b"a"));
    }

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["go-registry", "--storage", "/tmp/x/modules"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn upstream_resolution() {
        let never = |_: &str| -> Option<String> { panic!("go env must not run") };
        let c = Config::from_args(&args(&["--upstream", "off"]), None, never).unwrap();
        assert_eq!(c.upstream, None);
        let a = args(&[
            "--upstream",
            "http://127.0.0.1:9/",
            "--allow-http-upstream",
            "--sumdb",
            "off",
        ]);
        let c = Config::from_args(&a, None, never).unwrap();
        assert_eq!(c.upstream.as_deref(), Some("http://127.0.0.1:9"));
        assert!(c.sumdb.is_empty());
        // Default: the first http(s) entry of `go env GOPROXY`, and GOSUMDB's names.
        let env = |name: &str| match name {
            "GOPROXY" => Some("direct,https://127.0.0.1:7,off".into()),
            "GOSUMDB" => Some("sum.test.example".into()),
            _ => None,
        };
        let c = Config::from_args(&args(&[]), None, env).unwrap();
        assert_eq!(c.upstream.as_deref(), Some("https://127.0.0.1:7"));
        assert_eq!(c.sumdb.len(), 1);
        assert_eq!(c.sumdb[0].name, "sum.test.example");
        let c = Config::from_args(&args(&[]), None, |_: &str| Some("off".into())).unwrap();
        assert_eq!(c.upstream, None);
        assert!(matches!(
            Config::from_args(&args(&["--upstream", "ftp://x"]), None, never),
            Err(ConfigError::BadUpstream(_))
        ));
    }

    #[test]
    fn plain_http_upstream_needs_the_flag() {
        let never = |_: &str| -> Option<String> { panic!("go env must not run") };
        let err = Config::from_args(
            &args(&["--upstream", "http://127.0.0.1:9", "--sumdb", "off"]),
            None,
            never,
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::HttpUpstream(_)), "{err}");
        assert!(err.to_string().contains("--allow-http-upstream"), "{err}");
        // The same holds for an upstream taken from `go env GOPROXY`.
        let env = |_: &str| Some("http://127.0.0.1:7".to_string());
        assert!(matches!(
            Config::from_args(&args(&[]), None, env),
            Err(ConfigError::HttpUpstream(_))
        ));
    }

    #[test]
    fn zero_limits_are_refused() {
        let never = |_: &str| -> Option<String> { None };
        let err = Config::from_args(
            &args(&["--upstream", "off", "--max-connections", "0"]),
            None,
            never,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "--max-connections must be at least 1");
    }

    #[test]
    fn tokens_and_modes() {
        let never = |_: &str| -> Option<String> { None };
        let c = Config::from_args(&args(&[]), Some(" t0k \n".into()), never).unwrap();
        assert_eq!(c.tokens.len(), 1);
        assert!(c.tokens[0].matches(b"t0k"));
        assert!(matches!(
            Config::from_args(&args(&["--mode", "upload-only"]), None, never),
            Err(ConfigError::NoToken)
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "# nothing\n\n").unwrap();
        let a = args(&["--token-file", f.to_str().unwrap()]);
        assert!(matches!(
            Config::from_args(&a, Some("env".into()), never),
            Err(ConfigError::EmptyTokenFile(_))
        ));
        std::fs::write(&f, "a\nb\n").unwrap();
        let c = Config::from_args(&a, Some("env".into()), never).unwrap();
        assert_eq!(c.tokens.len(), 2, "the file wins over the environment");
        assert!(!c.tokens.iter().any(|t| t.matches(b"env")));
    }

    #[test]
    fn default_staging_is_a_sibling() {
        assert_eq!(
            default_staging(Path::new("/data/modules")),
            PathBuf::from("/data/.modules.staging")
        );
    }
}
