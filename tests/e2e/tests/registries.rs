//! Proves the harness registries work as the runner suites assume: a real Verdaccio accepts a
//! token-authenticated `npm publish` and serves it to a fresh `npm install`, proxies and caches
//! public packages (surviving the upstream going away); a real devpi accepts a legacy upload
//! and serves it to a fresh venv's `pip install`, and mirrors public projects on the same URL.

use anyhow::{Context, Result};
use pkgrun_e2e::process::{ok, output};
use pkgrun_e2e::{tools_bin, Devpi, Venv, Verdaccio};
use std::path::Path;
use std::process::Command;

/// `npm` in `dir` with its own empty cache and user config, so nothing comes from this
/// machine's caches or settings: the project's `.npmrc` names the registry.
fn npm(dir: &Path, home: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir)
        .env("npm_config_cache", home.join("npm-cache"))
        .env("NPM_CONFIG_USERCONFIG", home.join("user.npmrc"))
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false");
    cmd
}

/// A throwaway consumer project whose `.npmrc` points at `registry`.
fn consumer(root: &Path, name: &str, npmrc: &str) -> Result<std::path::PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("package.json"),
        format!(r#"{{"name":"{name}","version":"1.0.0","private":true,"type":"module"}}"#),
    )?;
    std::fs::write(dir.join(".npmrc"), npmrc)?;
    Ok(dir)
}

#[test]
fn verdaccio_publish_with_token_then_fresh_install() -> Result<()> {
    let verdaccio = Verdaccio::start()?;
    let tmp = tempfile::tempdir()?;

    let pkg = tmp.path().join("probe");
    std::fs::create_dir_all(&pkg)?;
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"@ameideio/harness-probe","version":"1.0.0","type":"module","main":"index.js","exports":{".":"./index.js"}}"#,
    )?;
    std::fs::write(pkg.join("index.js"), "export const answer = 42;\n")?;

    // A wrong token is refused: the registry really enforces auth.
    std::fs::write(
        pkg.join(".npmrc"),
        verdaccio.npmrc(Some("not-a-valid-token")),
    )?;
    let refused =
        output(npm(&pkg, &tmp.path().join("home-bad")).args(["publish", "--access", "public"]))?;
    assert!(
        !refused.status.success(),
        "publish with a bad token must fail"
    );

    std::fs::write(pkg.join(".npmrc"), verdaccio.npmrc(Some(verdaccio.token())))?;
    ok(npm(&pkg, &tmp.path().join("home-pub")).args(["publish", "--access", "public"]))?;

    let app = consumer(tmp.path(), "app", &verdaccio.npmrc(None))?;
    ok(npm(&app, &tmp.path().join("home-app")).args(["install", "@ameideio/harness-probe@1.0.0"]))?;
    ok(Command::new("node").current_dir(&app).args([
        "--input-type=module",
        "-e",
        "import { answer } from '@ameideio/harness-probe'; if (answer !== 42) process.exit(3);",
    ]))?;

    // The lock file of the consumer resolved the tarball from this Verdaccio.
    let lock = std::fs::read_to_string(app.join("package-lock.json")).unwrap_or_default();
    let resolved_here =
        lock.contains(&format!("127.0.0.1:{}", verdaccio.port())) || !lock.contains("\"resolved\"");
    assert!(
        resolved_here,
        "consumer resolved the package elsewhere:\n{lock}"
    );
    Ok(())
}

#[test]
fn verdaccio_proxies_public_packages_and_serves_them_from_cache_when_upstream_is_gone() -> Result<()>
{
    let (verdaccio, mut forwarder) = Verdaccio::start_with_forwarded_uplink()?;
    let tmp = tempfile::tempdir()?;

    // The internal scope is served from local storage only: asking for an unknown
    // `@ameideio/*` package is a 404 without any upstream connection.
    let scoped = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("{}@ameideio%2fnot-published-here", verdaccio.url()))
        .send()?;
    assert_eq!(scoped.status().as_u16(), 404);
    assert_eq!(
        forwarder.connections(),
        0,
        "the internal scope was proxied upstream"
    );

    let first = consumer(tmp.path(), "first", &verdaccio.npmrc(None))?;
    ok(npm(&first, &tmp.path().join("home-1")).args(["install", "is-number@7.0.0"]))?;
    assert!(first.join("node_modules/is-number/package.json").is_file());
    assert!(
        forwarder.connections() > 0,
        "the uplink was not reached through the forwarder"
    );
    let cached = verdaccio
        .storage_dir()
        .join("is-number/is-number-7.0.0.tgz");
    assert!(
        cached.is_file(),
        "verdaccio did not cache the tarball at {}",
        cached.display()
    );

    // Upstream unreachable from now on.
    forwarder.shutdown();

    let second = consumer(tmp.path(), "second", &verdaccio.npmrc(None))?;
    ok(npm(&second, &tmp.path().join("home-2")).args(["install", "is-number@7.0.0"]))?;
    assert!(second.join("node_modules/is-number/package.json").is_file());

    // And a package that was never fetched cannot come through: the cut is real.
    let third = consumer(tmp.path(), "third", &verdaccio.npmrc(None))?;
    let missing = output(npm(&third, &tmp.path().join("home-3")).args([
        "install",
        "--fetch-retries=0",
        "is-odd@3.0.1",
    ]))?;
    assert!(
        !missing.status.success(),
        "is-odd installed although the upstream was cut"
    );
    Ok(())
}

