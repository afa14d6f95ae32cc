//! `pkgrun publish|smoke|run ts` end to end: the real `pkgrun` binary against a real
//! Verdaccio on loopback (htpasswd auth, `@ameideio/*` local only, everything else
//! proxied with caching), real pnpm/npm/node, on copies of `examples/monorepo`.
//!
//! * the whole job on the example, then a separate fresh project installs the recorded
//!   version; the workspace copy is byte-identical afterwards; the upstream probe still
//!   passes after the uplink's loopback forwarder is shut down (Verdaccio's cache);
//! * an override release version: `latest` dist-tag, a re-run with identical sources is
//!   `already-present` (reproducible tarballs), changed sources are refused naming both
//!   integrities; a bad token (exit 3, previous state intact); a failing build script
//!   (exit 3, its output shown with the standard prefix) while a sibling's snapshot goes to
//!   `dev` without moving `latest`; a configured export that is missing (exit 4);
//! * an npm workspace with a `file:` sibling range (npm builds it); then the registry
//!   serves other bytes for the version (exit 4), then it is down (exit 5);
//! * an unreachable registry (exit 5).

use anyhow::{bail, Context, Result};
use pkgrun_e2e::workspace::{pkgrun_with_ts_env, tree_digest};
use pkgrun_e2e::{copy_tree, example_monorepo, free_port, Verdaccio};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A sha whose 12-digit prefix is all digits: the version must use `g<sha12>`.
const DIGIT_SHA: &str = "0123456789010123456789010123456789010123";
const LETTER_SHA: &str = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0";
const SDK: &str = "@ameideio/ameide-sdk-ts";
const TELEMETRY: &str = "@ameideio/ameide-telemetry-ts";

/// A copy of the example monorepo and a private HOME for the tools.
struct Workspace {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

impl Workspace {
    fn new() -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("pkgrun-ts-e2e-")
            .tempdir()?;
        let root = tmp.path().join("monorepo");
        copy_tree(&example_monorepo(), &root)?;
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home)?;
        Ok(Self {
            _tmp: tmp,
            root,
            home,
        })
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("tmp/tilt-packages")
    }

    fn state(&self, key: &str) -> Result<Value> {
        let path = self.state_dir().join(format!("{key}.json"));
        let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
        Ok(serde_json::from_str(&text)?)
    }

    fn state_bytes(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(self.state_dir()) {
            for e in entries.flatten() {
                out.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap_or_default(),
                );
            }
        }
        out
    }

    /// `pkgrun <args>` in the workspace with the ts environment contract.
    fn pkgrun(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Run> {
        let mut cmd = pkgrun_with_ts_env(&self.root, &self.home);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.output().context("run pkgrun")?;
        Ok(Run::from(output))
    }
}

struct Run {
    code: Option<i32>,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    fn expect(self, code: i32, what: &str) -> Result<Self> {
        if self.code != Some(code) {
            bail!(
                "{what}: expected exit {code}, got {:?}; stderr:\n{}",
                self.code,
                self.stderr
            );
        }
        Ok(self)
    }
}

fn env(v: &Verdaccio, token: &str, sha: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NPM_REGISTRY_URL", v.url()),
        ("NPM_AUTH_TOKEN", token.to_owned()),
        ("SOURCE_GIT_SHA", sha.to_owned()),
    ]
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn packument(v: &Verdaccio, name: &str) -> Result<Value> {
    let url = format!("{}{}", v.url(), name.replace('/', "%2f"));
    let resp = reqwest::blocking::get(&url)?;
    if !resp.status().is_success() {
        bail!("GET {url}: {}", resp.status());
    }
    Ok(resp.json()?)
}

