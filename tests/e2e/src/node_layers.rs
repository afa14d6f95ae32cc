//! The package layers' test cluster, shared by the suites that run them on the real node
//! (`kube_node`, `tiltfile`): the test kube-apiserver and [`KubeNode`] with the three runner
//! images (`pkgrun images build` on the images suite's Docker engine) and the three STAND-IN
//! registry images imported, the helmfile STAND-IN on a PATH of its own, and per [`Lang`] the
//! registry Deployment and runner Secret a namespace needs before `pkgrun layer`.
//!
//! What is not production's (named in the suites too): `helmfile` is `helmfile-standin`
//! (src/bin); the base images are the images suite's STAND-IN bases; the registry Deployments
//! run the real registries of the loopback suites in STAND-IN images (the project ships no
//! registry image), built on those bases the way the runner images are:
//! * `go-registry`: the go stand-in base plus the workspace's go-registry binary;
//! * `verdaccio`: the ts stand-in base (Node.js) plus the pinned Verdaccio the tools dir
//!   installed (`install-verdaccio.sh`), with the loopback harness's configuration
//!   ([`crate::verdaccio::render_config`]);
//! * `devpi`: the python stand-in base (Debian's python3) plus a venv holding the site-packages
//!   of the pinned devpi-server the tools dir installed (`install-devpi.sh`; same Python minor
//!   version, so its compiled modules load), set up as the loopback harness sets it up.
//!
//! Each runs with `hostNetwork` on the node's bridge address (no kube-proxy, so a ClusterIP
//! would not route); the runner reaches it there through its Secret. Their upstreams are the
//! machine's own (GOPROXY, `npm config get registry`, devpi's default mirror), reached with the
//! machine's trust store mounted in, as in the loopback suites.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use anyhow::{ensure, Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};

use crate::docker::{DockerEngine, StandinBase};
use crate::go::{go_env_upstream, EXAMPLE_PRIVATE_PREFIX, TEST_GIT_SHA};
use crate::kube_node::{KubeNode, GATEWAY};
use crate::paths::target_tmp_dir;
use crate::verdaccio::{npm_config_registry, render_config};
use crate::{
    copy_tree, example_monorepo, repo_root, tools_dir, workspace_bin, KubeApiServer, Verdaccio,
};

/// The tag of a go runner whose pkgrun.toml names a smoke symbol that does not exist.
pub const BROKEN_TAG: &str = "smoke-broken";
/// The go registry's upload token (its Secret and the runner's).
pub const REGISTRY_TOKEN: &str = "node-suite-upload-token";
/// The devpi user the python runner uploads as, and its password.
const DEVPI_USER: &str = "ameide";
const DEVPI_PASSWORD: &str = "node-suite-devpi-secret";
const DEVPI_ROOT_PASSWORD: &str = "node-suite-devpi-root-secret";

/// One package layer: its helmfile, runner chart values and registry, as the node runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ts,
    Go,
    Python,
}

impl Lang {
    /// In layer order (26, 27, 28).
    pub const ALL: [Lang; 3] = [Lang::Ts, Lang::Go, Lang::Python];

    /// pkgrun's language of this layer.
    pub fn core(self) -> pkgrun_core::lang::Lang {
        match self {
            Lang::Ts => pkgrun_core::lang::Lang::Ts,
            Lang::Go => pkgrun_core::lang::Lang::Go,
            Lang::Python => pkgrun_core::lang::Lang::Python,
        }
    }

