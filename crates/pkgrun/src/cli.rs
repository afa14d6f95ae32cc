//! Command-line definitions (clap). Only parsing lives here; behaviour is in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pkgrun_core::ecosystem::{EnvKind, EnvVar};
use pkgrun_core::log::{self, Level, DEFAULT_SCOPE};
use pkgrun_core::Lang;

use crate::progress::ProgressMode;

const LONG_ABOUT: &str = "\
pkgrun publishes snapshot versions of a monorepo's internal Go, Python and TypeScript SDKs
to internal registries, smoke-tests them as a consumer would, and records what was published
in state documents that CI, Tilt and services read.

What to publish comes from pkgrun.toml at the workspace root (found by walking up from the
current directory, or given with --config). Where to publish, and with which credentials,
comes from the environment; nothing is defaulted.

Exit codes: 0 ok; 1 bug; 2 usage, config or environment error (nothing was touched);
3 publish failed; 4 smoke failed; 5 registry unreachable; 130/143 stopped by SIGINT/SIGTERM
(children stopped, temporary files removed, state files as they were).";

const AFTER_HELP: &str = "\
Examples:
  pkgrun config check                 validate pkgrun.toml and every package manifest
  pkgrun version                      the versions a publish would use right now
  pkgrun state show                   what the state directory says was published
  pkgrun env --format github          export {PREFIX}_{LANG}_SDK_VERSION to $GITHUB_OUTPUT
  pkgrun step --name build -- make    run a command as a logged step
  pkgrun log info \"hello\"             print one log line in the standard format

Environment:
  PKGRUN_CONFIG   path of pkgrun.toml (same as --config)
  LOG_PREFIX      log scope inside the brackets (same as --prefix), default packages:pkgrun
  VERBOSE=1       show child process output live (same as --verbose)
  NO_COLOR        disables colour even with --color";

/// Parsed command line.
#[derive(Debug, Parser)]
#[command(name = "pkgrun", version, about = "Publish, smoke-test and record internal SDK snapshots for Go, Python and TypeScript", long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// pkgrun.toml to use instead of searching upward from the current directory.
    #[arg(long, global = true, env = "PKGRUN_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Colour the level word of log lines (never when NO_COLOR is set).
    #[arg(long, global = true)]
    pub color: bool,

    /// Show child process output live (VERBOSE=1 does the same).
    #[arg(short, long, global = true, env = "VERBOSE", value_parser = parse_verbose)]
    pub verbose: bool,

    /// Log scope printed inside the brackets, e.g. packages:go-publish.
    #[arg(long, global = true, env = "LOG_PREFIX", value_name = "SCOPE", default_value = DEFAULT_SCOPE)]
    pub prefix: String,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command sees.
#[derive(Debug, Clone)]
pub struct Globals {
    pub config: Option<PathBuf>,
    pub color: bool,
    pub verbose: bool,
    pub prefix: String,
}

impl Cli {
    pub fn globals(&self) -> Globals {
        let no_color = std::env::var("NO_COLOR").ok();
        Globals {
            config: self.config.clone(),
            color: log::color_enabled(self.color, no_color.as_deref()),
            verbose: self.verbose,
            // An empty LOG_PREFIX means the default, as in the scripts/lib adapters.
            prefix: if self.prefix.trim().is_empty() {
                DEFAULT_SCOPE.to_string()
            } else {
                self.prefix.clone()
            },
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one log line in the standard format to stderr.
    #[command(
        long_about = "Print one log line `[<scope>] <RFC 3339 UTC time> <level> <message>` to stderr.\n\nShell scripts, Tilt resources and CI steps use it so their output lines up with pkgrun's own.",
        after_help = "Examples:\n  pkgrun log info \"starting registries\"\n  LOG_PREFIX=packages:go-publish pkgrun log warn token file is world-readable\n\nEnvironment:\n  LOG_PREFIX   scope (same as --prefix)\n  NO_COLOR     disables --color"
    )]
    Log(LogArgs),