/// A project outside pkgrun: fresh npm cache, only the registry configured; installs
/// `spec` and runs `script` as an ES module in it.
fn fresh_consumer(v: &Verdaccio, spec: &str, script: &str) -> Result<String> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"downstream-service","version":"1.0.0","private":true,"type":"module"}"#,
    )?;
    std::fs::write(dir.join(".npmrc"), v.npmrc(None))?;
    let npm = |args: &[&str]| -> Result<Output> {
        Ok(Command::new("npm")
            .args(args)
            .current_dir(dir)
            .env("NPM_CONFIG_USERCONFIG", dir.join(".npmrc"))
            .env("npm_config_cache", dir.join("cache"))
            .env("npm_config_update_notifier", "false")
            .output()?)
    };
    let out = npm(&["install", "--no-audit", "--no-fund", spec])?;
    if !out.status.success() {
        bail!(
            "npm install {spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(dir.join("main.js"), script)?;
    let out = Command::new("node")
        .arg("main.js")
        .current_dir(dir)
        .output()?;
    if !out.status.success() {
        bail!("node main.js: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn run_ts_publishes_smokes_and_a_fresh_project_installs_the_recorded_version() -> Result<()> {
    let (verdaccio, mut uplink) = Verdaccio::start_with_forwarded_uplink()?;
    let ws = Workspace::new()?;
    let before = tree_digest(&ws.root)?;
    let e = env(&verdaccio, verdaccio.token(), DIGIT_SHA);

    ws.pkgrun(&["run", "ts"], &pairs(&e))?
        .expect(0, "pkgrun run ts")?;

    // The workspace was not touched (no stamped manifest, no node_modules, no dist).
    assert_eq!(
        tree_digest(&ws.root)?,
        before,
        "pkgrun changed the workspace"
    );

    let version = std::fs::read_to_string(ws.state_dir().join("ts-version"))?
        .trim()
        .to_owned();
    assert!(
        version.starts_with("0.1.0-dev.") && version.ends_with(".g012345678901"),
        "{version}"
    );
    let sdk = ws.state("ameide-sdk-ts")?;
    let telemetry = ws.state("ameide-telemetry-ts")?;
    assert_eq!(sdk["version"], version.as_str());
    assert_eq!(sdk["publish"]["outcome"], "uploaded");
    assert_eq!(sdk["smoke"]["status"], "passed", "{sdk:#}");
    assert_eq!(sdk["dependencies"][0]["package"], TELEMETRY);
    assert_eq!(sdk["dependencies"][0]["version"], telemetry["version"]);
    let probe = &sdk["smoke"]["upstream_probe"];
    assert_eq!(probe["target"], "lodash@4.17.21");
    assert_eq!(probe["status"], "passed", "{probe:#}");

    // The token is in no state document.
    for (file, bytes) in ws.state_bytes() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(verdaccio.token()), "token in {file}");
    }

    // The registry serves exactly the recorded tarball, under the dev dist-tag.
    let artifact = &sdk["artifacts"][0];
    let doc = packument(&verdaccio, SDK)?;
    assert_eq!(doc["dist-tags"]["dev"], version.as_str());
    let dist = &doc["versions"][&version]["dist"];
    assert_eq!(dist["integrity"], artifact["integrity"]);
    assert_eq!(dist["shasum"], artifact["shasum"]);
    let bytes = reqwest::blocking::get(dist["tarball"].as_str().unwrap())?.bytes()?;
    assert_eq!(bytes.len() as u64, artifact["size"].as_u64().unwrap());
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        artifact["sha256"].as_str().unwrap()
    );
    // The published manifest pins the sibling to this run's exact version.
    assert_eq!(
        doc["versions"][&version]["dependencies"][TELEMETRY],
        telemetry["version"]
    );

    // A downstream service installs the recorded version and uses it.
    let out = fresh_consumer(
        &verdaccio,
        &format!("{SDK}@{version}"),
        &format!(
            "import {{ createClient }} from '{SDK}';\n\
             import {{ organizationSlug }} from '{SDK}/platform/organizations';\n\
             const c = createClient('http://127.0.0.1:9/api/');\n\
             console.log(c.url('organizations'), organizationSlug('Ameide Labs GmbH'), c.telemetry.constructor.name);\n"
        ),
    )?;
    assert!(
        out.contains("http://127.0.0.1:9/api/v1/organizations ameide-labs-gmbh"),
        "{out}"
    );

    // Verdaccio cached lodash: with the uplink cut, the probe still gets it twice.
    assert!(
        uplink.connections() > 0,
        "nothing went through the uplink forwarder"
    );
    uplink.shutdown();
    ws.pkgrun(&["smoke", "ts"], &pairs(&e))?
        .expect(0, "pkgrun smoke ts with the uplink shut down")?;
    let sdk = ws.state("ameide-sdk-ts")?;
    assert_eq!(
        sdk["smoke"]["upstream_probe"]["status"], "passed",
        "{sdk:#}"
    );
    assert_eq!(sdk["smoke"]["status"], "passed");

    // A configured export the package does not have: the consumer check fails (exit 4)
    // and says which.
    let config = ws.root.join("pkgrun.toml");
    let text = std::fs::read_to_string(&config)?;
    let changed = text.replace(
        "symbol = \"listOrganizations\"",
        "symbol = \"listOrganisations\"",
    );
    assert_ne!(changed, text);
    std::fs::write(&config, changed)?;
    let run = ws
        .pkgrun(&["smoke", "ts"], &pairs(&e))?
        .expect(4, "smoke with a missing export")?;
    assert!(run.stderr.contains("listOrganisations"), "{}", run.stderr);
    let sdk = ws.state("ameide-sdk-ts")?;
    assert_eq!(sdk["smoke"]["status"], "failed");
    let consumer = sdk["smoke"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "consumer")
        .cloned()
        .unwrap();
    assert_eq!(consumer["status"], "failed");
    assert!(
        consumer["detail"]
            .as_str()
            .unwrap()
            .contains("no export named listOrganisations"),
        "{consumer:#}"
    );
    Ok(())
}