    /// pkgrun's name of the language (the chart's `language`, the log scopes' `<lang>`).
    pub fn name(self) -> &'static str {
        self.core().ecosystem().name()
    }

    /// The layer's helmfile under deploy/helmfiles.
    pub fn helmfile(self) -> &'static str {
        match self {
            Lang::Ts => "26-package-npm.yaml",
            Lang::Go => "27-package-go.yaml",
            Lang::Python => "28-package-py.yaml",
        }
    }

    /// The registry Deployment the chart's values name (`registry.deployment`).
    pub fn registry_deployment(self) -> &'static str {
        match self {
            Lang::Ts => "verdaccio",
            Lang::Go => "go-registry",
            Lang::Python => "devpi",
        }
    }

    /// The runner image the chart's values name (tag `dev`, or [`BROKEN_TAG`] for go).
    pub fn runner_image(self) -> String {
        format!("registry.local/ameide/package-publisher-{}", self.name())
    }

    /// The STAND-IN registry image (see the module docs).
    fn registry_image(self) -> String {
        format!("pkgrun-e2e/{}-standin:dev", self.registry_deployment())
    }

    /// The state ConfigMap the chart's values name (`stateConfigMap`).
    pub fn configmap(self) -> String {
        format!("{}-packages-state", self.name())
    }

    /// The runner Job helm test creates.
    pub fn job(self) -> String {
        format!("package-{}-runner", self.name())
    }

    /// The prefix `pkgrun layer` gives the pod's log lines.
    pub fn layer_scope(self) -> String {
        format!("[packages:{}-layer]", self.name())
    }

    /// The example SDK package of this language (its consumer check names it).
    pub fn sdk_package(self) -> &'static str {
        match self {
            Lang::Ts => "@ameideio/ameide-sdk-ts",
            Lang::Go => "go.packages.dev.ameide.io/ameide-sdk-go",
            Lang::Python => "ameide-sdk",
        }
    }

    /// The URL of the registry at `url` that names `version` of `package` once it is published.
    pub fn version_page(self, url: &str, package: &str, version: &str) -> String {
        match self {
            Lang::Ts => format!("{url}/{}", package.replace('/', "%2f")),
            // A pseudo-version is not in `@v/list`; its `.info` is served.
            Lang::Go => format!("{url}/{package}/@v/{version}.info"),
            Lang::Python => format!("{url}/root/ameide/+simple/{package}/"),
        }
    }
}

/// The API server and the real node with every layer's images imported.
pub struct Cluster {
    pub server: &'static KubeApiServer,
    pub node: KubeNode,
    /// `helmfile` -> the helmfile STAND-IN.
    pub standin_bin: tempfile::TempDir,
    /// What seeds each in-cluster Verdaccio with the user of the loopback one.
    verdaccio_seed: VerdaccioSeed,
}

/// The user database and server secret of the loopback Verdaccio that signed up the user:
/// an in-cluster Verdaccio started from them accepts that user's token.
struct VerdaccioSeed {
    htpasswd: String,
    db: String,
    token: String,
}

/// The API server and node of this test binary, with the images imported (once).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| start().unwrap_or_else(|e| panic!("the test cluster: {e:#}")))
}

fn start() -> Result<Cluster> {
    let server = KubeApiServer::shared();
    let engine = DockerEngine::start_or_reuse()?;
    let bases = Lang::ALL
        .iter()
        .map(|&lang| {
            let base = StandinBase::for_lang(lang.name())?;
            base.import(&engine)?;
            Ok((lang, base))
        })
        .collect::<Result<Vec<_>>>()?;
    // The ts runner image's build installs pnpm from an npm registry; this loopback one also
    // signs up the user whose token the in-cluster Verdaccios accept.
    let verdaccio = Verdaccio::start()?;
    build_runner_images(&engine, &bases, &verdaccio.url())?;
    let verdaccio_seed = VerdaccioSeed {
        htpasswd: std::fs::read_to_string(verdaccio.htpasswd_path())?,
        db: std::fs::read_to_string(verdaccio.db_path())?,
        token: verdaccio.token().to_string(),
    };
    drop(verdaccio);
    for (lang, base) in &bases {
        build_registry_image(&engine, *lang, base)?;
    }
    let node = KubeNode::start(server)?;
    let mut images: Vec<String> = Lang::ALL
        .iter()
        .flat_map(|l| [format!("{}:dev", l.runner_image()), l.registry_image()])
        .collect();
    images.push(format!("{}:{BROKEN_TAG}", Lang::Go.runner_image()));
    for image in images {
        node.import_image(&engine, &image)?;
    }
    // A dockerd the engine started stops here: a static is never dropped.
    drop(engine);
    let standin_bin = tempfile::tempdir()?;
    std::os::unix::fs::symlink(
        workspace_bin("helmfile-standin"),
        standin_bin.path().join("helmfile"),
    )?;
    Ok(Cluster {
        server,
        node,
        standin_bin,
        verdaccio_seed,
    })
}

