//! A FAKE Kubernetes API server on loopback, for tests only, until the real
//! kube-apiserver of the test suite lands (issue 8). It implements just what pkgrun
//! uses, following the real semantics as documented by Kubernetes:
//!
//! * ConfigMaps: GET (200, or 404 with a `Status`); server-side apply PATCH
//!   (`application/apply-patch+yaml`, `fieldManager` required) that creates (201) or
//!   updates (200), tracks which field manager owns each `data` key, answers 409
//!   when a key owned by another manager would change and `force` is not set
//!   (ownership moves with `force=true`), removes keys the applying manager owned
//!   alone and no longer sends, and rejects data over 1 MiB (422);
//! * 403 `Status` for forbidden namespaces or (namespace, ConfigMap) pairs, worded
//!   like the API server's RBAC refusals;
//! * Deployments: GET whose status becomes `Available=True` after N reads;
//! * Jobs: GET and list by label selector, with the status the test sets;
//! * Pods: list by label selector, and `/log`.
//!
//! Every request is recorded so tests can prove that nothing was written.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Default)]
struct FakeConfigMap {
    data: BTreeMap<String, String>,
    /// key → field managers owning it.
    owners: BTreeMap<String, BTreeSet<String>>,
    resource_version: u64,
}

/// A fake pod: labels, exit code of its container, log.
type FakePod = (BTreeMap<String, String>, Option<i32>, String);

#[derive(Default)]
pub struct FakeState {
    configmaps: BTreeMap<(String, String), FakeConfigMap>,
    forbidden_namespaces: BTreeSet<String>,
    /// (namespace, name): the only ConfigMaps allowed in that namespace, when set.
    allowed_configmaps: BTreeMap<String, BTreeSet<String>>,
    /// (namespace, name) → (reads so far, reads before Available)
    deployments: BTreeMap<(String, String), (u32, u32)>,
    jobs: BTreeMap<(String, String), Value>,
    /// (namespace, name) → (labels, exit code, log)
    pods: BTreeMap<(String, String), FakePod>,
    pub requests: Vec<String>,
}

/// A running fake API server.
pub struct FakeApi {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
    _runtime: std::thread::JoinHandle<()>,
}

impl FakeApi {
    pub fn start() -> FakeApi {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new()
            .route(
                "/api/v1/namespaces/{ns}/configmaps/{name}",
                get(get_configmap).patch(apply_configmap),
            )
            .route(
                "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
                get(get_deployment),
            )
            .route("/apis/batch/v1/namespaces/{ns}/jobs", get(list_jobs))
            .route("/apis/batch/v1/namespaces/{ns}/jobs/{name}", get(get_job))
            .route("/api/v1/namespaces/{ns}/pods", get(list_pods))
            .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(pod_log))
            .fallback(|uri: Uri| async move {
                status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("the fake API does not serve {uri}"),
                )
            })
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        FakeApi {
            addr,
            state,
            _runtime: handle,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig (YAML) for this server whose context uses `namespace`.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\ncurrent-context: fake\n",
            self.url()
        )
    }

    pub fn forbid_namespace(&self, ns: &str) {
        self.state
            .lock()
            .unwrap()
            .forbidden_namespaces
            .insert(ns.into());
    }

    /// Like a Role with `resourceNames`: only these ConfigMaps of `ns` are allowed.
    pub fn allow_only_configmaps(&self, ns: &str, names: &[&str]) {
        self.state
            .lock()
            .unwrap()
            .allowed_configmaps
            .insert(ns.into(), names.iter().map(|n| n.to_string()).collect());
    }

    pub fn configmap(&self, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
        self.state
            .lock()
            .unwrap()
            .configmaps
            .get(&(ns.into(), name.into()))
            .map(|c| c.data.clone())
    }

    pub fn owners(&self, ns: &str, name: &str, key: &str) -> BTreeSet<String> {
        let s = self.state.lock().unwrap();
        s.configmaps
            .get(&(ns.into(), name.into()))
            .and_then(|c| c.owners.get(key).cloned())
            .unwrap_or_default()
    }

    /// Puts data directly (as if another tool created the ConfigMap).
    pub fn put_configmap(&self, ns: &str, name: &str, manager: &str, data: &[(&str, &str)]) {
        let mut s = self.state.lock().unwrap();
        let cm = s.configmaps.entry((ns.into(), name.into())).or_default();
        for (k, v) in data {
            cm.data.insert(k.to_string(), v.to_string());
            cm.owners
                .entry(k.to_string())
                .or_default()
                .insert(manager.to_string());
        }
        cm.resource_version += 1;
    }

    pub fn add_deployment(&self, ns: &str, name: &str, available_after_reads: u32) {
        self.state
            .lock()
            .unwrap()
            .deployments
            .insert((ns.into(), name.into()), (0, available_after_reads));
    }

    pub fn deployment_reads(&self, ns: &str, name: &str) -> u32 {
        self.state.lock().unwrap().deployments[&(ns.to_string(), name.to_string())].0
    }

    /// A Job with labels and conditions `(type, status, reason, message)`.
    pub fn add_job(
        &self,
        ns: &str,
        name: &str,
        labels: &[(&str, &str)],
        conditions: &[(&str, &str, &str, &str)],
    ) {
        let labels: BTreeMap<_, _> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let conditions: Vec<Value> = conditions
            .iter()
            .map(|(t, s, r, m)| json!({"type": t, "status": s, "reason": r, "message": m}))
            .collect();
        let job = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "creationTimestamp": "2026-11-27T22:00:00Z"},
            "spec": {"template": {"spec": {"containers": [{"name": "runner", "image": "x"}], "restartPolicy": "Never"}}},
            "status": {"conditions": conditions},
        });
        self.state
            .lock()
            .unwrap()
            .jobs
            .insert((ns.into(), name.into()), job);
    }

    pub fn add_pod(
        &self,
        ns: &str,
        name: &str,
        labels: &[(&str, &str)],
        exit_code: Option<i32>,
        log: &str,
    ) {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .pods
            .insert((ns.into(), name.into()), (labels, exit_code, log.into()));
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| !r.starts_with("GET "))
            .collect()
    }
}

