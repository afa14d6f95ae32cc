//! Stamping and building in the throwaway copy: `version` and the sibling pins in
//! package.json, the dependencies installed from the registry with the workspace's
//! client, the package's own `build` script, and the tarball packed by the same client.

use std::path::{Path, PathBuf};

use pkgrun_core::config::Package;

use super::manifest::{self, PackageJson};
use super::tool::{Client, NpmEnv};
use super::{registry, registry_url, TsBuild};
use crate::adapter::{BuildJob, Context};
use crate::digest;
use crate::failure::{Failure, FailureKind};

/// Stamps and pins the copy, installs its dependencies, runs its build script and packs it.
pub(crate) fn build(ctx: &Context, job: &BuildJob) -> Result<TsBuild, Failure> {
    // The install below needs the registry; ask it once through the bounded-retry
    // client first, so an unreachable registry is reported as such (exit 5) rather
    // than as a failed install.
    registry(ctx)?.packument(&job.package.name)?;
    let pkg = stamp(ctx, job)?;
    let client = Client::detect(&job.package.dir, ctx.config.root());
    let npm = build_env(ctx, job.package, client)?;
    install(ctx, &npm, client, job)?;
    run_build_script(ctx, &npm, client, &pkg, job)?;
    pack(ctx, &npm, client, job)
}

/// Stamps the version, pins the siblings and writes the copy's `package.json`;
/// refuses a private package and references to repository packages not pinned.
fn stamp(ctx: &Context, job: &BuildJob) -> Result<PackageJson, Failure> {
    let package = job.package;
    let manifest_path = job.workdir.join("package.json");
    let mut pkg = PackageJson::read(&manifest_path).map_err(Failure::publish)?;
    if matches!(pkg.root.get("private"), Some(manifest::Json::Bool(true))) {
        return Err(Failure::publish(format!(
            "{} is marked \"private\": true in its package.json, so npm would refuse to publish it",
            package.name
        ))
        .with_hint(format!(
            "remove \"private\": true from the package, or remove it from [ts] in {}",
            ctx.config.path().display()
        )));
    }
    pkg.set_version(&job.version);
    let pins: Vec<(&str, &str)> = job
        .pins
        .iter()
        .map(|p| (p.package.name.as_str(), p.version.as_str()))
        .collect();
    for rewrite in pkg.pin(&pins) {
        ctx.log.info(&format!(
            "{}: {} {} {} → {}",
            package.name, rewrite.field, rewrite.name, rewrite.from, rewrite.to
        ));
    }
    let unpinned = pkg.local_references();
    if !unpinned.is_empty() {
        let list: Vec<String> = unpinned
            .iter()
            .map(|(field, name, range)| format!("{field}.{name} = {range}"))
            .collect();
        return Err(Failure::publish(format!(
            "{} depends on packages of the repository that this run does not publish: {}",
            package.name,
            list.join(", ")
        ))
        .with_hint(format!(
            "add them as [[ts.packages]] in {} (then they are published first and pinned), or depend on a registry version",
            ctx.config.path().display()
        )));
    }
    fs_err::write(&manifest_path, pkg.render())?;
    Ok(pkg)
}

/// The npm environment of the build (its own cache and `.npmrc`); a pnpm workspace
/// needs pnpm on `PATH`.
fn build_env(ctx: &Context, package: &Package, client: Client) -> Result<NpmEnv, Failure> {
    if client == Client::Pnpm && crate::tool::find_on_path("pnpm").is_none() {
        return Err(Failure::publish(format!(
            "{} is in a pnpm workspace, but pnpm is not on PATH",
            package.name
        ))
        .with_hint("install pnpm in the runner image (or put it on PATH); pkgrun builds pnpm workspaces with pnpm"));
    }
    NpmEnv::new(
        ctx,
        &format!("build-{}", package.state_key),
        registry_url(ctx.env)?,
    )
}

/// Installs the dependencies of the stamped copy from the registry.
fn install(ctx: &Context, npm: &NpmEnv, client: Client, job: &BuildJob) -> Result<(), Failure> {
    let package = job.package;
    let dir = &job.workdir;
    let install = match client {
        // The copy is outside the workspace; --ignore-workspace keeps pnpm from
        // looking for one, and no lock file is read or written (the pins changed).
        Client::Pnpm => npm
            .command(
                format!("install dependencies of {} (pnpm)", package.name),
                "pnpm",
                dir,
            )
            .args([
                "install",
                "--ignore-workspace",
                "--lockfile=false",
                "--reporter=append-only",
            ])
            .arg("--store-dir")
            .arg(npm.cache_dir().join("pnpm-store")),
        Client::Npm => npm
            .command(
                format!("install dependencies of {} (npm)", package.name),
                "npm",
                dir,
            )
            .args([
                "install",
                "--no-package-lock",
                "--include=dev",
                "--no-audit",
                "--no-fund",
            ]),
    };
    run_shown(ctx, &install, &format!("installing the dependencies of {} failed", package.name))
        .map_err(|f| f.with_hint("the dependencies must install from NPM_REGISTRY_URL (siblings are published first): see the output above"))?;
    Ok(())
}