/// Issue 17: a package on a beta line (`3.1.0-beta.2` in package.json) publishes
/// snapshots `3.1.0-beta.2.dev.<ts>.<sha12>` that the real registry takes and a fresh
/// npm project installs; one package's own override variable releases it alone while
/// its dependent still gets a snapshot pinned to that release.
#[test]
fn prerelease_bases_publish_snapshots_and_a_package_override_releases_one_package() -> Result<()> {
    let verdaccio = Verdaccio::start()?;
    let ws = Workspace::new()?;
    for dir in ["ameide_sdk_ts", "ameide_telemetry_ts"] {
        let manifest = ws.root.join("packages").join(dir).join("package.json");
        let text = std::fs::read_to_string(&manifest)?;
        let beta = text.replacen("\"version\": \"0.1.0\"", "\"version\": \"3.1.0-beta.2\"", 1);
        assert_ne!(beta, text, "{dir}/package.json has no version 0.1.0");
        std::fs::write(&manifest, beta)?;
    }
    let mut e = env(&verdaccio, verdaccio.token(), LETTER_SHA);
    e.push((
        "AMEIDE_TS_SDK_VERSION_AMEIDE_TELEMETRY_TS",
        "3.1.0-beta.2".to_owned(),
    ));
    let run = ws
        .pkgrun(&["run", "ts"], &pairs(&e))?
        .expect(0, "pkgrun run ts on a beta line")?;
    assert!(
        run.stderr
            .contains("from AMEIDE_TS_SDK_VERSION_AMEIDE_TELEMETRY_TS (release override"),
        "{}",
        run.stderr
    );

    let telemetry = ws.state("ameide-telemetry-ts")?;
    assert_eq!(telemetry["version"], "3.1.0-beta.2");
    let sdk = ws.state("ameide-sdk-ts")?;
    let version = sdk["version"].as_str().unwrap().to_owned();
    assert!(
        version.starts_with("3.1.0-beta.2.dev.") && version.ends_with(".a1b2c3d4e5f6"),
        "{version}"
    );
    assert_eq!(sdk["smoke"]["status"], "passed", "{sdk:#}");
    assert_eq!(sdk["dependencies"][0]["version"], "3.1.0-beta.2");

    let doc = packument(&verdaccio, SDK)?;
    assert_eq!(doc["dist-tags"]["dev"], version.as_str());
    assert_eq!(
        doc["versions"][&version]["dependencies"][TELEMETRY],
        "3.1.0-beta.2"
    );
    // npm itself resolves a range on the beta line to the snapshot: it sorts after
    // 3.1.0-beta.2 (and `^3.1.0-beta.2` would not take a 3.1.0-beta.1).
    let out = fresh_consumer(
        &verdaccio,
        &format!("{SDK}@>3.1.0-beta.2 <3.1.0-beta.3"),
        &format!(
            "import {{ readFileSync }} from 'node:fs';\n\
             import {{ createClient }} from '{SDK}';\n\
             const pkg = JSON.parse(readFileSync('node_modules/{SDK}/package.json', 'utf8'));\n\
             console.log(pkg.version, typeof createClient);\n"
        ),
    )?;
    assert_eq!(out.trim(), format!("{version} function"));
    Ok(())
}