    /// Run a command as a logged step (start line, finish line with duration).
    #[command(
        long_about = "Run a command as a named step.\n\nPrints `step <name>`, runs the command with stdin closed, and prints `ok <name> (took N.Ns)` or `fail <name> (took N.Ns): <reason>`. The command's output (stdout and stderr, in arrival order) is hidden unless --verbose/VERBOSE=1 (then streamed as `info | <line>`), and printed in full before the `fail` line when the step fails.\n\nExit code: the command's own exit code; 128+N if it was killed by signal N; 124 if --timeout expired (the command's whole process group is killed); 127 if it could not be started.",
        after_help = "Examples:\n  pkgrun step --name \"unit tests\" -- go test ./...\n  VERBOSE=1 pkgrun step --name build --prefix packages:ts-publish -- pnpm build\n  pkgrun step --name wait --timeout 30 -- sh -c 'until curl -sf http://127.0.0.1:5000/healthz; do sleep 1; done'\n\nEnvironment:\n  LOG_PREFIX   scope (same as --prefix)\n  VERBOSE=1    stream the command's output"
    )]
    Step(StepArgs),

    /// Publish snapshot versions of a language's packages to its registry.
    #[command(
        long_about = "Publish every configured package of the given languages (default: all configured) to the language's registry, in dependency order.\n\nEach package is stamped with its snapshot version (or the {PREFIX}_{LANG}_SDK_VERSION override), built from a throwaway copy of its directory (the workspace is never modified) and uploaded. A sibling dependency is pinned to the version published in the same run, and a package is only built once the siblings it depends on are visible through the URL consumers use; packages that depend on a failed package are skipped. A version already in the registry with identical bytes counts as published; with different bytes it is an error naming both digests.\n\nState documents (`<state_dir>/<state_key>.json`, smoke `not-run`) and `<state_dir>/<lang>-version` are written atomically; a package that failed keeps its previous state file.",
        after_help = pipeline_help()
    )]
    Publish(PipelineArgs),

    /// Smoke-test the published versions recorded in the state directory.
    #[command(
        long_about = "Smoke-test the versions recorded in the state directory for the given languages (default: all configured), as a downstream service would consume them:\n\n  protocol   the registry lists the version and serves byte-identical artifacts\n  consumer   a fresh, empty environment installs the version from the registry and imports every configured smoke import\n  upstream   the language's upstream_probe is fetched twice through the registry, proving it proxies and caches\n\nThe results are written into the state documents; a failed check fails the command with exit code 4.",
        after_help = pipeline_help()
    )]
    Smoke(PipelineArgs),

    /// Publish, then smoke-test, then record state (the whole job).
    #[command(
        long_about = "The whole job for the given languages (default: all configured): `publish`, then `smoke` of what was published, with the state documents written after each phase. Languages run concurrently (--jobs N bounds how many at once; --jobs 1 runs them one after the other) and independently: a failure in one does not stop the others. The exit code is the worst failure's.",
        after_help = pipeline_help()
    )]
    Run(PipelineArgs),

    /// Inspect, clean or sync (from the cluster's ConfigMaps) the state directory.
    #[command(subcommand)]
    State(StateCommand),

    /// Print the {PREFIX}_{LANG}_SDK_VERSION contract from the state directory.
    #[command(
        long_about = "Print `{PREFIX}_{LANG}_SDK_VERSION` for each language from the `<lang>-version` files in the state directory (written by a publish).\n\nFormats:\n  shell    export AMEIDE_GO_SDK_VERSION='v0.0.0-…'   (for `eval \"$(pkgrun env)\"`)\n  dotenv   AMEIDE_GO_SDK_VERSION=v0.0.0-…\n  github   AMEIDE_GO_SDK_VERSION=v0.0.0-…  appended to $GITHUB_OUTPUT when it is set\n\nWithout LANG arguments every configured language is printed. If any requested language has no version file, nothing is printed and the exit code is 2: a partial contract would let a build silently use stale SDKs.",
        after_help = "Examples:\n  eval \"$(pkgrun env)\"\n  pkgrun env --format dotenv --output build.env\n  pkgrun env --format github go ts\n\nEnvironment:\n  GITHUB_OUTPUT   file that --format github appends to (when --output is not given)\n  PKGRUN_CONFIG   path of pkgrun.toml"
    )]
    Env(EnvArgs),

    /// Print the version each package would be published with now.
    #[command(
        long_about = "Print `<state_key> <version>` for each configured package: the snapshot version a publish would stamp right now, or the validated override.\n\nSnapshots: go v0.0.0-<yyyymmddhhmmss>-<sha12> (vN.0.0-… for a /vN module; vX.Y.Z-pre.0.<yyyymmddhhmmss>-<sha12> after a `base_version`), python <base>.dev<yyyymmddhhmmss>+g<sha12>, ts <base>-dev.<yyyymmddhhmmss>.<sha12> (<base>.dev.<yyyymmddhhmmss>.<sha12> on a prerelease base). Overrides are checked with each ecosystem's rules; every invalid override is reported at once (exit 2).",
        after_help = "Examples:\n  pkgrun version\n  SOURCE_GIT_SHA=$(git rev-parse HEAD) pkgrun version go\n  AMEIDE_TS_SDK_VERSION=1.4.0 pkgrun version ts\n\nEnvironment:\n  SOURCE_GIT_SHA               commit to stamp (else HEAD read from .git; neither is an error)\n  {PREFIX}_GO_SDK_VERSION      override for go packages (canonical Go semver, major suffix rule)\n  {PREFIX}_PYTHON_SDK_VERSION  override for python packages (PEP 440)\n  {PREFIX}_TS_SDK_VERSION      override for ts packages (SemVer)\n  {PREFIX}_{LANG}_SDK_VERSION_{KEY}  override for the one package whose state_key is KEY (upper case, `_` for other characters)"
    )]
    Version(VersionArgs),

    /// Validate pkgrun.toml (and optionally the environment).
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Run one helmfile layer: wait for the registry, sync, test, show the Job's logs.
    #[command(
        long_about = "Run one helmfile layer of the package runners (e.g. deploy/helmfiles/27-package-go.yaml).\n\nReads the releases and their values files (paths relative to the helmfile; the chart's own values.yaml first) for `helmLayerSelector` (which must match the release's labels), `registry.deployment`/`registry.namespace` and `namespace`; waits, with a progress line per poll, for each registry Deployment to be Available (through the Kubernetes API); runs `helmfile -f <file> -l <selector> sync`, then `helm test <release> -n <namespace>`; then fetches the logs of the test Jobs' pods by label query (`app.kubernetes.io/instance=<release>`, `job-name=<job>`) and prints each line as `[packages:<lang>-layer] … info | <line>`. A Job with a Failed condition ends the command with its reason.\n\nExit codes: 2 helmfile/helm not on PATH, unreadable helmfile, no credentials or RBAC refusal; 3 helmfile sync, helm test or the Job failed (4/5 when the runner in the Job exited 4/5); 5 the registry Deployment did not become Available in time or the API was unreachable.",
        after_help = "Examples:\n  pkgrun layer deploy/helmfiles/27-package-go.yaml\n  pkgrun layer --wait-timeout 600 deploy/helmfiles/26-package-npm.yaml && pkgrun state sync ts\n\nEnvironment:\n  KUBECONFIG         kubeconfig to use (else ~/.kube/config, else the in-cluster service account)\n  PKGRUN_NAMESPACE   namespace for releases that set none (same as --namespace)\n  PATH               must contain helmfile and helm"
    )]
    Layer(LayerArgs),

    /// Check the registries, the state documents and (with --cluster) the ConfigMaps.
    #[command(
        long_about = "Answer \"is the package pipeline healthy right now?\" for the given languages (default: every configured one):\n\n  registries  each registry is reachable and answers as its kind should: Go `/healthz` (else a GOPROXY list request for the first configured module), devpi `<index>/+api`, Verdaccio `-/ping`. Only the URL variables are read; no credentials are needed.\n  state       every configured package has a state document whose smoke passed and whose git_sha is the current commit (SOURCE_GIT_SHA, else HEAD); its age is shown.\n  cluster     with --cluster, each language's state ConfigMap holds the same documents as the local state directory.\n\nA table goes to stdout (or, with --json, one JSON object: healthy, exit_code, current_sha, registries, state, cluster); every problem is also logged on stderr with what to do.\n\nExit codes: 0 healthy; 4 unhealthy state (missing, smoke not passed, stale, drift); 5 a registry or the Kubernetes API unreachable or not answering as a registry (wins over 4); 2 configuration, a missing URL variable, or no cluster credentials.",
        after_help = "Examples:\n  pkgrun health\n  pkgrun health --json go | jq '.state[] | select(.problems != [])'\n  pkgrun health --cluster --namespace ameide\n\nEnvironment:\n  GO_REGISTRY_URL, {PREFIX}_PYPI_REPOSITORY_URL, NPM_REGISTRY_URL   the registries to check\n  SOURCE_GIT_SHA     the current commit (else HEAD of the repository)\n  KUBECONFIG, PKGRUN_NAMESPACE, PKGRUN_CONFIGMAP   with --cluster, as for `pkgrun state sync`"
    )]
    Health(HealthArgs),

    /// Plan and build the per-language runner images (only those whose inputs changed).
    #[command(subcommand)]
    Images(crate::commands::images::ImagesCommand),
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also compare the local state with the state ConfigMaps in the cluster.
    #[arg(long)]
    pub cluster: bool,
    /// Namespace of the ConfigMaps (default: PKGRUN_NAMESPACE, else the kubeconfig's).
    #[arg(long, value_name = "NS", requires = "cluster")]
    pub namespace: Option<String>,
    /// Deadline of each registry request.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Attempts per registry request (connection refused, timeouts and 502/503/504 are retried).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub attempts: u32,
    /// Languages to check (default: every configured language).
    #[arg(value_parser = parse_lang)]
    pub langs: Vec<Lang>,
}

