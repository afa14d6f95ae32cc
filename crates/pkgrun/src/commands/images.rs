//! `pkgrun images plan|build`: which runner images' inputs changed since the last build,
//! and building just those with `docker build` (see [`crate::images`] for the inputs).
//!
//! The build goes through the docker CLI, so `DOCKER_HOST` and the CLI's own config
//! apply. `docker buildx bake` with `images/docker-bake.hcl` builds the same staged
//! contexts in CI; this command uses the plain `docker build`, which every engine has.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use pkgrun_core::process::{run_step, StepCommand};
use pkgrun_core::{ExitStatus, Lang};

use super::{load_config, logger, Outcome};
use crate::cli::Globals;
use crate::images::{self, Planned, Record, RecordedImage, Sources, BASE_ARG};
use crate::report::CliError;

/// The static binary `cargo build --release --target <this>` makes.
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Print each runner image's input digest and whether it changed since the last build.
    #[command(
        long_about = "Print, per runner image (package-publisher-<lang>), the SHA-256 digest of its inputs — its Dockerfile, its base image (BASE_IMAGE), the pkgrun sources (Cargo.toml, Cargo.lock, crates/ except go-registry), pkgrun.toml and the directories of that language's packages (ignore rules honoured) — and whether it differs from the digest `pkgrun images build` recorded in <work-dir>/built.json (default <repo>/target/images/built.json).\n\nExit code 0 whether or not anything changed; read `changed` (or the JSON) to decide.",
        after_help = "Examples:\n  pkgrun --config examples/monorepo/pkgrun.toml images plan\n  pkgrun images plan --json go"
    )]
    Plan(ImagesArgs),
    /// Build (and optionally push) the runner images whose inputs changed.
    #[command(
        long_about = "Build the runner images whose input digest differs from the recorded one (or whose image is missing from the engine), with `docker build` on a staged context (<work-dir>/<lang>, default <repo>/target/images/<lang>: the Dockerfile, the static pkgrun, pkgrun.toml and that language's packages), tag them <registry>/package-publisher-<lang>:<tag>, and record their digests. Unchanged images are not built.\n\nThe static pkgrun must be built first: cargo build --release --target x86_64-unknown-linux-musl -p pkgrun.\n\nExit codes: 2 docker missing, bad arguments or no pkgrun binary; 3 a build or push failed (images built before it are recorded).",
        after_help = "Examples:\n  pkgrun --config examples/monorepo/pkgrun.toml images build\n  pkgrun images build --tag latest --push\n  pkgrun images build --base go=pkgrun-standin/golang:1.26-alpine --network host go\n\nEnvironment:\n  DOCKER_HOST   the engine to build with (docker CLI)"
    )]
    Build(BuildArgs),
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The pkgrun source repository (with images/, crates/, Cargo.lock).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// Staged build contexts and the record of built digests (default: <repo>/target/images).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Image name prefix.
    #[arg(long, value_name = "PREFIX", default_value = "registry.local/ameide")]
    pub registry: String,
    /// Image tag.
    #[arg(long, default_value = "dev")]
    pub tag: String,
    /// Base image of one language instead of the Dockerfile's default (repeatable).
    #[arg(long, value_name = "LANG=IMAGE", value_parser = parse_base)]
    pub base: Vec<(Lang, String)>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Languages (default: every configured language).
    #[arg(value_parser = crate::cli::parse_lang)]
    pub langs: Vec<Lang>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub plan: ImagesArgs,
    /// The static pkgrun to copy in (default: <repo>/target/x86_64-unknown-linux-musl/release/pkgrun).
    #[arg(long, value_name = "PATH")]
    pub pkgrun_bin: Option<PathBuf>,
    /// `docker build --network` (e.g. host on an engine without a bridge).
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Extra `--build-arg NAME=VALUE` (repeatable; not for secrets: build args are kept in the image history).
    #[arg(long, value_name = "NAME=VALUE")]
    pub build_arg: Vec<String>,
    /// Push each built tag afterwards.
    #[arg(long)]
    pub push: bool,
}

fn parse_base(s: &str) -> Result<(Lang, String), String> {
    let (lang, image) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected LANG=IMAGE, e.g. go=golang:1.26-alpine"))?;
    let lang = crate::cli::parse_lang(lang)?;
    if image.trim().is_empty() {
        return Err(format!("{s:?}: the image is empty"));
    }
    Ok((lang, image.to_string()))
}

pub fn run(command: ImagesCommand, globals: &Globals) -> Result<Outcome> {
    match command {
        ImagesCommand::Plan(args) => {
            let (_, planned) = plan_all(&args, None, globals)?;
            print_plan(&planned, args.json)?;
            Ok(Outcome::SUCCESS)
        }
        ImagesCommand::Build(args) => build(args, globals),
    }
}

