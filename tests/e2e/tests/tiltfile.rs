//! The repository's `Tiltfile`, evaluated by a real Starlark interpreter (the `starlark`
//! crate) against RECORDING STAND-INS of the Tilt builtins it calls: Tilt itself cannot be
//! installed here (the Go module proxy refuses it). The stand-in `local_resource` takes Tilt's
//! own parameter names (name positional, everything else by keyword; an unknown keyword fails
//! like it does in Tilt) and records the call; the tests then check the resource graph Tilt
//! would build from those calls: the three `infra:` layers with their commands and deps, which
//! edits re-trigger which layer (Tilt's rule: a dep that is a directory matches every file
//! under it), and the example resources that depend on the synced state files.
//!
//! Then the closest thing to `tilt ci` here: the recorded commands of every resource
//! (`infra:26`, `infra:27`, `infra:28` and their `example:sdk-<lang>` consumers) run in
//! dependency order against the REAL node of `pkgrun_e2e::node_layers` (the same cluster,
//! images and STAND-INs as `kube_node`: the helmfile stand-in, the stand-in base images, the
//! real Verdaccio, go-registry and devpi in stand-in registry images).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use pkgrun_e2e::charts::ChartWorkspace;
use pkgrun_e2e::node_layers::{self, text, Lang};
use pkgrun_e2e::paths::target_tmp_dir;
use pkgrun_e2e::{copy_tree, example_monorepo, repo_root, workspace_bin};
use serde_json::Value as Json;
use starlark::collections::SmallMap;
use starlark::environment::{Globals, GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::none::NoneType;
use starlark::values::Value;

/// Tilt's `local_resource` parameters after `name`, as documented in its API reference.
const LOCAL_RESOURCE_PARAMS: &[&str] = &[
    "cmd",
    "deps",
    "trigger_mode",
    "resource_deps",
    "ignore",
    "auto_init",
    "serve_cmd",
    "cmd_bat",
    "serve_cmd_bat",
    "allow_parallel",
    "links",
    "tags",
    "env",
    "serve_env",
    "readiness_probe",
    "dir",
    "serve_dir",
    "labels",
];

/// One recorded `local_resource` call: its name and its keyword arguments as JSON.
#[derive(Debug, Clone)]
struct Resource {
    name: String,
    args: BTreeMap<String, Json>,
}

impl Resource {
    /// A string-or-list argument (Tilt accepts both for `cmd`, `deps`, `resource_deps`,
    /// `labels`) as a list; absent is empty.
    fn list(&self, key: &str) -> Result<Vec<String>> {
        match self.args.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::String(s)) => Ok(vec![s.clone()]),
            Some(Json::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .with_context(|| format!("{}: {key} holds {v}", self.name))
                })
                .collect(),
            Some(other) => bail!("{}: {key} is {other}", self.name),
        }
    }
}

thread_local! {
    /// What the stand-ins recorded during the current evaluation (one per test thread).
    static RECORDED: RefCell<Vec<Resource>> = const { RefCell::new(Vec::new()) };
}

/// RECORDING STAND-INS of the Tilt builtins the Tiltfile uses.
#[starlark_module]
fn tilt_standins(builder: &mut GlobalsBuilder) {
    fn local_resource<'v>(
        #[starlark(require = pos)] name: &str,
        #[starlark(kwargs)] kwargs: SmallMap<String, Value<'v>>,
    ) -> anyhow::Result<NoneType> {
        let mut args = BTreeMap::new();
        for (key, value) in kwargs.iter() {
            ensure!(
                LOCAL_RESOURCE_PARAMS.contains(&key.as_str()),
                "local_resource({name:?}): Tilt has no parameter {key:?}"
            );
            args.insert(key.clone(), value.to_json_value()?);
        }
        RECORDED.with(|r| {
            let mut r = r.borrow_mut();
            ensure!(
                r.iter().all(|res| res.name != name),
                "local_resource {name:?} defined twice"
            );
            r.push(Resource {
                name: name.to_owned(),
                args,
            });
            Ok(())
        })?;
        Ok(NoneType)
    }
}

/// Evaluates Starlark source against the stand-ins; the resources it defined, in order.
fn evaluate(file: &str, source: String) -> Result<Vec<Resource>> {
    RECORDED.with(|r| r.borrow_mut().clear());
    let ast = AstModule::parse(file, source, &Dialect::Extended)
        .map_err(|e| anyhow::anyhow!("parse {file}: {e}"))?;
    let globals: Globals = GlobalsBuilder::extended_by(&[LibraryExtension::Print])
        .with(tilt_standins)
        .build();
    Module::with_temp_heap(|module| {
        let mut eval = Evaluator::new(&module);
        eval.eval_module(ast, &globals)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("evaluate {file}: {e}"))
    })?;
    Ok(RECORDED.with(|r| r.borrow().clone()))
}