#[test]
fn override_reruns_conflicts_bad_token_and_failing_build() -> Result<()> {
    let verdaccio = Verdaccio::start()?;
    let ws = Workspace::new()?;
    let mut e = env(&verdaccio, verdaccio.token(), LETTER_SHA);
    e.push(("AMEIDE_TS_SDK_VERSION", "1.4.0".to_owned()));

    // A release version goes to `latest`.
    ws.pkgrun(&["publish", "ts"], &pairs(&e))?
        .expect(0, "publish the override")?;
    let first = ws.state("ameide-sdk-ts")?;
    assert_eq!(first["version"], "1.4.0");
    assert_eq!(first["publish"]["outcome"], "uploaded");
    assert_eq!(first["smoke"]["status"], "not-run");
    assert_eq!(packument(&verdaccio, SDK)?["dist-tags"]["latest"], "1.4.0");

    // Same sources again: identical bytes (npm-style tarballs are reproducible), no upload.
    ws.pkgrun(&["publish", "ts"], &pairs(&e))?
        .expect(0, "re-publish identical sources")?;
    for key in ["ameide-sdk-ts", "ameide-telemetry-ts"] {
        let doc = ws.state(key)?;
        assert_eq!(doc["publish"]["outcome"], "already-present", "{key}");
    }
    let second = ws.state("ameide-sdk-ts")?;
    assert_eq!(second["artifacts"], first["artifacts"]);

    // Changed sources under the same version: refused, naming both integrities.
    let src = ws.root.join("packages/ameide_sdk_ts/src/index.ts");
    let mut text = std::fs::read_to_string(&src)?;
    text.push_str("\nexport const CHANGED = true;\n");
    std::fs::write(&src, text)?;
    let run = ws
        .pkgrun(&["publish", "ts"], &pairs(&e))?
        .expect(3, "re-publish changed sources")?;
    let old = first["artifacts"][0]["integrity"].as_str().unwrap();
    assert!(
        run.stderr.contains(old),
        "registry's integrity not named:\n{}",
        run.stderr
    );
    let other = run
        .stderr
        .lines()
        .filter(|l| l.contains("different bytes"))
        .flat_map(|l| l.split_whitespace())
        .filter(|w| w.starts_with("sha512-") && !w.starts_with(old))
        .count();
    assert!(
        other > 0,
        "this build's integrity not named:\n{}",
        run.stderr
    );
    assert_eq!(
        ws.state("ameide-sdk-ts")?,
        second,
        "a failed publish must keep the previous state"
    );

    // A token the registry refuses: exit 3, the state of the previous run intact.
    let state_before_token = ws.state_bytes();
    assert_ne!(state_before_token, BTreeMap::new());
    let bad = env(&verdaccio, "not-a-valid-token", LETTER_SHA);
    let run = ws
        .pkgrun(&["publish", "ts"], &pairs(&bad))?
        .expect(3, "publish with a bad token")?;
    assert!(
        run.stderr.contains("NPM_AUTH_TOKEN"),
        "no token hint:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("not-a-valid-token"),
        "token printed:\n{}",
        run.stderr
    );
    assert_eq!(
        ws.state_bytes(),
        state_before_token,
        "state changed by a failed publish"
    );

    // A failing build script: exit 3, its output shown with the standard prefix.
    let manifest = ws.root.join("packages/ameide_sdk_ts/package.json");
    let mut pkg: Value = serde_json::from_str(&std::fs::read_to_string(&manifest)?)?;
    pkg["scripts"]["build"] =
        Value::from("node -e \"console.error('boom from the build script'); process.exit(7)\"");
    std::fs::write(&manifest, serde_json::to_string_pretty(&pkg)?)?;
    let run = ws
        .pkgrun(
            &["publish", "ts"],
            &pairs(&env(&verdaccio, verdaccio.token(), LETTER_SHA)),
        )?
        .expect(3, "publish with a failing build script")?;
    // The telemetry package (built fine) went out as a snapshot: under `dev`, and the
    // release keeps `latest`.
    let telemetry = ws.state("ameide-telemetry-ts")?;
    let snapshot = telemetry["version"].as_str().unwrap();
    assert!(snapshot.starts_with("0.1.0-dev."), "{snapshot}");
    let tags = &packument(&verdaccio, TELEMETRY)?["dist-tags"];
    assert_eq!(tags["dev"], snapshot);
    assert_eq!(tags["latest"], "1.4.0", "a snapshot moved latest");
    let shown = run.stderr.lines().any(|l| {
        l.starts_with("[packages:ts-publish] ")
            && l.contains(" info | ")
            && l.contains("boom from the build script")
    });
    assert!(
        shown,
        "build output not shown with the prefix:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("[packages:ts-publish] ")
                && l.contains(" fail ")
                && l.contains("exit status")),
        "{}",
        run.stderr
    );
    Ok(())
}