/// Builds a one-module wheel of `pkgrun-harness-probe` 0.1.0 with uv (the build
/// backend comes from uv's default index, which is allowed for setup).
fn build_probe_wheel(root: &Path) -> Result<std::path::PathBuf> {
    let src = root.join("probe");
    std::fs::create_dir_all(src.join("src/pkgrun_harness_probe"))?;
    std::fs::write(
        src.join("pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"pkgrun-harness-probe\"\nversion = \"0.1.0\"\n",
    )?;
    std::fs::write(
        src.join("src/pkgrun_harness_probe/__init__.py"),
        "ANSWER = 42\n",
    )?;
    let out = root.join("dist");
    ok(Command::new(tools_bin("uv"))
        .current_dir(&src)
        .args(["build", "--wheel", "--out-dir"])
        .arg(&out))?;
    let wheel = std::fs::read_dir(&out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| format!("uv build left no wheel in {}", out.display()))?;
    Ok(wheel)
}

/// A fresh venv whose pip sees nothing but the given `--index-url` (no local wheel
/// directory, no machine config; `--no-cache-dir` at each call).
fn fresh_venv(root: &Path) -> Result<Venv> {
    Venv::create(&root.join("venv"))
}

fn pip(venv: &Venv) -> Command {
    let mut cmd = venv.pip();
    cmd.env_remove("PIP_FIND_LINKS")
        .env("PIP_CONFIG_FILE", "/dev/null");
    cmd
}

#[test]
fn devpi_legacy_upload_then_fresh_pip_install() -> Result<()> {
    let devpi = Devpi::start()?;
    let tmp = tempfile::tempdir()?;
    let wheel = build_probe_wheel(tmp.path())?;

    let (status, body) = devpi.upload(&wheel, "pkgrun-harness-probe", "0.1.0")?;
    assert_eq!(status, 200, "upload refused: {body}");

    // Re-uploading the identical file is accepted as a no-op (what re-runs rely on).
    let (again, body) = devpi.upload(&wheel, "pkgrun-harness-probe", "0.1.0")?;
    assert_eq!(again, 200, "identical re-upload refused: {body}");

    // The index is non-volatile: a different file under the same name is refused.
    let other = tmp.path().join("other").join(wheel.file_name().unwrap());
    std::fs::create_dir_all(other.parent().unwrap())?;
    let mut bytes = std::fs::read(&wheel)?;
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&other, bytes)?;
    let (status, _) = devpi.upload(&other, "pkgrun-harness-probe", "0.1.0")?;
    assert_eq!(
        status, 409,
        "overwriting a released file must be refused with 409, got {status}"
    );

    let venv = fresh_venv(tmp.path())?;
    ok(pip(&venv)
        .args(["install", "--no-cache-dir", "--index-url"])
        .arg(devpi.simple_url())
        .arg("pkgrun-harness-probe==0.1.0"))?;
    ok(Command::new(venv.python()).args([
        "-c",
        "import pkgrun_harness_probe as p, sys; sys.exit(0 if p.ANSWER == 42 else 3)",
    ]))?;
    Ok(())
}

#[test]
fn devpi_mirrors_public_projects_on_the_same_simple_url() -> Result<()> {
    let devpi = Devpi::start()?;
    let tmp = tempfile::tempdir()?;

    let venv = fresh_venv(tmp.path())?;
    let dest = tmp.path().join("downloads");
    ok(pip(&venv)
        .args([
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--only-binary",
            ":all:",
            "--index-url",
        ])
        .arg(devpi.simple_url())
        .arg("--dest")
        .arg(&dest)
        .arg("iniconfig==2.0.0"))?;
    assert!(dest.join("iniconfig-2.0.0-py3-none-any.whl").is_file());

    // The file link on the index page points into devpi's own mirror file store.
    let page_url = reqwest::Url::parse(&format!("{}iniconfig/", devpi.simple_url()))?;
    let page = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()?
        .get(page_url.clone())
        .send()?
        .text()?;
    let href = page
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|h| h.contains("iniconfig-2.0.0-py3-none-any.whl"))
        .context("iniconfig 2.0.0 wheel not listed on the index page")?;
    let file_url = page_url.join(href)?;
    assert_eq!(file_url.host_str(), Some("127.0.0.1"), "{file_url}");
    assert!(
        file_url.path().starts_with("/root/pypi/+f/"),
        "not a devpi mirror file: {file_url}"
    );
    Ok(())
}