/// The static pkgrun the images carry (scripts/test.sh builds it).
fn musl_pkgrun() -> Result<PathBuf> {
    let bin = target_tmp_dir()?
        .parent()
        .context("target dir")?
        .join("x86_64-unknown-linux-musl/release/pkgrun");
    ensure!(
        bin.is_file(),
        "the static pkgrun {} is missing: run `cargo build --release --target x86_64-unknown-linux-musl -p pkgrun` (scripts/test.sh does)",
        bin.display()
    );
    Ok(bin)
}

/// `pkgrun images build` of the example monorepo, every language (tag `dev`), and of a copy
/// whose Go smoke check names a symbol that does not exist (go only, tag [`BROKEN_TAG`]).
fn build_runner_images(
    engine: &DockerEngine,
    bases: &[(Lang, StandinBase)],
    npm_registry: &str,
) -> Result<()> {
    let work = target_tmp_dir()?.join("kube-node-images");
    let broken = work.join("broken-monorepo");
    let _ = std::fs::remove_dir_all(&broken);
    copy_tree(&example_monorepo(), &broken)?;
    let toml = std::fs::read_to_string(broken.join("pkgrun.toml"))?;
    ensure!(toml.contains("symbol = \"NewClient\""), "{toml}");
    std::fs::write(
        broken.join("pkgrun.toml"),
        toml.replace(
            "symbol = \"NewClient\"",
            "symbol = \"NoSuchSymbolAnywhere\"",
        ),
    )?;
    for (ws, tag, langs) in [
        (example_monorepo(), "dev", &Lang::ALL[..]),
        (broken, BROKEN_TAG, &[Lang::Go][..]),
    ] {
        let mut cmd = Command::new(workspace_bin("pkgrun"));
        cmd.current_dir(&ws)
            .arg("--config")
            .arg(ws.join("pkgrun.toml"))
            .args(["images", "build", "--tag", tag, "--network", "host"])
            .arg("--repo")
            .arg(repo_root())
            .arg("--work-dir")
            .arg(work.join(tag))
            .arg("--pkgrun-bin")
            .arg(musl_pkgrun()?)
            .arg("--build-arg")
            .arg(format!("NPM_REGISTRY={npm_registry}"));
        for (lang, base) in bases.iter().filter(|(l, _)| langs.contains(l)) {
            cmd.arg("--base")
                .arg(format!("{}={}", lang.name(), base.image));
        }
        let out = cmd
            .args(langs.iter().map(|l| l.name()))
            .env("DOCKER_HOST", engine.host())
            .env("DOCKER_BUILDKIT", "0")
            .env("NO_COLOR", "1")
            .output()?;
        ensure!(out.status.success(), "images build {tag}: {}", text(&out));
    }
    Ok(())
}

/// The STAND-IN registry image of `lang` on its stand-in base (see the module docs).
fn build_registry_image(engine: &DockerEngine, lang: Lang, base: &StandinBase) -> Result<()> {
    let context = tempfile::tempdir_in(target_tmp_dir()?)?;
    let ctx = context.path();
    let from = &base.image;
    let dockerfile = match lang {
        Lang::Go => {
            std::fs::copy(workspace_bin("go-registry"), ctx.join("go-registry"))?;
            format!("FROM {from}\nCOPY go-registry /usr/local/bin/go-registry\nENTRYPOINT [\"/usr/local/bin/go-registry\"]\n")
        }
        Lang::Ts => {
            copy_preserving(&tools_dir().join("verdaccio/node_modules"), ctx)?;
            format!("FROM {from}\nCOPY node_modules /opt/verdaccio/node_modules\nENTRYPOINT [\"node\", \"/opt/verdaccio/node_modules/verdaccio/bin/verdaccio\"]\n")
        }
        Lang::Python => {
            let lib = devpi_python_lib()?;
            let site = tools_dir()
                .join("devpi/lib")
                .join(&lib)
                .join("site-packages");
            copy_preserving(&site, ctx)?;
            // The venv's console scripts name the tools dir's interpreter; these name the
            // image's venv.
            for (script, module, function) in [
                ("devpi-init", "devpi_server.init", "init"),
                ("devpi-server", "devpi_server.main", "main"),
            ] {
                std::fs::write(
                    ctx.join(script),
                    format!("#!/opt/devpi/bin/python\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n"),
                )?;
            }
            format!(
                "FROM {from}\nRUN python3 -m venv --without-pip /opt/devpi && test -d /opt/devpi/lib/{lib}\nCOPY site-packages /opt/devpi/lib/{lib}/site-packages\nCOPY devpi-init devpi-server /opt/devpi/bin/\nRUN chmod 755 /opt/devpi/bin/devpi-init /opt/devpi/bin/devpi-server\n"
            )
        }
    };
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "# STAND-IN registry image for the node suites (pkgrun_e2e::node_layers)\n{dockerfile}"
        ),
    )?;
    let image = lang.registry_image();
    let out = engine
        .docker()
        .args(["build", "--network", "host", "-t", &image])
        .arg(ctx)
        .output()?;
    ensure!(out.status.success(), "build {image}: {}", text(&out));
    Ok(())
}