#[derive(Debug, Args)]
pub struct LayerArgs {
    /// The helmfile of the layer.
    #[arg(value_name = "HELMFILE")]
    pub helmfile: PathBuf,
    /// Namespace of releases that set none (default: PKGRUN_NAMESPACE, else the kubeconfig's).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// How long to wait for each registry Deployment to become Available.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub wait_timeout: f64,
    /// Pause between two polls of the registry Deployment.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub poll_interval: f64,
    /// `helm test --timeout`: how long the test Job may run (above the chart's
    /// job.activeDeadlineSeconds, 900 by default; helm's own default is 5 minutes).
    #[arg(long, value_name = "SECONDS", default_value_t = 1200)]
    pub test_timeout: u64,
}

#[derive(Debug, Args)]
pub struct StateSyncArgs {
    /// Namespace of the ConfigMaps (default: PKGRUN_NAMESPACE, else the kubeconfig's / pod's).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Also remove local documents (and <lang>-version) whose keys are not in the ConfigMap.
    #[arg(long)]
    pub prune: bool,
    /// Languages to sync (default: every configured language).
    #[arg(value_parser = parse_lang)]
    pub langs: Vec<Lang>,
}

#[derive(Debug, Args)]
pub struct StatePushArgs {
    /// Namespace of the ConfigMaps (default: PKGRUN_NAMESPACE, else the kubeconfig's / pod's).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Languages to push (default: every configured language).
    #[arg(value_parser = parse_lang)]
    pub langs: Vec<Lang>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// step, info, ok, warn or fail.
    #[arg(value_parser = clap::value_parser!(LevelArg))]
    pub level: LevelArg,
    /// The message; several words are joined with spaces.
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    pub message: Vec<String>,
}

