//! What `pkgrun layer` asks the API: whether the registry Deployment is Available
//! (its status conditions), how a test Job ended (its `Complete`/`Failed`
//! conditions), and what the Job's pods logged (pods found by label query, the way
//! Helm's own `--logs` is not reliable for hook Jobs).

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};

use crate::error::{api_error, KubeError, ObjectRef};
use crate::Kube;

/// How a bounded wait polls.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub timeout: Duration,
    pub interval: Duration,
}

/// How a Job ended, from its status conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Condition `Complete=True`.
    Succeeded,
    /// Condition `Failed=True`, with its reason and message (e.g. `BackoffLimitExceeded`).
    Failed { reason: String, message: String },
    /// Neither yet.
    Running,
}

/// One pod's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLog {
    pub pod: String,
    /// The container (init containers come first, in the pod's order).
    pub container: String,
    /// The container's exit code, once it terminated.
    pub exit_code: Option<i32>,
    pub log: String,
}

fn deployment_state(d: &Deployment) -> (bool, String) {
    let status = d.status.as_ref();
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let available = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Available"));
    match available {
        Some(c) => {
            let mut text = format!("Available={} ({ready}/{wanted} ready", c.status);
            if let Some(reason) = &c.reason {
                text.push_str(&format!(", {reason}"));
            }
            text.push(')');
            (c.status == "True", text)
        }
        None => (
            false,
            format!("no Available condition yet ({ready}/{wanted} ready)"),
        ),
    }
}

impl Kube {
    /// Polls the Deployment until its `Available` condition is `True`, calling
    /// `progress` with a line after every poll that is not yet Available. A missing
    /// Deployment or an unreachable API is waited for; 403 and other API errors end
    /// the wait at once. Runs out with [`KubeError::Timeout`].
    pub fn wait_deployment_available(
        &self,
        namespace: &str,
        name: &str,
        wait: Wait,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), KubeError> {
        let object = ObjectRef {
            resource: "deployments",
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let api: Api<Deployment> = Api::namespaced(self.client(), namespace);
        let started = Instant::now();
        loop {
            let last = match self.block_on(api.get_opt(name)) {
                Ok(Some(d)) => {
                    let (available, text) = deployment_state(&d);
                    if available {
                        return Ok(());
                    }
                    text
                }
                Ok(None) => "does not exist yet".to_string(),
                Err(e) => match api_error("get", object.clone(), e) {
                    KubeError::Unreachable { source, .. } => format!("API unreachable: {source}"),
                    other => return Err(other),
                },
            };
            let elapsed = started.elapsed();
            if elapsed >= wait.timeout {
                return Err(KubeError::Timeout {
                    object,
                    what: "become Available",
                    seconds: wait.timeout.as_secs_f64(),
                    last,
                });
            }
            progress(&format!(
                "waiting for deployment {namespace}/{name}: {last} ({:.1}s of {:.1}s)",
                elapsed.as_secs_f64(),
                wait.timeout.as_secs_f64()
            ));
            std::thread::sleep(wait.interval.min(wait.timeout.saturating_sub(elapsed)));
        }
    }

    /// Names of the Jobs matching `selector` (`k=v,k2=v2`), oldest first.
    pub fn jobs(&self, namespace: &str, selector: &str) -> Result<Vec<String>, KubeError> {
        let api: Api<Job> = Api::namespaced(self.client(), namespace);
        let list = self
            .block_on(api.list(&ListParams::default().labels(selector)))
            .map_err(|e| api_error("list", list_ref("jobs", namespace), e))?;
        let mut jobs: Vec<_> = list.items.into_iter().collect();
        jobs.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
                .then(a.metadata.name.cmp(&b.metadata.name))
        });
        Ok(jobs.into_iter().filter_map(|j| j.metadata.name).collect())
    }

    /// The Job's outcome from its conditions.
    pub fn job_outcome(&self, namespace: &str, name: &str) -> Result<JobOutcome, KubeError> {
        let object = ObjectRef {
            resource: "jobs",
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let api: Api<Job> = Api::namespaced(self.client(), namespace);
        let job = self
            .block_on(api.get(name))
            .map_err(|e| api_error("get", object, e))?;
        let conditions = job.status.and_then(|s| s.conditions).unwrap_or_default();
        for c in &conditions {
            if c.status == "True" && c.type_ == "Failed" {
                return Ok(JobOutcome::Failed {
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                });
            }
        }
        if conditions
            .iter()
            .any(|c| c.status == "True" && c.type_ == "Complete")
        {
            return Ok(JobOutcome::Succeeded);
        }
        Ok(JobOutcome::Running)
    }

    /// Logs of every container that ran in the pods matching `selector`: oldest pod first,
    /// in each pod its init containers, then its containers, in the pod's order. A
    /// container that never started (e.g. after a failed init container) has no log.
    pub fn pod_logs(&self, namespace: &str, selector: &str) -> Result<Vec<PodLog>, KubeError> {
        let api: Api<Pod> = Api::namespaced(self.client(), namespace);
        let list = self
            .block_on(api.list(&ListParams::default().labels(selector)))
            .map_err(|e| api_error("list", list_ref("pods", namespace), e))?;
        let mut pods: Vec<Pod> = list.items;
        pods.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
                .then(a.metadata.name.cmp(&b.metadata.name))
        });
        let mut out = Vec::new();
        for pod in &pods {
            let Some(name) = pod.metadata.name.clone() else {
                continue;
            };
            for (container, started, exit_code) in containers_that_ran(pod) {
                if !started {
                    continue;
                }
                let object = ObjectRef {
                    resource: "pods/log",
                    namespace: namespace.to_string(),
                    name: format!("{name} (container {container})"),
                };
                let params = LogParams {
                    container: Some(container.clone()),
                    ..LogParams::default()
                };
                let log = self
                    .block_on(api.logs(&name, &params))
                    .map_err(|e| api_error("get", object, e))?;
                out.push(PodLog {
                    pod: name.clone(),
                    container,
                    exit_code,
                    log,
                });
            }
        }
        Ok(out)
    }
}

/// Each container of `pod` (init containers first, in spec order) with whether it has
/// started (running or terminated) and its exit code once terminated.
fn containers_that_ran(pod: &Pod) -> Vec<(String, bool, Option<i32>)> {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let names = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .chain(spec.map(|s| &s.containers).into_iter().flatten())
        .map(|c| c.name.clone());
    let statuses: Vec<_> = status
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            status
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
        .collect();
    names
        .map(|name| {
            let state = statuses
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.state.as_ref());
            let terminated = state.and_then(|s| s.terminated.as_ref());
            let started = terminated.is_some() || state.is_some_and(|s| s.running.is_some());
            (name, started, terminated.map(|t| t.exit_code))
        })
        .collect()
}

fn list_ref(resource: &'static str, namespace: &str) -> ObjectRef {
    ObjectRef {
        resource,
        namespace: namespace.to_string(),
        name: String::new(),
    }
}
