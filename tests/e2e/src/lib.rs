//! Test harness for the end-to-end suites in `tests/`: locating the workspace's
//! binaries and the pinned tools installed by `scripts/tools/install-all.sh`, and
//! starting real registries on loopback.
//!
//! Everything here is blocking (std threads, `reqwest::blocking`): call it from plain
//! `#[test]` functions, or from `spawn_blocking` inside an async test.
//!
//! * [`paths`]: [`repo_root`], [`tools_dir`], [`tools_bin`], [`workspace_bin`], [`copy_tree`],
//!   [`example_monorepo`].
//! * [`process`]: [`ChildGuard`] (kills the whole process group on drop), [`free_port`],
//!   [`wait_http_ok`].
//! * [`verdaccio`]: [`Verdaccio`], a real npm registry with htpasswd auth and a caching uplink.
//! * [`devpi`]: [`Devpi`], a real PyPI index (`root/ameide`, bases `root/pypi`) with a user.
//! * [`python`]: [`Venv`], a fresh venv with a fast pip (the pinned one, `pip --python`).
//! * [`charts`]: [`charts::ChartWorkspace`], a copy of `deploy/` with the chart dependencies
//!   built and helm's directories of its own.
//! * [`kube_apiserver`]: [`KubeApiServer`], a real kube-apiserver (embedded etcd, RBAC) on
//!   loopback, with an admin client, service-account tokens and a fake kubelet for pod logs.
//! * [`kube_node`]: [`kube_node::KubeNode`], a real node (containerd, kubelet, controller-manager,
//!   scheduler) for that API server: Deployments and Jobs run their pods by themselves.
//! * [`node_layers`]: the package layers' cluster on the real node (the three runner images and
//!   STAND-IN registry images imported, the helmfile stand-in) and, per
//!   [`node_layers::Lang`], a namespace's registry Deployment and runner Secret.
//! * [`docker`]: [`docker::DockerEngine`], a real Docker engine (ours when none answers),
//!   and [`docker::StandinBase`], the STAND-IN base images of the runner-image suite.
//! * [`state`]: [`state_document`], a minimal valid state document.
//! * [`workspace`]: [`workspace::example_copy`], [`workspace::tree_digest`] and one `pkgrun`
//!   command per language with its environment ([`workspace::pkgrun_with_python_env`],
//!   [`workspace::pkgrun_with_ts_env`]; Go's is [`go::pkgrun_with_go_env`]).
//! * [`proc_audit`]: [`proc_audit::ProcAudit`], which samples the environment and arguments
//!   of a command's descendants for secret values while it runs.
//! * [`fault_proxy`]: [`FaultProxy`], a FAKE fault-injecting HTTP proxy in front of a real
//!   registry: per-request status, delay, stall, drop, truncate, flipped bytes, redirect.
//! * [`forwarder`]: [`TcpForwarder`], a loopback TCP forwarder / CONNECT proxy that a test can
//!   shut down to make an upstream unreachable.

pub mod charts;
pub mod devpi;
pub mod docker;
pub mod fault_proxy;
pub mod forwarder;
pub mod go;
pub mod kube_apiserver;
pub mod kube_node;
pub mod node_layers;
pub mod paths;
pub mod proc_audit;
pub mod process;
pub mod python;
pub mod state;
pub mod verdaccio;
pub mod workspace;

pub use devpi::Devpi;
pub use fault_proxy::{Fault, FaultProxy, Rule};
pub use forwarder::TcpForwarder;
pub use kube_apiserver::KubeApiServer;
pub use paths::{copy_tree, example_monorepo, repo_root, tools_bin, tools_dir, workspace_bin};
pub use process::{free_port, wait_http_ok, ChildGuard};
pub use python::Venv;
pub use state::{state_document, state_file_text};
pub use verdaccio::{npm_config_registry, Verdaccio, VerdaccioOptions};