/// A log level as a clap value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    Step,
    Info,
    Ok,
    Warn,
    Fail,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Step => Level::Step,
            LevelArg::Info => Level::Info,
            LevelArg::Ok => Level::Ok,
            LevelArg::Warn => Level::Warn,
            LevelArg::Fail => Level::Fail,
        }
    }
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// Step name shown on the start and finish lines.
    #[arg(long)]
    pub name: String,
    /// Kill the command (and its process group) after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the state documents in the state directory.
    #[command(
        long_about = "List the state documents (`<state_key>.json`) in the configured state directory: state key, language, version, smoke status and publish time. With --json, print the documents themselves as a JSON array on stdout.",
        after_help = "Examples:\n  pkgrun state show\n  pkgrun state show --json | jq '.[] | select(.smoke.status != \"passed\")'\n\nEnvironment:\n  PKGRUN_CONFIG   path of pkgrun.toml"
    )]
    Show {
        /// Print the documents as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Empty the state directory (the directory itself is kept).
    #[command(
        long_about = "Remove everything inside the configured state directory. The directory itself is never removed (in a cluster it is a mounted volume); a missing one is created empty.",
        after_help = "Example:\n  pkgrun state clean\n\nEnvironment:\n  PKGRUN_CONFIG   path of pkgrun.toml"
    )]
    Clean,
    /// Copy the state ConfigMaps of the cluster into the state directory.
    #[command(
        long_about = "Read each language's state ConfigMap (PKGRUN_CONFIGMAP with {lang} replaced, else the section's `configmap` key, else `<lang>-packages-state`) through the Kubernetes API and write its keys (`<state_key>.json`, `<lang>-version`) into the state directory, each file atomically.\n\nEvery key of every requested ConfigMap is validated (a pkgrun.state/v1 document of that language named after its state key) before anything is written: one bad document means nothing is written (exit 2). Local documents of a language whose keys are no longer in its ConfigMap are removed only with --prune.\n\nExit codes: 2 no credentials, RBAC refusal, missing ConfigMap or a bad document; 5 API unreachable.",
        after_help = "Examples:\n  pkgrun state sync\n  pkgrun state sync --namespace ameide --prune go ts\n\nEnvironment:\n  KUBECONFIG         kubeconfig to use (else ~/.kube/config, else the in-cluster service account)\n  PKGRUN_NAMESPACE   namespace (same as --namespace)\n  PKGRUN_CONFIGMAP   ConfigMap name; {lang} is replaced by the language"
    )]
    Sync(StateSyncArgs),
    /// Apply the state directory's documents to the state ConfigMaps of the cluster.
    #[command(
        long_about = "Server-side apply each requested language's state documents (`<state_key>.json`, `<lang>-version`) from the state directory to its state ConfigMap (PKGRUN_CONFIGMAP with {lang} replaced, else the section's `configmap` key, else `<lang>-packages-state`), as the ConfigMap sink of `pkgrun run` does.\n\nIt lets the one step that needs a service-account token run apart from the runner, which executes third-party build code with no token: the runner writes the state directory, then `state push` (in its own container) writes the ConfigMap.\n\nOnly a complete, passed state is pushed: every configured package has a document whose smoke passed; otherwise nothing is written for any language (exit 4) and the ConfigMaps keep their previous state.\n\nExit codes: 2 no credentials or a bad document; 3 write refused (RBAC, conflict, over 1 MiB); 4 state incomplete or smoke not passed; 5 API unreachable.",
        after_help = "Examples:\n  pkgrun state push go\n  pkgrun state push --namespace ameide\n\nEnvironment:\n  KUBECONFIG         kubeconfig to use (else ~/.kube/config, else the in-cluster service account)\n  PKGRUN_NAMESPACE   namespace (same as --namespace)\n  PKGRUN_CONFIGMAP   ConfigMap name; {lang} is replaced by the language"
    )]
    Push(StatePushArgs),
}