/// `python3.X`, the library directory of the tools dir's devpi venv.
fn devpi_python_lib() -> Result<String> {
    let lib = tools_dir().join("devpi/lib");
    std::fs::read_dir(&lib)
        .with_context(|| format!("{}: run scripts/tools/install-devpi.sh", lib.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.starts_with("python3"))
        .with_context(|| format!("no python3.X in {}", lib.display()))
}

/// `cp -a src dest/`: symlinks and modes kept (node_modules/.bin holds links).
fn copy_preserving(src: &Path, dest: &Path) -> Result<()> {
    let out = Command::new("cp").arg("-a").arg(src).arg(dest).output()?;
    ensure!(
        out.status.success(),
        "cp -a {}: {}",
        src.display(),
        text(&out)
    );
    Ok(())
}

/// A command's stdout and stderr, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A port free on the node's bridge address.
pub fn gateway_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(format!("{GATEWAY}:0"))?
        .local_addr()?
        .port())
}

impl Cluster {
    /// PATH for `pkgrun layer`: the helmfile stand-in, the pinned tools (helm), then PATH.
    pub fn layer_path(&self) -> Result<OsString> {
        Ok(std::env::join_paths(
            [
                self.standin_bin.path().to_path_buf(),
                tools_dir().join("bin"),
            ]
            .into_iter()
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )),
        )?)
    }

    /// `lang`'s registry Deployment (not yet Available) and runner Secret in `namespace`; the
    /// registry's URL (no trailing slash) as pods and this process reach it.
    pub fn prepare_namespace(&self, lang: Lang, namespace: &str) -> Result<String> {
        let port = gateway_port()?;
        let url = format!("http://{GATEWAY}:{port}");
        let listen = format!("{GATEWAY}:{port}");
        let parts = match lang {
            Lang::Go => go_registry(&listen, &url)?,
            Lang::Ts => self.verdaccio(&listen, &url)?,
            Lang::Python => devpi(&listen, &url)?,
        };
        let mut env = parts.runner_env.clone();
        create_registry(self.server, namespace, lang, parts)?;
        env["SOURCE_GIT_SHA"] = json!(TEST_GIT_SHA);
        create_secret(
            self.server,
            namespace,
            &format!("packages-{}-env", lang.name()),
            env,
        )?;
        Ok(url)
    }

    /// Verdaccio with the loopback harness's configuration on `listen`, its user database and
    /// secret seeded from the loopback one (copied into its storage: Verdaccio writes there).
    fn verdaccio(&self, listen: &str, url: &str) -> Result<RegistryParts> {
        let seed = &self.verdaccio_seed;
        let config = render_config(Path::new("/data"), listen, &npm_config_registry()?, None);
        let container = json!({
            "command": ["sh", "-c", "mkdir -p /data/storage && cp /seed/htpasswd /data/htpasswd \
                && cp /seed/db.json /data/storage/.verdaccio-db.json \
                && exec node /opt/verdaccio/node_modules/verdaccio/bin/verdaccio --config /seed/config.yaml"],
            "readinessProbe": { "httpGet": { "host": GATEWAY, "port": port_of(listen)?, "path": "/-/ping" }, "periodSeconds": 1 },
        });
        Ok(RegistryParts {
            container,
            secret: json!({ "config.yaml": config, "htpasswd": seed.htpasswd, "db.json": seed.db }),
            secret_files_at: Some("/seed"),
            runner_env: json!({ "NPM_REGISTRY_URL": format!("{url}/"), "NPM_AUTH_TOKEN": seed.token }),
        })
    }
}