#[test]
fn npm_workspace_builds_with_npm_then_tampered_bytes_and_a_dead_registry_fail_smoke() -> Result<()>
{
    let verdaccio = Verdaccio::start()?;
    let ws = Workspace::new()?;
    // Turn the example into an npm workspace: no pnpm marks, a `file:` sibling range.
    std::fs::remove_file(ws.root.join("pnpm-workspace.yaml"))?;
    let root_manifest = ws.root.join("package.json");
    let mut root: Value = serde_json::from_str(&std::fs::read_to_string(&root_manifest)?)?;
    root["workspaces"] =
        serde_json::json!(["packages/ameide_telemetry_ts", "packages/ameide_sdk_ts"]);
    std::fs::write(&root_manifest, serde_json::to_string_pretty(&root)?)?;
    let manifest = ws.root.join("packages/ameide_sdk_ts/package.json");
    let text = std::fs::read_to_string(&manifest)?;
    assert!(text.contains("\"workspace:*\""));
    std::fs::write(
        &manifest,
        text.replace("\"workspace:*\"", "\"file:../ameide_telemetry_ts\""),
    )?;

    let e = env(&verdaccio, verdaccio.token(), LETTER_SHA);
    let run = ws
        .pkgrun(&["run", "ts"], &pairs(&e))?
        .expect(0, "pkgrun run ts (npm)")?;
    assert!(
        run.stderr
            .contains(&format!("step install dependencies of {SDK} (npm)")),
        "npm was not used:\n{}",
        run.stderr
    );
    let sdk = ws.state("ameide-sdk-ts")?;
    let telemetry = ws.state("ameide-telemetry-ts")?;
    assert_eq!(sdk["smoke"]["status"], "passed", "{sdk:#}");
    let version = sdk["version"].as_str().unwrap();
    assert!(version.ends_with(".a1b2c3d4e5f6"), "{version}");
    let doc = packument(&verdaccio, SDK)?;
    assert_eq!(
        doc["versions"][version]["dependencies"][TELEMETRY],
        telemetry["version"]
    );
    assert!(sdk["artifacts"][0]["file"]
        .as_str()
        .unwrap()
        .ends_with(".tgz"));

    // The registry starts serving other bytes for the published version (its stored
    // tarball replaced): the protocol check catches it (exit 4).
    let stored = verdaccio
        .storage_dir()
        .join("@ameideio/ameide-sdk-ts")
        .join(format!("ameide-sdk-ts-{version}.tgz"));
    let other = verdaccio.storage_dir().join(format!(
        "@ameideio/ameide-telemetry-ts/ameide-telemetry-ts-{}.tgz",
        telemetry["version"].as_str().unwrap()
    ));
    assert!(
        stored.is_file(),
        "no stored tarball at {}",
        stored.display()
    );
    std::fs::copy(&other, &stored)?;
    let run = ws
        .pkgrun(&["smoke", "ts"], &pairs(&e))?
        .expect(4, "smoke with tampered bytes in the registry")?;
    let recorded = sdk["artifacts"][0]["integrity"].as_str().unwrap();
    assert!(
        run.stderr.contains("hashes to") && run.stderr.contains(recorded),
        "{}",
        run.stderr
    );
    assert_eq!(ws.state("ameide-sdk-ts")?["smoke"]["status"], "failed");

    // The registry goes away: smoke reports it unreachable (exit 5).
    let mut verdaccio = verdaccio;
    verdaccio.stop();
    ws.pkgrun(&["smoke", "ts"], &pairs(&e))?
        .expect(5, "smoke with the registry down")?;
    Ok(())
}