/// Output format of `pkgrun env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvFormat {
    Shell,
    Dotenv,
    Github,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = EnvFormat::Shell)]
    pub format: EnvFormat,
    /// Write to this file instead of stdout (github: appended; others: replaced).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Languages to print (default: every configured language).
    #[arg(value_parser = parse_lang)]
    pub langs: Vec<Lang>,
}

/// One line per ecosystem naming its variables, from the ecosystem's constants.
fn ecosystem_env_lines() -> String {
    let mut help = String::new();
    for lang in Lang::ALL {
        let eco = lang.ecosystem();
        let (required, optional): (Vec<_>, Vec<_>) = eco
            .env_vars()
            .iter()
            .partition(|v| !matches!(v.kind, EnvKind::MustNotBypass(_)));
        let names = |vars: &[&EnvVar]| {
            vars.iter()
                .map(|v| v.documented_name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        help.push_str(&format!(
            "  {:<8} {}",
            format!("{}:", eco.name()),
            names(&required)
        ));
        if let Some(EnvKind::MustNotBypass(other)) = optional.first().map(|v| v.kind) {
            help.push_str(&format!(
                "; {} must not cover {other}'s prefixes",
                names(&optional).replace(", ", "/")
            ));
        }
        help.push('\n');
    }
    help
}

/// The help after `config`: its `--env` check names the same variables.
fn config_help() -> String {
    format!(
        "Examples:\n  pkgrun config check\n  pkgrun --config examples/monorepo/pkgrun.toml config check --env\n\nEnvironment (checked with --env):\n{}  all:     {{PREFIX}}_{{LANG}}_SDK_VERSION overrides (and _{{STATE_KEY}} ones), when set, must be valid",
        ecosystem_env_lines()
    )
}

/// The help after publish/smoke/run: the environment lines come from each ecosystem's
/// variable constants, so they cannot drift from what the env check asks for.
fn pipeline_help() -> String {
    let mut help = String::from(
        "Examples:
  pkgrun run                          publish and smoke every configured language
  pkgrun publish go                   publish the Go modules only
  VERBOSE=1 pkgrun smoke python ts    smoke what the state directory records, with tool output
  pkgrun run --jobs 1                 one language after the other (default: all at once)
  pkgrun run go --junit out/junit.xml --report-json out/report.json

Environment (checked before anything is touched; all problems reported at once, exit 2):
",
    );
    help.push_str(&ecosystem_env_lines());
    help.push_str(
        "  publish: SOURCE_GIT_SHA (else HEAD of the repository), {PREFIX}_{LANG}_SDK_VERSION overrides,
           {PREFIX}_{LANG}_SDK_VERSION_{STATE_KEY} for one package
  reports: GITHUB_STEP_SUMMARY (when set, a Markdown table per package is appended to it)
  cluster: PKGRUN_CONFIGMAP (a name, {lang} replaced) enables the ConfigMap state sink after a
           passed smoke; PKGRUN_NAMESPACE; KUBECONFIG (else the pod's service account)

  limits:  PKGRUN_HTTP_CONNECT_TIMEOUT, PKGRUN_HTTP_READ_TIMEOUT, PKGRUN_HTTP_TIMEOUT (the
           --http-* options)

Exit codes: 0 ok; 2 usage, config or environment error; 3 publish failed; 4 smoke failed;
5 registry unreachable after bounded retries; 130/143 stopped by SIGINT/SIGTERM.",
    );
    help
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// How many languages run at once (default: all requested; 1 runs them one after the
    /// other, in the order given).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// How many CPU-heavy steps (package builds, consumer installs and builds) run at once
    /// across the languages (default: the cores available). Registry requests and waits
    /// are not bounded; a step waiting for a slot says so in the log.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpu_jobs: Option<u32>,
    /// Live per-language lines on a terminal (auto: only when stderr is a TTY, CI is unset
    /// and not verbose), or plain log lines.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Write every package × step × check (status, durations, versions, digests) as JSON
    /// (`pkgrun.report/v1`, schema in schemas/pkgrun.report.v1.schema.json).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report: one testcase per package × check (publish, protocol,
    /// consumer, upstream), one testsuite per language.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Seconds to wait for a registry to accept a TCP connection before the attempt
    /// fails as a timeout (retried; default 5).
    #[arg(long, env = "PKGRUN_HTTP_CONNECT_TIMEOUT", value_name = "SECS", value_parser = parse_secs)]
    pub http_connect_timeout: Option<f64>,
    /// Read timeout, in seconds: a registry must start its answer within it of the
    /// request being sent (upload included), then never pause longer mid-body; else the
    /// attempt fails as a timeout and is retried (default 60).
    #[arg(long, env = "PKGRUN_HTTP_READ_TIMEOUT", value_name = "SECS", value_parser = parse_secs)]
    pub http_read_timeout: Option<f64>,
    /// Seconds one attempt of a registry request may take in all, connect to last byte
    /// (default 300).
    #[arg(long, env = "PKGRUN_HTTP_TIMEOUT", value_name = "SECS", value_parser = parse_secs)]
    pub http_timeout: Option<f64>,
    /// Languages to act on (default: every configured language).
    #[arg(value_parser = parse_lang)]
    pub langs: Vec<Lang>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Languages to print (default: every configured language).
    #[arg(value_parser = parse_lang)]
    pub langs: Vec<Lang>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate pkgrun.toml and every package manifest, and print a summary.
    #[command(
        long_about = "Load pkgrun.toml, check every key and every package (directory, manifest, name, state key, base version, smoke checks, sibling dependency cycles) and print a summary. With --env, also check the environment contract of every configured language (registry URLs, credentials, GONOSUMDB/GOPRIVATE, version overrides) and report every problem at once.",
        after_help = config_help()
    )]
    Check {
        /// Also check the environment contract of the configured languages.
        #[arg(long)]
        env: bool,
    },
}

/// `VERBOSE` is on for `1`, `true`, `yes`, `on` (any case) and off for anything else,
/// the same rule as the shell/Node/Python log adapters in scripts/lib.
fn parse_verbose(s: &str) -> Result<bool, std::convert::Infallible> {
    Ok(log::verbose_enabled(Some(s)))
}

/// A positive number of seconds (fractions allowed), at most a day.
fn parse_secs(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!(
            "`{s}` is not a number of seconds between 0 and 86400 (e.g. 5 or 0.5)"
        )),
    }
}

pub(crate) fn parse_lang(s: &str) -> Result<Lang, String> {
    s.parse::<Lang>().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn http_limits_are_positive_seconds_from_option_or_variable() {
        assert_eq!(parse_secs("0.5"), Ok(0.5));
        for bad in ["0", "-1", "abc", "NaN", "100000"] {
            assert!(parse_secs(bad).unwrap_err().contains(bad), "{bad}");
        }
        let cli = Cli::try_parse_from(["pkgrun", "run", "--http-read-timeout", "2", "go"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.http_read_timeout, Some(2.0));
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_names_every_ecosystem_variable() {
        for help in [pipeline_help(), config_help()] {
            for lang in Lang::ALL {
                for var in lang.ecosystem().env_vars() {
                    assert!(help.contains(&var.documented_name()), "{}", var.name);
                }
            }
        }
    }
}