fn plan_all(
    args: &ImagesArgs,
    pkgrun_bin: Option<PathBuf>,
    globals: &Globals,
) -> Result<(Sources, Vec<Planned>)> {
    let config = load_config(globals)?;
    let langs = pkgrun_core::plan::select_languages(&config, &args.langs)
        .map_err(|m| CliError::usage(m, None))?;
    let repo = std::path::absolute(&args.repo)
        .with_context(|| format!("cannot resolve {}", args.repo.display()))?;
    let sources = Sources {
        pkgrun_bin: pkgrun_bin
            .unwrap_or_else(|| repo.join("target").join(MUSL_TARGET).join("release/pkgrun")),
        work_dir: match &args.work_dir {
            Some(dir) => std::path::absolute(dir)
                .with_context(|| format!("cannot resolve {}", dir.display()))?,
            None => repo.join("target/images"),
        },
        repo,
    };
    let record = Record::read(&sources.record_path())?;
    let mut planned = Vec::new();
    for lang in langs {
        let image = format!(
            "{}/{}:{}",
            args.registry.trim_end_matches('/'),
            images::image_name(lang),
            args.tag
        );
        let base = args.base.iter().rev().find(|(l, _)| *l == lang);
        planned.push(images::plan(
            &sources,
            &config,
            lang,
            image,
            base.map(|(_, b)| b.as_str()),
            &record,
        )?);
    }
    Ok((sources, planned))
}

fn print_plan(planned: &[Planned], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "images": planned }))?
        );
        return Ok(());
    }
    for p in planned {
        println!(
            "{:<7} {} {} {} ({} files, base {})",
            p.language,
            if p.changed { "changed  " } else { "unchanged" },
            p.digest,
            p.image,
            p.files,
            p.base
        );
    }
    Ok(())
}

fn build(args: BuildArgs, globals: &Globals) -> Result<Outcome> {
    let log = logger(globals);
    let (sources, planned) = plan_all(&args.plan, args.pkgrun_bin.clone(), globals)?;
    if !sources.pkgrun_bin.is_file() {
        return Err(CliError::usage(
            format!("no static pkgrun at {}", sources.pkgrun_bin.display()),
            Some(format!("build it first: cargo build --release --target {MUSL_TARGET} -p pkgrun (or pass --pkgrun-bin)")),
        )
        .into());
    }
    if pkgrun_lang::tool::find_on_path("docker").is_none() {
        return Err(CliError::usage(
            "docker is not on PATH",
            Some("install the docker CLI (scripts/tools/install-docker-engine.sh) and point DOCKER_HOST at an engine".into()),
        )
        .into());
    }
    let record_path = sources.record_path();
    let mut record = Record::read(&record_path)?;
    let mut built = 0;
    for p in &planned {
        if !p.changed && image_exists(&p.image) {
            log.info(&format!(
                "{} unchanged ({}), not rebuilt",
                p.image, p.digest
            ));
            continue;
        }
        let context = sources.context_dir(p.language);
        images::stage(&sources, p, &context)?;
        let mut cmd = StepCommand::new(format!("docker build {}", p.image), "docker")
            .args(["build", "--tag", &p.image, "--build-arg"])
            .arg(format!("{BASE_ARG}={}", p.base))
            .arg("--label")
            .arg(format!("io.pkgrun.inputs.digest={}", p.digest))
            .merge_output();
        if let Some(network) = &args.network {
            cmd = cmd.args(["--network", network]);
        }
        for extra in &args.build_arg {
            cmd = cmd.args(["--build-arg", extra]);
        }
        cmd = cmd.arg(&context);
        if let Err(e) = run_step(&log, &cmd) {
            record.write(&record_path)?;
            return Err(CliError {
                status: ExitStatus::Publish,
                message: format!("building {} failed: {e}", p.image),
                hint: Some(format!("the staged context is {}", context.display())),
            }
            .into());
        }
        if args.push {
            let push = StepCommand::new(format!("docker push {}", p.image), "docker")
                .args(["push", &p.image])
                .merge_output();
            if let Err(e) = run_step(&log, &push) {
                record.write(&record_path)?;
                return Err(CliError {
                    status: ExitStatus::Publish,
                    message: format!("pushing {} failed: {e}", p.image),
                    hint: None,
                }
                .into());
            }
        }
        record.images.insert(
            p.language.as_str().to_string(),
            RecordedImage {
                image: p.image.clone(),
                digest: p.digest.clone(),
            },
        );
        record.write(&record_path)?;
        built += 1;
    }
    log.ok(&format!(
        "{built} of {} runner images built; digests in {}",
        planned.len(),
        record_path.display()
    ));
    Ok(Outcome::SUCCESS)
}

/// Whether the engine has `image` (an image recorded as built may have been removed).
fn image_exists(image: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
