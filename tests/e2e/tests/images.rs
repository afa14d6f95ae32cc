//! The runner images (issue 13), built and run for real.
//!
//! * `pkgrun images plan` (no engine needed): on copies of the repository's images/ and
//!   pkgrun sources and of `examples/monorepo`, a change under a Go package changes only
//!   the Go image's digest, a Python change only Python's, a TS change only TS's, a pkgrun
//!   source change all three, a go-registry change or an ignored file none; an unchanged
//!   tree reports nothing changed against the recorded digests.
//! * The three real Dockerfiles built by `pkgrun images build` on a real Docker engine
//!   (the suite starts its own dockerd when none answers, and stops it), FROM **stand-in
//!   bases**: no image registry is reachable here, so the real bases (golang alpine, uv
//!   python, node slim) cannot be pulled; `scripts/tools/install-standin-bases.sh` makes
//!   Debian roots with the language toolchain, imported as `pkgrun-standin/…`. Every
//!   Dockerfile line after FROM is what production runs. A second build with no change
//!   builds nothing; a one-file Go change rebuilds only the Go image.
//! * Each image run as the chart runs it (user 10001, read-only root, tmpfs /tmp, an empty
//!   writable /workspace/tmp/tilt-packages, credentials only as environment, host
//!   network): `pkgrun run <lang>` against the loopback registries (go-registry, devpi,
//!   Verdaccio) succeeds and writes the state documents.
//! * `docker save`/`docker history`: no other language's sources, no kubectl, no
//!   credential in any layer, although `images build` ran with the credentials in its
//!   environment.
//!
//! Figures (sizes, rebuild time) are printed as one `bench:` line on stderr; they are
//! reported, never asserted.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use pkgrun_e2e::docker::{DockerEngine, StandinBase};
use pkgrun_e2e::go::{GoRegistry, GoRegistryOptions, EXAMPLE_PRIVATE_PREFIX, TEST_GIT_SHA};
use pkgrun_e2e::paths::target_tmp_dir;
use pkgrun_e2e::process::Run;
use pkgrun_e2e::{copy_tree, example_monorepo, repo_root, workspace_bin, Devpi, Verdaccio};
use serde_json::Value;

const LANGS: [&str; 3] = ["go", "python", "ts"];
const REGISTRY: &str = "pkgrun-e2e";