/// Runs the package's `build` script, if it has one.
fn run_build_script(
    ctx: &Context,
    npm: &NpmEnv,
    client: Client,
    pkg: &PackageJson,
    job: &BuildJob,
) -> Result<(), Failure> {
    let package = job.package;
    if !pkg.has_script("build") {
        ctx.log.info(&format!(
            "{} has no build script; packing its sources",
            package.name
        ));
        return Ok(());
    }
    let build = npm
        .command(
            format!("build script of {}", package.name),
            client.program(),
            &job.workdir,
        )
        .args(["run", "build"]);
    run_shown(
        ctx,
        &build,
        &format!("the build script of {} failed", package.name),
    )
    .map_err(|f| f.with_hint("fix the package's `build` script; its output is shown above"))
}

/// Packs the built copy and reads back the tarball's manifest and digests.
fn pack(ctx: &Context, npm: &NpmEnv, client: Client, job: &BuildJob) -> Result<TsBuild, Failure> {
    let package = job.package;
    let out = ctx.scratch_dir(&format!("pack-{}", package.state_key))?;
    let pack = npm
        .command(
            format!("pack {}", package.name),
            client.program(),
            &job.workdir,
        )
        .arg("pack")
        .arg("--pack-destination")
        .arg(&out);
    run_shown(ctx, &pack, &format!("packing {} failed", package.name))?;
    let path = single_tarball(&out)?;
    let bytes = fs_err::read(&path)?;
    let manifest = manifest::manifest_from_tarball(&bytes).map_err(|e| {
        Failure::publish(format!(
            "{} pack made an unreadable tarball: {e}",
            client.program()
        ))
    })?;
    check_packed_manifest(&manifest, &package.name, &job.version)?;
    Ok(TsBuild {
        file: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        integrity: digest::integrity_sha512(&bytes),
        shasum: digest::sha1_hex(&bytes),
        sha256: digest::sha256_hex(&bytes),
        path,
        bytes,
        manifest,
        client,
    })
}

/// Runs a build tool whose whole output the step has already shown when it failed:
/// the failure says what failed and how the tool ended, without repeating its output.
fn run_shown(
    ctx: &Context,
    cmd: &pkgrun_core::process::StepCommand,
    what: &str,
) -> Result<(), Failure> {
    ctx.run(cmd, FailureKind::Publish).map(drop).map_err(|f| {
        // Context::run's message ends in the child's end: `exit status N`, `killed by signal N`.
        let ended = f
            .message
            .rsplit(": ")
            .next()
            .unwrap_or(&f.message)
            .to_string();
        Failure::new(f.kind, format!("{what}: {ended}"))
    })
}

/// The one `.tgz` the pack step wrote.
fn single_tarball(dir: &Path) -> Result<PathBuf, Failure> {
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tgz") {
            found.push(path);
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(Failure::publish(format!(
            "pack wrote {n} tarballs to {}, expected one",
            dir.display()
        ))),
    }
}

/// What was packed is what this run means to publish: the stamped name and version,
/// and no dependency left pointing into the repository.
fn check_packed_manifest(manifest: &PackageJson, name: &str, version: &str) -> Result<(), Failure> {
    if manifest.name() != Some(name) || manifest.version() != Some(version) {
        return Err(Failure::publish(format!(
            "the packed package.json says {}@{}, expected {name}@{version}",
            manifest.name().unwrap_or("<no name>"),
            manifest.version().unwrap_or("<no version>")
        ))
        .with_hint("a lifecycle script (prepack/prepare) rewrote package.json; pkgrun stamps the version itself"));
    }
    let local = manifest.local_references();
    if !local.is_empty() {
        let list: Vec<String> = local
            .iter()
            .map(|(f, n, r)| format!("{f}.{n} = {r}"))
            .collect();
        return Err(Failure::publish(format!(
            "the packed package.json still points into the repository: {}",
            list.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_manifest_must_match_the_stamp() {
        let ok =
            PackageJson::parse(r#"{"name":"@s/a","version":"1.0.0","dependencies":{"b":"1.0.0"}}"#)
                .unwrap();
        assert!(check_packed_manifest(&ok, "@s/a", "1.0.0").is_ok());
        assert!(check_packed_manifest(&ok, "@s/a", "1.0.1").is_err());
        let local = PackageJson::parse(
            r#"{"name":"@s/a","version":"1.0.0","dependencies":{"b":"workspace:*"}}"#,
        )
        .unwrap();
        let err = check_packed_manifest(&local, "@s/a", "1.0.0").unwrap_err();
        assert!(err.message.contains("workspace:*"), "{err}");
    }
}