fn tiltfile() -> Result<Vec<Resource>> {
    let path = repo_root().join("Tiltfile");
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    evaluate("Tiltfile", source)
}

fn by_name<'a>(resources: &'a [Resource], name: &str) -> Result<&'a Resource> {
    resources
        .iter()
        .find(|r| r.name == name)
        .with_context(|| format!("no resource {name:?}"))
}

/// The resources whose deps match `file` (relative to the Tiltfile): Tilt watches a dep that
/// is a directory recursively.
fn triggered_by(resources: &[Resource], file: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for r in resources {
        if r.list("deps")?.iter().any(|d| file.starts_with(d)) {
            names.push(r.name.clone());
        }
    }
    Ok(names)
}

/// Every file under `dir` (relative to the repository root), relative to the root.
fn files_under(dir: &str) -> Result<Vec<PathBuf>> {
    let root = repo_root();
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("{}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(&root)?.to_path_buf());
            }
        }
    }
    ensure!(!out.is_empty(), "{dir} is empty");
    Ok(out)
}

/// The state keys pkgrun.toml of the example monorepo configures for a language.
fn state_keys(lang: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join("examples/monorepo/pkgrun.toml"))?;
    let config: toml::Value = toml::from_str(&text)?;
    config[lang]["packages"]
        .as_array()
        .with_context(|| format!("[{lang}] has no packages"))?
        .iter()
        .map(|p| {
            p["state_key"]
                .as_str()
                .map(str::to_owned)
                .context("state_key")
        })
        .collect()
}

const LAYERS: [(&str, &str, &str, &str); 3] = [
    ("26", "26-package-npm.yaml", "package-ts", "ts"),
    ("27", "27-package-go.yaml", "package-go", "go"),
    ("28", "28-package-py.yaml", "package-python", "python"),
];

#[test]
fn infra_layers_run_pkgrun_layer_then_state_sync_with_their_charts_as_deps() -> Result<()> {
    let resources = tiltfile()?;
    for (layer, helmfile, chart, lang) in LAYERS {
        let r = by_name(&resources, &format!("infra:{layer}"))?;
        let helmfile = format!("deploy/helmfiles/{helmfile}");
        // The command as the shell runs it: `sh -c SCRIPT NAME ARGS…` with $1.. bound.
        let cmd = r.list("cmd")?;
        let (script, args) = match cmd.as_slice() {
            [sh, c, script, _name, args @ ..] if sh == "sh" && c == "-c" => (script, args),
            _ => bail!("{}: cmd {cmd:?}", r.name),
        };
        let bound: Vec<String> = shlex::split(script)
            .context("script")?
            .into_iter()
            .map(
                |word| match word.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                    Some(n) => args.get(n - 1).cloned().unwrap_or(word),
                    None => word,
                },
            )
            .collect();
        let expected: Vec<String> = [
            "pkgrun",
            "layer",
            &helmfile,
            "&&",
            "pkgrun",
            "--config",
            "examples/monorepo/pkgrun.toml",
            "state",
            "sync",
            "--namespace",
            "packages",
            lang,
        ]
        .map(str::to_owned)
        .to_vec();
        ensure!(bound == expected, "{}: runs {bound:?}", r.name);

        let deps = r.list("deps")?;
        for dep in [
            helmfile.as_str(),
            &format!("deploy/charts/{chart}"),
            "deploy/charts/package-runner",
            "deploy/helmfiles/values",
        ] {
            ensure!(
                deps.iter().any(|d| d == dep),
                "{}: deps {deps:?} lack {dep}",
                r.name
            );
        }
        for dep in &deps {
            ensure!(
                repo_root().join(dep).exists(),
                "{}: dep {dep} does not exist",
                r.name
            );
        }
        ensure!(
            r.list("resource_deps")?.is_empty(),
            "{}: waits on another resource",
            r.name
        );
        ensure!(r.list("labels")? == ["infra"], "{}: labels", r.name);

        // The helmfile's namespace is the one the sync reads (the runner's ConfigMap is there).
        let text = std::fs::read_to_string(repo_root().join(&helmfile))?;
        ensure!(text.contains("    namespace: packages\n"), "{helmfile}");
        ensure!(
            text.contains(&format!("helmLayerSelector: \"language={lang}\"")),
            "{helmfile}"
        );
    }
    Ok(())
}