/// A registry's container (without image, `/data` and trust store), its Secret, and the
/// runner's environment contract for it.
struct RegistryParts {
    container: Value,
    /// The registry's Secret (`<deployment>-registry`): its data, and where its files are
    /// mounted (`None`: the container reads it as environment).
    secret: Value,
    secret_files_at: Option<&'static str>,
    runner_env: Value,
}

/// The real go-registry: storage in an emptyDir, the upload token from a Secret file.
fn go_registry(listen: &str, url: &str) -> Result<RegistryParts> {
    let container = json!({
        "args": ["--listen", listen, "--storage", "/data/storage",
                 "--token-file", "/token/tokens", "--upstream", go_env_upstream()?],
        "readinessProbe": { "tcpSocket": { "host": GATEWAY, "port": port_of(listen)? }, "periodSeconds": 1 },
    });
    Ok(RegistryParts {
        container,
        secret: json!({ "tokens": format!("{REGISTRY_TOKEN}\n") }),
        secret_files_at: Some("/token"),
        runner_env: json!({
            "GO_REGISTRY_URL": url,
            "GO_REGISTRY_TOKEN": REGISTRY_TOKEN,
            "GONOSUMDB": EXAMPLE_PRIVATE_PREFIX,
            "GOSUMDB": "off",
        }),
    })
}

/// What the devpi pod runs once devpi-server answers: what [`crate::Devpi`] does on loopback
/// (no upstream project list, the user, the `root/ameide` index over `root/pypi`). Until it
/// has, `/root/ameide/+simple/` does not exist and the pod is not Ready.
const DEVPI_SETUP: &str = r#"
import base64, json, os, time, urllib.error, urllib.request
base = os.environ["DEVPI_URL"]
auth = base64.b64encode(("root:" + os.environ["DEVPI_ROOT_PASSWORD"]).encode()).decode()
def send(method, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": "Basic " + auth, "Accept": "application/json",
                 "Content-Type": "application/json"})
    for _ in range(600):
        try:
            urllib.request.urlopen(request, timeout=30).read()
            print("devpi setup:", method, path, flush=True)
            return
        except urllib.error.HTTPError:
            raise
        except OSError:
            time.sleep(0.5)
    raise SystemExit("devpi-server did not answer at " + base)
send("PATCH", "/root/pypi", ["mirror_no_project_list=True"])
send("PUT", "/" + os.environ["DEVPI_USER"],
     {"password": os.environ["DEVPI_PASSWORD"], "email": "ameide@example.invalid"})
send("PUT", "/root/ameide", {"type": "stage", "bases": ["root/pypi"], "volatile": False,
     "acl_upload": ["root", os.environ["DEVPI_USER"]]})
"#;

/// devpi-server initialised at start, with the user and index of [`crate::Devpi`] created by
/// [`DEVPI_SETUP`]; the passwords come from a Secret.
fn devpi(listen: &str, url: &str) -> Result<RegistryParts> {
    let port = port_of(listen)?;
    // The argon2 tuning is the loopback harness's (devpi.rs says why).
    let script = format!(
        "set -e\n/opt/devpi/bin/devpi-init --serverdir /data/server --root-passwd \"$DEVPI_ROOT_PASSWORD\"\n\
         /opt/devpi/bin/python -c \"$DEVPI_SETUP\" &\n\
         exec /opt/devpi/bin/devpi-server --serverdir /data/server --host {GATEWAY} --port {port} \
         --argon2-memory-cost 8192 --argon2-time-cost 1 --argon2-parallelism 1\n"
    );
    let container = json!({
        "command": ["sh", "-c", script],
        "env": [
            { "name": "DEVPI_URL", "value": url },
            { "name": "DEVPI_SETUP", "value": DEVPI_SETUP }
        ],
        "envFrom": [{ "secretRef": { "name": registry_secret(Lang::Python) } }],
        "readinessProbe": { "httpGet": { "host": GATEWAY, "port": port, "path": "/root/ameide/+simple/" }, "periodSeconds": 1 },
    });
    let runner_env = json!({
        "AMEIDE_PYPI_REPOSITORY_URL": format!("{url}/root/ameide/"),
        "AMEIDE_PYPI_USERNAME": DEVPI_USER,
        "AMEIDE_PYPI_PASSWORD": DEVPI_PASSWORD,
        "PIP_INDEX_URL": format!("{url}/root/ameide/+simple/"),
        // pip trusts plain http only on loopback; an index on the bridge address has to be
        // named (pkgrun passes PIP_* to pip). A cluster's devpi behind https needs none.
        "PIP_TRUSTED_HOST": GATEWAY,
    });
    Ok(RegistryParts {
        container,
        secret: json!({
            "DEVPI_ROOT_PASSWORD": DEVPI_ROOT_PASSWORD,
            "DEVPI_USER": DEVPI_USER,
            "DEVPI_PASSWORD": DEVPI_PASSWORD,
        }),
        secret_files_at: None,
        runner_env,
    })
}