/// The static pkgrun the images carry (scripts/test.sh builds it).
fn musl_pkgrun() -> PathBuf {
    let target = target_tmp_dir()
        .expect("target dir")
        .parent()
        .expect("target/tmp has a parent")
        .to_path_buf();
    let bin = target.join("x86_64-unknown-linux-musl/release/pkgrun");
    assert!(
        bin.is_file(),
        "the static pkgrun {} is missing: run `cargo build --release --target x86_64-unknown-linux-musl -p pkgrun` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// The package directories of each language in `examples/monorepo/pkgrun.toml`.
fn package_paths(ws: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(ws.join("pkgrun.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    LANGS
        .iter()
        .map(|lang| {
            let paths = doc[*lang]["packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["path"].as_str().unwrap().to_string())
                .collect();
            (lang.to_string(), paths)
        })
        .collect()
}

/// A copy of what `images plan` hashes from the pkgrun repository.
fn repo_copy(dst: &Path) {
    let root = repo_root();
    for dir in ["images", "crates"] {
        copy_tree(&root.join(dir), &dst.join(dir)).unwrap();
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(root.join(file), dst.join(file)).unwrap();
    }
}

fn pkgrun(ws: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(workspace_bin("pkgrun"));
    cmd.current_dir(ws)
        .arg("--config")
        .arg(ws.join("pkgrun.toml"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("VERBOSE");
    cmd
}

/// `images plan --json`: language -> (digest, changed).
fn plan(ws: &Path, repo: &Path, work: &Path) -> BTreeMap<String, (String, bool)> {
    let out = pkgrun(ws, &["images", "plan", "--json"])
        .arg("--repo")
        .arg(repo)
        .arg("--work-dir")
        .arg(work)
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 0, "{run}");
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["language"].as_str().unwrap().to_string(),
                (
                    i["digest"].as_str().unwrap().to_string(),
                    i["changed"].as_bool().unwrap(),
                ),
            )
        })
        .collect()
}

/// Records `planned` as built, as `images build` does after its builds.
fn record(work: &Path, planned: &BTreeMap<String, (String, bool)>) {
    let images: serde_json::Map<String, Value> = planned
        .iter()
        .map(|(lang, (digest, _))| {
            (
                lang.clone(),
                serde_json::json!({"image": format!("x/package-publisher-{lang}:dev"), "digest": digest}),
            )
        })
        .collect();
    std::fs::create_dir_all(work).unwrap();
    std::fs::write(
        work.join("built.json"),
        serde_json::to_string(&serde_json::json!({ "images": images })).unwrap(),
    )
    .unwrap();
}

fn changed(planned: &BTreeMap<String, (String, bool)>) -> Vec<&str> {
    planned
        .iter()
        .filter(|(_, (_, c))| *c)
        .map(|(l, _)| l.as_str())
        .collect()
}

fn append(path: &Path, text: &str) {
    let mut old = std::fs::read_to_string(path).unwrap();
    old.push_str(text);
    std::fs::write(path, old).unwrap();
}

/// The first regular file in a package directory.
fn a_file_in(dir: &Path) -> PathBuf {
    walk_files(dir).into_iter().next().expect("a file")
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn plan_digests_change_only_for_the_images_whose_inputs_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let ws = tmp.path().join("monorepo");
    let work = tmp.path().join("work");
    repo_copy(&repo);
    copy_tree(&example_monorepo(), &ws).unwrap();
    let paths = package_paths(&ws);

    let first = plan(&ws, &repo, &work);
    assert_eq!(first.keys().collect::<Vec<_>>(), LANGS, "{first:?}");
    assert_eq!(changed(&first), LANGS, "nothing recorded yet: all changed");
    record(&work, &first);
    assert!(
        changed(&plan(&ws, &repo, &work)).is_empty(),
        "unchanged tree"
    );

    for (lang, expect) in [("go", ["go"]), ("python", ["python"]), ("ts", ["ts"])] {
        let file = a_file_in(&ws.join(&paths[lang][0]));
        append(&file, "\n");
        let now = plan(&ws, &repo, &work);
        assert_eq!(changed(&now), expect, "after changing {}", file.display());
        record(&work, &now);
    }

    append(
        &repo.join("crates/pkgrun-core/src/lib.rs"),
        "\n// changed\n",
    );
    let now = plan(&ws, &repo, &work);
    assert_eq!(changed(&now), LANGS, "a pkgrun source change rebuilds all");
    record(&work, &now);

    append(&repo.join("crates/go-registry/Cargo.toml"), "\n");
    assert!(
        changed(&plan(&ws, &repo, &work)).is_empty(),
        "go-registry is not in the images"
    );

    // Ignored files are not inputs (.gitignore of the workspace).
    std::fs::write(ws.join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(ws.join(&paths["go"][0]).join("debug.log"), "x").unwrap();
    assert!(changed(&plan(&ws, &repo, &work)).is_empty(), "ignored file");

    append(
        &repo.join("images/package-publisher-python/Dockerfile"),
        "\n",
    );
    assert_eq!(changed(&plan(&ws, &repo, &work)), ["python"], "Dockerfile");
}

#[test]
fn bake_file_and_charts_name_the_same_images() {
    let root = repo_root();
    let bake = std::fs::read_to_string(root.join("images/docker-bake.hcl")).unwrap();
    let registry = bake
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("variable \"REGISTRY\" { default = \"")?
                .strip_suffix("\" }")
        })
        .expect("REGISTRY default in docker-bake.hcl");
    for lang in LANGS {
        let target = format!("target \"package-publisher-{lang}\"");
        assert!(bake.contains(&target), "{target} missing");
        let values: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(
                root.join(format!("deploy/charts/package-{lang}/values.yaml")),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            values["image"]["repository"].as_str(),
            Some(format!("{registry}/package-publisher-{lang}").as_str()),
            "chart package-{lang}"
        );
        let dockerfile = std::fs::read_to_string(
            root.join(format!("images/package-publisher-{lang}/Dockerfile")),
        )
        .unwrap();
        assert!(dockerfile.contains("USER 10001:10001"), "{lang}: non-root");
        assert!(dockerfile.contains("ENTRYPOINT [\"pkgrun\"]"), "{lang}");
        assert!(
            dockerfile.contains("ARG BASE_IMAGE="),
            "{lang}: base as ARG"
        );
    }
    let values =
        std::fs::read_to_string(root.join("deploy/helmfiles/values/package-runner-common.yaml"))
            .unwrap();
    assert!(
        values.contains("tag: dev"),
        "the helmfiles deploy the `dev` tag bake makes"
    );
}

/// Registries on loopback and the environment contract for them. The values are the
/// credentials the scans look for.
struct Registries {
    _go: GoRegistry,
    _devpi: Devpi,
    _verdaccio: Verdaccio,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
    npm_url: String,
}

fn registries() -> Result<Registries> {
    let go = GoRegistry::start(GoRegistryOptions {
        upstream_from_go_env: true,
        ..GoRegistryOptions::default()
    })?;
    let devpi = Devpi::start()?;
    let verdaccio = Verdaccio::start()?;
    let env: Vec<(String, String)> = [
        ("GO_REGISTRY_URL", go.url().to_string()),
        ("GO_REGISTRY_TOKEN", go.token().to_string()),
        ("GONOSUMDB", EXAMPLE_PRIVATE_PREFIX.to_string()),
        ("GOSUMDB", "off".to_string()),
        ("AMEIDE_PYPI_REPOSITORY_URL", devpi.upload_url()),
        ("AMEIDE_PYPI_USERNAME", devpi.username().to_string()),
        ("AMEIDE_PYPI_PASSWORD", devpi.password().to_string()),
        ("PIP_INDEX_URL", devpi.simple_url()),
        ("NPM_REGISTRY_URL", verdaccio.url()),
        ("NPM_AUTH_TOKEN", verdaccio.token().to_string()),
        ("SOURCE_GIT_SHA", TEST_GIT_SHA.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let secrets = vec![
        go.token().to_string(),
        devpi.password().to_string(),
        verdaccio.token().to_string(),
    ];
    Ok(Registries {
        npm_url: verdaccio.url(),
        _go: go,
        _devpi: devpi,
        _verdaccio: verdaccio,
        env,
        secrets,
    })
}

/// `pkgrun images build` for all three languages on the stand-in bases; the credentials
/// are in its environment (as in a CI job) and must not reach any image.
fn images_build(
    engine: &DockerEngine,
    ws: &Path,
    work: &Path,
    bases: &BTreeMap<&str, StandinBase>,
    regs: &Registries,
) -> Run {
    let mut cmd = pkgrun(
        ws,
        &[
            "images",
            "build",
            "--registry",
            REGISTRY,
            "--network",
            "host",
        ],
    );
    cmd.arg("--repo")
        .arg(repo_root())
        .arg("--work-dir")
        .arg(work)
        .arg("--pkgrun-bin")
        .arg(musl_pkgrun())
        .arg("--build-arg")
        .arg(format!("NPM_REGISTRY={}", regs.npm_url));
    for (lang, base) in bases {
        cmd.arg("--base").arg(format!("{lang}={}", base.image));
    }
    cmd.env("DOCKER_HOST", engine.host())
        .env("DOCKER_BUILDKIT", "0");
    for (k, v) in &regs.env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().unwrap())
}

/// `docker run` as the chart's Job runs the runner; the credentials reach the container
/// through the docker CLI's environment (`-e NAME`), never its argument list.
fn run_like_the_chart(
    engine: &DockerEngine,
    image: &str,
    lang: &str,
    state: &Path,
    regs: &Registries,
) -> Run {
    let mut cmd = engine.docker();
    cmd.args([
        "run",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp:rw,exec,mode=1777,size=4g",
        "--volume",
    ])
    .arg(format!("{}:/workspace/tmp/tilt-packages", state.display()));
    for (k, v) in &regs.env {
        cmd.args(["--env", k]).env(k, v);
    }
    for (k, v) in [
        ("HOME", "/tmp"),
        ("XDG_CACHE_HOME", "/tmp/.cache"),
        ("NO_COLOR", "1"),
    ] {
        cmd.args(["--env", &format!("{k}={v}")]);
    }
    cmd.args([image, "run", lang]);
    Run::from(cmd.output().unwrap())
}

/// The files of one image layer: (path, content).
type Layer = Vec<(String, Vec<u8>)>;

/// Every layer of a `docker save` tar, base first.
fn saved_layers(tar_path: &Path) -> Result<Vec<Layer>> {
    let mut manifest = None;
    let mut archive = tar::Archive::new(std::fs::File::open(tar_path)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_str() == Some("manifest.json") {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            manifest = Some(serde_json::from_str::<Value>(&text)?);
        }
    }
    let manifest = manifest.context("manifest.json in docker save output")?;
    let layer_paths: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .context("Layers")?
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let mut by_path: BTreeMap<String, Layer> = BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(tar_path)?);
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if !layer_paths.contains(&path) {
            continue;
        }
        let mut files = Vec::new();
        let mut layer = tar::Archive::new(entry);
        for file in layer.entries()? {
            let mut file = file?;
            let name = file.path()?.to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            files.push((name, bytes));
        }
        by_path.insert(path, files);
    }
    layer_paths
        .iter()
        .map(|p| by_path.remove(p).with_context(|| format!("layer {p}")))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

#[test]
// The `bench:` line on stderr is this suite's report of sizes and times.
#[allow(clippy::print_stderr)]
fn runner_images_build_run_and_hold_only_their_language() -> Result<()> {
    let suite_start = Instant::now();
    let engine = DockerEngine::start_or_reuse()?;
    let mut bases = BTreeMap::new();
    for lang in LANGS {
        let base = StandinBase::for_lang(lang)?;
        base.import(&engine)?;
        bases.insert(lang, base);
    }
    let regs = registries()?;
    let tmp = tempfile::tempdir_in(target_tmp_dir()?)?;
    let ws = tmp.path().join("monorepo");
    let work = tmp.path().join("images");
    copy_tree(&example_monorepo(), &ws)?;
    let paths = package_paths(&ws);
    let image = |lang: &str| format!("{REGISTRY}/package-publisher-{lang}:dev");

    // A previous run may have left these tags in a reused engine; start from none.
    for lang in LANGS {
        let _ = engine
            .docker()
            .args(["rmi", "--force", &image(lang)])
            .output();
    }
    let build_start = Instant::now();
    let first = images_build(&engine, &ws, &work, &bases, &regs);
    let first_build = build_start.elapsed();
    ensure!(first.code == 0, "first images build: {first}");
    ensure!(
        first.stderr.contains("3 of 3 runner images built"),
        "{first}"
    );
    let ids: Vec<String> = LANGS
        .iter()
        .map(|l| engine.image_id(&image(l)))
        .collect::<Result<_>>()?;

    let again = images_build(&engine, &ws, &work, &bases, &regs);
    ensure!(again.code == 0, "second images build: {again}");
    ensure!(
        again.stderr.contains("0 of 3 runner images built"),
        "{again}"
    );
    for (lang, id) in LANGS.iter().zip(&ids) {
        ensure!(
            &engine.image_id(&image(lang))? == id,
            "{lang} rebuilt without a change"
        );
    }

    let mut sizes = Vec::new();
    for lang in LANGS {
        let img = image(lang);
        // Run as the chart runs it.
        let state = tmp.path().join(format!("state-{lang}"));
        std::fs::create_dir_all(&state)?;
        std::os::unix::fs::chown(&state, Some(10001), Some(10001))?;
        let run = run_like_the_chart(&engine, &img, lang, &state, &regs);
        ensure!(run.code == 0, "pkgrun run {lang} in {img}: {run}");
        let version = std::fs::read_to_string(state.join(format!("{lang}-version")))
            .with_context(|| format!("{lang}-version in the state dir; run: {run}"))?;
        ensure!(!version.trim().is_empty(), "{lang}-version is empty");
        let docs: Vec<PathBuf> = walk_files(&state)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        ensure!(
            docs.len() == paths[lang].len(),
            "{lang}: state documents {docs:?}"
        );
        for doc in &docs {
            let doc: Value = serde_json::from_slice(&std::fs::read(doc)?)?;
            ensure!(doc["language"] == lang, "{doc}");
            ensure!(doc["smoke"]["status"] == "passed", "{lang} smoke: {doc}");
        }

        // What the image holds.
        let saved = tmp.path().join(format!("{lang}.tar"));
        engine.save(&img, &saved)?;
        let layers = saved_layers(&saved)?;
        let base_layers: usize = engine
            .run(&[
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}}",
                &bases[lang].image,
            ])?
            .trim()
            .parse()?;
        ensure!(
            layers.len() > base_layers,
            "{lang}: no layers over the base"
        );
        let added: Vec<&(String, Vec<u8>)> = layers[base_layers..].iter().flatten().collect();
        let added_names: Vec<&str> = added.iter().map(|(n, _)| n.as_str()).collect();
        ensure!(
            added_names.contains(&"usr/local/bin/pkgrun"),
            "{lang}: {added_names:?}"
        );
        ensure!(
            added_names.contains(&"workspace/pkgrun.toml"),
            "{lang}: {added_names:?}"
        );
        for (other, other_paths) in &paths {
            for p in other_paths {
                let prefix = format!("workspace/{p}/");
                let present = added_names.iter().any(|n| n.starts_with(&prefix));
                if other == lang {
                    ensure!(present, "{lang}: own package {p} missing");
                } else {
                    ensure!(!present, "{lang} image holds {other} sources {p}");
                }
            }
        }
        for (name, _) in layers.iter().flatten() {
            ensure!(
                name.rsplit('/').next() != Some("kubectl"),
                "{lang}: kubectl at {name}"
            );
            if let Some(rest) = name.strip_prefix("workspace/") {
                let ts_root = ["package.json", "pnpm-workspace.yaml"];
                let own = rest.is_empty()
                    || rest == "pkgrun.toml"
                    || (lang == "ts" && ts_root.contains(&rest))
                    || paths[lang]
                        .iter()
                        .any(|p| rest == format!("{p}/") || rest.starts_with(&format!("{p}/")))
                    || paths[lang]
                        .iter()
                        .any(|p| format!("{p}/").starts_with(rest));
                ensure!(own, "{lang}: unexpected workspace file {name}");
            }
        }
        for secret in &regs.secrets {
            for (name, bytes) in layers.iter().flatten() {
                ensure!(!contains(bytes, secret), "{lang}: a credential in {name}");
            }
        }
        let history = engine.run(&["history", "--no-trunc", &img])?;
        let inspect = engine.run(&["image", "inspect", &img])?;
        for secret in &regs.secrets {
            ensure!(
                !history.contains(secret.as_str()),
                "{lang}: credential in history"
            );
            ensure!(
                !inspect.contains(secret.as_str()),
                "{lang}: credential in config"
            );
        }
        std::fs::remove_file(&saved)?;
        let size = engine.image_size(&img)?;
        let base_size = engine.image_size(&bases[lang].image)?;
        sizes.push(format!(
            "{lang} {:.1}MB (adds {:.1}MB over the stand-in base)",
            size as f64 / 1e6,
            size.saturating_sub(base_size) as f64 / 1e6
        ));
    }

    // A one-file change under the Go package rebuilds the Go image only.
    append(&a_file_in(&ws.join(&paths["go"][0])), "\n");
    let rebuild_start = Instant::now();
    let third = images_build(&engine, &ws, &work, &bases, &regs);
    let rebuild = rebuild_start.elapsed();
    ensure!(third.code == 0, "images build after a change: {third}");
    ensure!(
        third.stderr.contains("1 of 3 runner images built"),
        "{third}"
    );
    ensure!(
        engine.image_id(&image("go"))? != ids[0],
        "go image not rebuilt"
    );
    for (i, lang) in LANGS.iter().enumerate().skip(1) {
        ensure!(engine.image_id(&image(lang))? == ids[i], "{lang} rebuilt");
    }

    let pkgrun_size = std::fs::metadata(musl_pkgrun())?.len();
    eprintln!(
        "bench: runner images on stand-in bases: {}; static pkgrun {:.1}MB; first build of 3 {:.0}s; rebuild after a one-file Go change {:.1}s; suite {:.0}s (engine {})",
        sizes.join(", "),
        pkgrun_size as f64 / 1e6,
        first_build.as_secs_f64(),
        rebuild.as_secs_f64(),
        suite_start.elapsed().as_secs_f64(),
        if engine.owned() { "started by the suite" } else { "reused" }
    );
    // Our own engine is stopped and leaves nothing behind but its data root.
    let exec_root = engine.exec_root();
    drop(engine);
    if let Some(dir) = exec_root {
        ensure!(!dir.exists(), "{} left behind", dir.display());
    }
    Ok(())
}