#[test]
fn editing_a_runner_chart_or_its_values_retriggers_exactly_its_layers() -> Result<()> {
    let resources = tiltfile()?;
    for (layer, _, chart, _) in LAYERS {
        for file in files_under(&format!("deploy/charts/{chart}"))? {
            let hit = triggered_by(&resources, &file)?;
            ensure!(
                hit == [format!("infra:{layer}")],
                "{} re-runs {hit:?}",
                file.display()
            );
        }
    }
    for shared in ["deploy/charts/package-runner", "deploy/helmfiles/values"] {
        for file in files_under(shared)? {
            let hit = triggered_by(&resources, &file)?;
            ensure!(
                hit == ["infra:26", "infra:27", "infra:28"],
                "{} re-runs {hit:?}",
                file.display()
            );
        }
    }
    // Source edits are not a layer's business: the runner image carries the sources.
    let hit = triggered_by(
        &resources,
        Path::new("examples/monorepo/packages/ameide_sdk_go/client.go"),
    )?;
    ensure!(hit.is_empty(), "a source edit re-runs {hit:?}");
    Ok(())
}

#[test]
fn example_resources_depend_on_the_synced_state_files_not_on_publish_scripts() -> Result<()> {
    let resources = tiltfile()?;
    let state_dir = "examples/monorepo/tmp/tilt-packages";
    for (layer, _, _, lang) in LAYERS {
        let r = by_name(&resources, &format!("example:sdk-{lang}"))?;
        ensure!(
            r.list("resource_deps")? == [format!("infra:{layer}")],
            "{}",
            r.name
        );
        let mut expected: Vec<String> = state_keys(lang)?
            .iter()
            .map(|k| format!("{state_dir}/{k}.json"))
            .collect();
        expected.push(format!("{state_dir}/{lang}-version"));
        let mut deps = r.list("deps")?;
        deps.sort();
        expected.sort();
        ensure!(
            deps == expected,
            "{}: deps {deps:?}, want {expected:?}",
            r.name
        );
        // What a state sync writes is what re-runs it, and nothing but its layer's state.
        for key in state_keys(lang)? {
            let file = PathBuf::from(format!("{state_dir}/{key}.json"));
            let hit = triggered_by(&resources, &file)?;
            ensure!(
                hit == [r.name.clone()],
                "{} re-runs {hit:?}",
                file.display()
            );
        }
        let cmd = r.list("cmd")?;
        ensure!(
            cmd == [
                "pkgrun",
                "--config",
                "examples/monorepo/pkgrun.toml",
                "env",
                "--format",
                "dotenv",
                lang
            ],
            "{}: cmd {cmd:?}",
            r.name
        );
    }
    // Nothing depends on a publish script or on pkgrun publish.
    for r in &resources {
        for arg in r.list("cmd")?.iter().chain(r.list("deps")?.iter()) {
            ensure!(
                !arg.contains("scripts/") && !arg.contains("publish"),
                "{} refers to {arg}",
                r.name
            );
        }
    }
    ensure!(resources.len() == 6, "{} resources", resources.len());
    Ok(())
}

#[test]
fn resource_deps_form_a_graph_tilt_can_order() -> Result<()> {
    let resources = tiltfile()?;
    let order = dependency_order(&resources)?;
    let pos = |n: &str| order.iter().position(|o| o == n);
    for (layer, _, _, lang) in LAYERS {
        ensure!(
            pos(&format!("infra:{layer}")) < pos(&format!("example:sdk-{lang}")),
            "{order:?}"
        );
    }
    Ok(())
}

/// Resource names in an order where each comes after its resource_deps (an error names an
/// unknown dependency or a cycle, as Tilt's would).
fn dependency_order(resources: &[Resource]) -> Result<Vec<String>> {
    let mut done: Vec<String> = Vec::new();
    while done.len() < resources.len() {
        let before = done.len();
        for r in resources {
            if done.contains(&r.name) {
                continue;
            }
            let deps = r.list("resource_deps")?;
            for d in &deps {
                ensure!(
                    resources.iter().any(|o| &o.name == d),
                    "{}: unknown resource_dep {d}",
                    r.name
                );
            }
            if deps.iter().all(|d| done.contains(d)) {
                done.push(r.name.clone());
            }
        }
        ensure!(
            done.len() > before,
            "resource_deps cycle among the rest of {done:?}"
        );
    }
    Ok(done)
}

#[test]
fn the_standins_refuse_what_tilt_refuses() -> Result<()> {
    let unknown = evaluate("t", "local_resource('a', command='true')\n".into());
    ensure!(
        format!("{:#}", unknown.unwrap_err()).contains("no parameter \"command\""),
        "an unknown keyword was accepted"
    );
    let twice = evaluate(
        "t",
        "local_resource('a', cmd='x')\nlocal_resource('a', cmd='y')\n".into(),
    );
    ensure!(twice.is_err(), "a duplicate resource was accepted");
    let builtin = evaluate("t", "k8s_yaml('x.yaml')\n".into());
    ensure!(builtin.is_err(), "an undefined builtin was accepted");
    let cycle = evaluate(
        "t",
        "local_resource('a', resource_deps=['b'])\nlocal_resource('b', resource_deps=['a'])\n"
            .into(),
    )?;
    ensure!(dependency_order(&cycle).is_err(), "a cycle was ordered");
    Ok(())
}