/// The name of `lang`'s registry Secret.
fn registry_secret(lang: Lang) -> String {
    format!("{}-registry", lang.registry_deployment())
}

fn port_of(listen: &str) -> Result<u16> {
    listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("no port in {listen}"))
}

/// A Secret `name` with `string_data` in `namespace`.
fn create_secret(
    server: &KubeApiServer,
    namespace: &str,
    name: &str,
    string_data: Value,
) -> Result<()> {
    create::<Secret>(
        server,
        namespace,
        json!({ "metadata": { "name": name }, "stringData": string_data }),
    )
}

/// Creates the namespaced `object` (a `K` as JSON) in `namespace`.
fn create<K>(server: &KubeApiServer, namespace: &str, object: Value) -> Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
    K::DynamicType: Default,
{
    let what = format!(
        "create {} {namespace}/{}",
        K::kind(&Default::default()),
        object["metadata"]["name"]
    );
    let object: K = serde_json::from_value(object).with_context(|| what.clone())?;
    server
        .block_on(
            Api::<K>::namespaced(server.client(), namespace)
                .create(&PostParams::default(), &object),
        )
        .context(what)?;
    Ok(())
}

/// `lang`'s registry Deployment, one replica of the container (the STAND-IN image added) with
/// `hostNetwork` on the bridge address, an emptyDir at `/data`, its Secret's files, and the
/// host's trust store: the machine's route to the upstreams presents a certificate only that
/// store knows (the stand-in bases' do not).
fn create_registry(
    server: &KubeApiServer,
    namespace: &str,
    lang: Lang,
    parts: RegistryParts,
) -> Result<()> {
    const CA: &str = "/etc/ssl/certs/ca-certificates.crt";
    let name = lang.registry_deployment();
    let mut container = parts.container;
    container["name"] = json!("registry");
    container["image"] = json!(lang.registry_image());
    container["imagePullPolicy"] = json!("Never");
    let mut mounts = vec![
        json!({ "name": "data", "mountPath": "/data" }),
        json!({ "name": "host-ca", "mountPath": CA, "readOnly": true }),
    ];
    let mut volumes = vec![
        json!({ "name": "data", "emptyDir": {} }),
        json!({ "name": "host-ca", "hostPath": { "path": CA, "type": "File" } }),
    ];
    let secret = registry_secret(lang);
    create_secret(server, namespace, &secret, parts.secret)?;
    if let Some(path) = parts.secret_files_at {
        mounts.push(json!({ "name": "files", "mountPath": path, "readOnly": true }));
        volumes.push(json!({ "name": "files", "secret": { "secretName": secret } }));
    }
    container["volumeMounts"] = json!(mounts);
    let env = container["env"].as_array().cloned().unwrap_or_default();
    container["env"] = json!(env
        .into_iter()
        .chain(
            ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"]
                .map(|n| json!({ "name": n, "value": CA }))
        )
        .collect::<Vec<_>>());
    create::<Deployment>(
        server,
        namespace,
        json!({
            "metadata": { "name": name },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": name } },
                "template": {
                    "metadata": { "labels": { "app": name } },
                    "spec": {
                        "hostNetwork": true,
                        "dnsPolicy": "Default",
                        "containers": [container],
                        "volumes": volumes
                    }
                }
            }
        }),
    )
}