type Shared = Arc<Mutex<FakeState>>;

async fn record(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let line = format!("{} {}", req.method(), req.uri());
    state.lock().unwrap().requests.push(line);
    next.run(req).await
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    (
        code,
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": message, "reason": reason, "code": code.as_u16()}),
        ),
    )
        .into_response()
}

fn forbidden(
    s: &FakeState,
    verb: &str,
    resource: &str,
    ns: &str,
    name: Option<&str>,
) -> Option<Response> {
    let by_name = resource == "configmaps"
        && name.is_some_and(|n| {
            s.allowed_configmaps
                .get(ns)
                .is_some_and(|allowed| !allowed.contains(n))
        });
    if s.forbidden_namespaces.contains(ns) || by_name {
        let what = match name {
            Some(n) => format!("{resource} \"{n}\" is forbidden"),
            None => format!("{resource} is forbidden"),
        };
        return Some(status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("{what}: User \"system:serviceaccount:{ns}:fake-runner\" cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{ns}\""),
        ));
    }
    None
}

fn configmap_json(ns: &str, name: &str, cm: &FakeConfigMap) -> Value {
    let managers: BTreeSet<&String> = cm.owners.values().flatten().collect();
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": cm.resource_version.to_string(),
                     "managedFields": managers.iter().map(|m| json!({"manager": m, "operation": "Apply"})).collect::<Vec<_>>()},
        "data": cm.data,
    })
}

async fn get_configmap(
    State(state): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let s = state.lock().unwrap();
    if let Some(r) = forbidden(&s, "get", "configmaps", &ns, Some(&name)) {
        return r;
    }
    match s.configmaps.get(&(ns.clone(), name.clone())) {
        Some(cm) => Json(configmap_json(&ns, &name, cm)).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("configmaps \"{name}\" not found"),
        ),
    }
}