/// The first `name` on this process's PATH.
fn which(name: &str) -> Result<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| format!("{name} not on PATH"))
}

#[test]
fn pnpm_workspace_without_pnpm_on_path_fails_preflight_naming_the_reason() -> Result<()> {
    let verdaccio = Verdaccio::start()?;
    let ws = Workspace::new()?;
    // A PATH with node and npm only (what preflight requires), so no pnpm anywhere.
    let bin = ws.home.join("bin");
    std::fs::create_dir_all(&bin)?;
    for tool in ["node", "npm"] {
        std::os::unix::fs::symlink(which(tool)?, bin.join(tool))?;
    }
    let mut e = pairs(&env(&verdaccio, verdaccio.token(), LETTER_SHA))
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>();
    e.push(("PATH", bin.display().to_string()));
    // Issue 18: preflight finds it (exit 2) before anything is built or published.
    let run = ws
        .pkgrun(&["publish", "ts"], &pairs(&e))?
        .expect(2, "publish a pnpm workspace without pnpm")?;
    assert!(
        run.stderr.contains(&format!(
            "pnpm (builds and packs {TELEMETRY}, {SDK}, in a pnpm workspace): none of pnpm found on PATH"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was touched"), "{}", run.stderr);
    assert!(ws.state_bytes().is_empty());
    Ok(())
}

#[test]
fn unreachable_registry_exits_5_and_touches_nothing() -> Result<()> {
    let ws = Workspace::new()?;
    let url = format!("http://127.0.0.1:{}/", free_port());
    let run = ws
        .pkgrun(
            &["publish", "ts"],
            &[
                ("NPM_REGISTRY_URL", url.as_str()),
                ("NPM_AUTH_TOKEN", "some-token"),
                ("SOURCE_GIT_SHA", LETTER_SHA),
            ],
        )?
        .expect(5, "publish to a registry that is down")?;
    assert!(run.stderr.contains("127.0.0.1"), "{}", run.stderr);
    assert!(
        ws.state_bytes().is_empty(),
        "state written for an unreachable registry"
    );
    Ok(())
}