/// `tilt ci` on the real node: the recorded commands of every resource, in the order their
/// `resource_deps` give, from a directory laid out like the repository (the charts with their
/// dependencies built, a copy of the example monorepo).
#[test]
fn every_resource_runs_on_the_real_node_in_dependency_order() -> Result<()> {
    let resources = tiltfile()?;
    let order = dependency_order(&resources)?;
    for lang in Lang::ALL {
        let (infra, example) = resource_names(lang)?;
        let pos = |name: &str| order.iter().position(|n| n == name);
        ensure!(
            pos(&infra).is_some() && pos(&infra) < pos(&example),
            "order {order:?}"
        );
    }

    let cluster = node_layers::cluster();
    let server = cluster.server;
    // The helmfiles' namespace, which the Tiltfile's state sync reads.
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "packages" } }))?;
    server.block_on(
        Api::<Namespace>::all(server.client()).create(&PostParams::default(), &namespace),
    )?;
    for lang in Lang::ALL {
        cluster.prepare_namespace(lang, "packages")?;
    }

    let root = tempfile::tempdir_in(target_tmp_dir()?)?;
    std::os::unix::fs::symlink(&ChartWorkspace::shared().deploy, root.path().join("deploy"))?;
    let monorepo = root.path().join("examples/monorepo");
    copy_tree(&example_monorepo(), &monorepo)?;
    let state_dir = monorepo.join("tmp/tilt-packages");
    let _ = std::fs::remove_dir_all(&state_dir);
    let pkgrun_dir = workspace_bin("pkgrun")
        .parent()
        .context("bin dir")?
        .to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(pkgrun_dir).chain(std::env::split_paths(&cluster.layer_path()?)),
    )?;

    let mut stdout = BTreeMap::new();
    for name in &order {
        let cmd = by_name(&resources, name)?.list("cmd")?;
        let (program, args) = cmd.split_first().context("empty cmd")?;
        let out = std::process::Command::new(program)
            .args(args)
            .current_dir(root.path())
            .envs(ChartWorkspace::shared().helm_homes())
            .env("PATH", &path)
            .env("KUBECONFIG", server.admin_kubeconfig())
            .env("NO_COLOR", "1")
            .env_remove("PKGRUN_NAMESPACE")
            .env_remove("PKGRUN_CONFIG")
            .output()?;
        ensure!(
            out.status.success(),
            "{name} failed:\n{}\nnode:\n{}",
            text(&out),
            cluster.node.logs()
        );
        stdout.insert(
            name.clone(),
            (String::from_utf8(out.stdout.clone())?, text(&out)),
        );
    }

    for lang in Lang::ALL {
        let (infra, example) = resource_names(lang)?;
        // The infra layer ran the runner Job on the node (its pod's log, prefixed) and synced
        // its ConfigMap back byte for byte: the files the example resource depends on.
        let layer_log = &stdout[&infra].1;
        let smoke = format!("| [packages:{}-smoke]", lang.name());
        ensure!(
            layer_log
                .lines()
                .any(|l| l.starts_with(&lang.layer_scope()) && l.contains(&smoke)),
            "no smoke line of the {} runner pod:\n{layer_log}",
            lang.name()
        );
        let configmap = server
            .configmap("packages", &lang.configmap())?
            .with_context(|| format!("{} missing", lang.configmap()))?;
        for (key, value) in configmap.data.context("no data")? {
            let synced =
                std::fs::read_to_string(state_dir.join(&key)).with_context(|| key.clone())?;
            ensure!(synced == value, "{key} differs from the ConfigMap");
        }
        for dep in by_name(&resources, &example)?.list("deps")? {
            ensure!(root.path().join(&dep).is_file(), "{dep} was not synced");
        }
        // The example consumed that state: the version contract of what the runner published.
        let version = std::fs::read_to_string(state_dir.join(format!("{}-version", lang.name())))?;
        let line = format!(
            "AMEIDE_{}_SDK_VERSION={}",
            lang.core().ecosystem().env_name(),
            version.trim()
        );
        ensure!(
            stdout[&example].0.lines().any(|l| l == line),
            "{example} printed {:?}, want {line}",
            stdout[&example].0
        );
    }
    let go_version = std::fs::read_to_string(state_dir.join("go-version"))?;
    ensure!(
        go_version.contains("-0123456789ab"),
        "go-version {go_version:?}"
    );
    Ok(())
}

/// The Tiltfile's `infra:<layer>` and `example:sdk-<lang>` of `lang`'s layer.
fn resource_names(lang: Lang) -> Result<(String, String)> {
    let layer = lang.helmfile().split('-').next().context("layer number")?;
    Ok((
        format!("infra:{layer}"),
        format!("example:sdk-{}", lang.name()),
    ))
}