/// Set in the re-run of [`an_own_dockerd_is_stopped_and_cleaned_up_when_its_test_process_is_killed`]
/// that plays the test process owning the engine.
const OWNER_DATA_ROOT_ENV: &str = "PKGRUN_E2E_DOCKERD_OWNER_DATA_ROOT";

/// A CI machine is reused: a dockerd the suite started must not outlive a test binary that
/// is killed (SIGKILL, so no destructor runs). This test re-runs itself as the owner of a
/// fresh engine on a throwaway data root, kills that process, then checks that dockerd,
/// its containerd and its exec root are gone.
#[test]
// The re-run tells its parent the exec root on stdout.
#[allow(clippy::print_stdout)]
fn an_own_dockerd_is_stopped_and_cleaned_up_when_its_test_process_is_killed() -> Result<()> {
    const NAME: &str = "an_own_dockerd_is_stopped_and_cleaned_up_when_its_test_process_is_killed";
    if let Ok(data_root) = std::env::var(OWNER_DATA_ROOT_ENV) {
        let engine = DockerEngine::start_own_in(Path::new(&data_root))?;
        let exec_root = engine
            .exec_root()
            .context("an own engine has an exec root")?;
        println!("OWNER {}", exec_root.display());
        // Until killed by the test that started this process.
        std::thread::sleep(std::time::Duration::from_secs(600));
        std::process::exit(1);
    }
    let data_root = tempfile::tempdir_in(target_tmp_dir()?)?;
    let mut owner = std::process::Command::new(std::env::current_exe()?)
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(OWNER_DATA_ROOT_ENV, data_root.path())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = owner.stdout.take().context("owner's stdout")?;
    let exec_root = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        // libtest prints `test <name> ... ` without a newline before the test's own output.
        .find_map(|l| l.split_once("OWNER ").map(|(_, path)| PathBuf::from(path)));
    let Some(exec_root) = exec_root else {
        owner.kill()?;
        anyhow::bail!(
            "the owner process exited before its dockerd answered: {:?}",
            owner.wait()?
        );
    };
    let dockerd: i32 = std::fs::read_to_string(exec_root.join("dockerd.pid"))?
        .trim()
        .parse()?;
    let holders = processes_mentioning(&exec_root);
    ensure!(
        holders.contains(&dockerd) && holders.len() >= 2,
        "dockerd {dockerd} and its containerd should run under {}: {holders:?}",
        exec_root.display()
    );

    owner.kill()?; // SIGKILL: no destructor of the owner runs
    owner.wait()?;
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while (!processes_mentioning(&exec_root).is_empty() || exec_root.exists())
        && Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let left = processes_mentioning(&exec_root);
    ensure!(
        left.is_empty(),
        "processes still running 60 s after their test process was killed: {left:?}"
    );
    ensure!(
        !exec_root.exists(),
        "{} was not removed (mounts: {})",
        exec_root.display(),
        std::fs::read_to_string("/proc/self/mountinfo")?
            .lines()
            .filter(|l| l.contains(&*exec_root.to_string_lossy()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

/// PIDs of the processes whose command line names `path` (dockerd and the containerd it
/// starts both take paths under their exec root).
fn processes_mentioning(path: &Path) -> Vec<i32> {
    let needle = path.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let cmdline = String::from_utf8_lossy(&c).replace('\0', " ");
                // Not the supervisor shell, whose arguments name the exec root too.
                cmdline.contains(&needle) && !cmdline.contains("pkgrun-dockerd-supervisor")
            })
        })
        .collect()
}