async fn apply_configmap(
    State(state): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    method: Method,
    body: Bytes,
) -> Response {
    assert_eq!(method, Method::PATCH);
    let mut s = state.lock().unwrap();
    if let Some(r) = forbidden(&s, "patch", "configmaps", &ns, Some(&name)) {
        return r;
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/apply-patch+yaml" {
        return status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            &format!("the fake only implements server-side apply, not {content_type}"),
        );
    }
    let Some(manager) = query.get("fieldManager").cloned() else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "PATCH, fieldManager: Required value: is required for apply patch",
        );
    };
    let force = query.get("force").map(String::as_str) == Some("true");
    // JSON is YAML; pkgrun (kube-rs) sends JSON.
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("error decoding YAML: {e}"),
            )
        }
    };
    if body["metadata"]["name"] != json!(name) {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the name of the object does not match the name on the URL",
        );
    }
    let applied: BTreeMap<String, String> =
        serde_json::from_value(body["data"].clone()).unwrap_or_default();
    let key = (ns.clone(), name.clone());
    let created = !s.configmaps.contains_key(&key);
    let cm = s.configmaps.remove(&key).unwrap_or_default();
    // Conflicts: a key another manager owns whose value would change.
    let conflicts: Vec<String> = applied
        .iter()
        .filter(|(k, v)| cm.data.get(*k).is_some_and(|old| old != *v))
        .filter_map(|(k, _)| {
            let others: Vec<&String> = cm
                .owners
                .get(k)?
                .iter()
                .filter(|m| **m != manager)
                .collect();
            (!others.is_empty())
                .then(|| format!("conflict with \"{}\" using v1: .data.{k}", others[0]))
        })
        .collect();
    if !conflicts.is_empty() && !force {
        s.configmaps.insert(key, cm);
        return status(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Apply failed with {} conflict{}: {}",
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" },
                conflicts.join(", ")
            ),
        );
    }
    let mut next = FakeConfigMap {
        data: cm.data.clone(),
        owners: cm.owners.clone(),
        resource_version: cm.resource_version,
    };
    // Keys this manager owned and no longer applies: dropped from its set; removed if nobody else owns them.
    for (k, owners) in cm.owners.iter() {
        if owners.contains(&manager) && !applied.contains_key(k) {
            let rest: BTreeSet<String> =
                owners.iter().filter(|m| **m != manager).cloned().collect();
            if rest.is_empty() {
                next.data.remove(k);
                next.owners.remove(k);
            } else {
                next.owners.insert(k.clone(), rest);
            }
        }
    }
    for (k, v) in &applied {
        let changed = next.data.get(k) != Some(v);
        next.data.insert(k.clone(), v.clone());
        let owners = next.owners.entry(k.clone()).or_default();
        if changed {
            // With force (or no other owner) the applier becomes the only owner of a changed field.
            owners.clear();
        }
        owners.insert(manager.clone());
    }
    let size: usize = next.data.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 1024 * 1024 {
        s.configmaps.insert(key, cm);
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!(
                "ConfigMap \"{name}\" is invalid: []: Too long: must have at most 1048576 bytes"
            ),
        );
    }
    next.resource_version += 1;
    let out = configmap_json(&ns, &name, &next);
    s.configmaps.insert(key, next);
    (
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(out),
    )
        .into_response()
}

async fn get_deployment(
    State(state): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let mut s = state.lock().unwrap();
    if let Some(r) = forbidden(&s, "get", "deployments", &ns, Some(&name)) {
        return r;
    }
    let Some((reads, after)) = s.deployments.get_mut(&(ns.clone(), name.clone())) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("deployments.apps \"{name}\" not found"),
        );
    };
    *reads += 1;
    let available = *reads > *after;
    let (cond, ready) = if available {
        (
            json!({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."}),
            1,
        )
    } else {
        (
            json!({"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."}),
            0,
        )
    };
    Json(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "registry", "image": "x"}]}}},
        "status": {"replicas": 1, "readyReplicas": ready, "conditions": [cond]},
    }))
    .into_response()
}

fn matches(labels: &BTreeMap<String, String>, selector: Option<&String>) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_empty()) else {
        return true;
    };
    sel.split(',').all(|part| match part.split_once('=') {
        Some((k, v)) => labels.get(k.trim()) == Some(&v.trim().to_string()),
        None => labels.contains_key(part.trim()),
    })
}

async fn list_jobs(
    State(state): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = state.lock().unwrap();
    if let Some(r) = forbidden(&s, "list", "jobs", &ns, None) {
        return r;
    }
    let items: Vec<Value> = s
        .jobs
        .iter()
        .filter(|((n, _), _)| *n == ns)
        .filter(|(_, job)| {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(job["metadata"]["labels"].clone()).unwrap_or_default();
            matches(&labels, q.get("labelSelector"))
        })
        .map(|(_, j)| j.clone())
        .collect();
    Json(json!({"apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": items}))
        .into_response()
}

async fn get_job(
    State(state): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let s = state.lock().unwrap();
    match s.jobs.get(&(ns, name.clone())) {
        Some(j) => Json(j.clone()).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("jobs.batch \"{name}\" not found"),
        ),
    }
}

async fn list_pods(
    State(state): State<Shared>,
    Path(ns): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let s = state.lock().unwrap();
    if let Some(r) = forbidden(&s, "list", "pods", &ns, None) {
        return r;
    }
    let items: Vec<Value> = s
        .pods
        .iter()
        .filter(|((n, _), (labels, _, _))| *n == ns && matches(labels, q.get("labelSelector")))
        .map(|((_, name), (labels, code, _))| {
            let statuses = match code {
                Some(c) => json!([{"name": "runner", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                                   "state": {"terminated": {"exitCode": c, "reason": if *c == 0 { "Completed" } else { "Error" }}}}]),
                None => json!([]),
            };
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "namespace": ns, "labels": labels},
                   "spec": {"containers": [{"name": "runner", "image": "x"}]},
                   "status": {"containerStatuses": statuses}})
        })
        .collect();
    Json(json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}))
        .into_response()
}

async fn pod_log(
    State(state): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let s = state.lock().unwrap();
    match s.pods.get(&(ns, name.clone())) {
        Some((_, _, log)) => log.clone().into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("pods \"{name}\" not found"),
        ),
    }
}
