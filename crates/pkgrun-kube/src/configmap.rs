//! The ConfigMap state sink and reader.
//!
//! # Format
//!
//! One ConfigMap per language (default names `go-packages-state`,
//! `python-packages-state`, `ts-packages-state`), holding exactly what the local state
//! directory holds for that language:
//!
//! * `<state_key>.json`: the package's `pkgrun.state/v1` document, byte for byte the
//!   local file (pretty JSON and a newline);
//! * `<lang>-version`: the language's bare version and a newline.
//!
//! # Writing: server-side apply, field manager `pkgrun`, with force
//!
//! [`ConfigMapSink::apply`] sends the language's *complete* key set with server-side
//! apply (`PatchParams::apply("pkgrun")`). Because apply is declarative, keys pkgrun
//! applied earlier and no longer sends (a package removed from pkgrun.toml) are
//! removed by the API server, and keys other field managers added are left alone.
//!
//! A second field manager that changed a key pkgrun owns (say `kubectl edit` of a
//! state document) does not block the runner: pkgrun applies with `force` by default
//! and takes the key back, because the runner's output is the authoritative state
//! (the same stance controllers take). With force disabled
//! ([`ConfigMapSink::force`]`(false)`) such a change is a 409 and surfaces as
//! [`KubeError::Conflict`] naming the other manager's field.
//!
//! # Size
//!
//! Kubernetes rejects a ConfigMap whose data exceeds 1 MiB, counting the length of every
//! *value* (keys are not counted: ValidateConfigMap in k8s.io/kubernetes, confirmed against
//! the real kube-apiserver in tests/e2e/tests/kube_configmap.rs). Before writing, the sink
//! reads the ConfigMap and computes the size the result would have — pkgrun's values plus
//! those of every key already there that pkgrun is not sending (counted even if the server
//! would drop it: an upper bound) and of `binaryData` — and
//! refuses with [`KubeError::TooLarge`] without writing anything.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use pkgrun_core::state::StateDocument;
use pkgrun_core::Lang;

use crate::error::{api_error, KubeError, ObjectRef};
use crate::Kube;

/// The Kubernetes limit on a ConfigMap's data: 1 MiB.
pub const CONFIGMAP_DATA_LIMIT: usize = 1024 * 1024;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "pkgrun";

/// `<lang>-packages-state`.
pub fn default_configmap_name(lang: Lang) -> String {
    format!("{lang}-packages-state")
}

/// The ConfigMap data for a language: `<state_key>.json` per document, plus
/// `<lang>-version` when `version` is given.
pub fn state_data(
    lang: Lang,
    documents: &[StateDocument],
    version: Option<&str>,
) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    for doc in documents {
        let mut json = serde_json::to_string_pretty(doc).expect("state documents always serialise");
        json.push('\n');
        data.insert(format!("{}.json", doc.state_key), json);
    }
    if let Some(version) = version {
        data.insert(format!("{lang}-version"), format!("{}\n", version.trim()));
    }
    data
}

/// The size Kubernetes counts for ConfigMap data: the length of every value.
pub fn data_size<'a>(data: impl IntoIterator<Item = (&'a String, &'a String)>) -> usize {
    data.into_iter().map(|(_, v)| v.len()).sum()
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// The ConfigMap did not exist before.
    pub created: bool,
    /// Keys pkgrun applied.
    pub keys: usize,
    /// Data size of the ConfigMap after the apply (as computed before it).
    pub size: usize,
}

/// Where a language's state goes: one ConfigMap, applied with field manager `pkgrun`.
#[derive(Debug, Clone)]
pub struct ConfigMapSink {
    pub namespace: String,
    pub name: String,
    force: bool,
}

impl ConfigMapSink {
    /// A sink applying with force (see the module docs for why).
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ConfigMapSink {
            namespace: namespace.into(),
            name: name.into(),
            force: true,
        }
    }

    /// Whether to take over keys another field manager changed (default true).
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    fn object(&self) -> ObjectRef {
        ObjectRef {
            resource: "configmaps",
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Applies `data` as the complete set of keys pkgrun owns in the ConfigMap.
    /// Refuses (nothing written) when the result would exceed 1 MiB.
    pub fn apply(
        &self,
        kube: &Kube,
        data: &BTreeMap<String, String>,
    ) -> Result<ApplyReport, KubeError> {
        let api: Api<ConfigMap> = Api::namespaced(kube.client(), &self.namespace);
        let existing = kube
            .call(|| api.get_opt(&self.name))
            .map_err(|e| api_error("get", self.object(), e))?;
        // The size of every value the ConfigMap would hold: pkgrun's, the other keys
        // already there, and binaryData (which counts toward the same limit).
        let current = existing.as_ref();
        let sizes: Vec<(&str, usize)> = data
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .chain(
                current
                    .and_then(|cm| cm.data.as_ref())
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| !data.contains_key(*k))
                    .map(|(k, v)| (k.as_str(), v.len())),
            )
            .chain(
                current
                    .and_then(|cm| cm.binary_data.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.0.len())),
            )
            .collect();
        let size: usize = sizes.iter().map(|(_, n)| n).sum();
        if size > CONFIGMAP_DATA_LIMIT {
            let (largest_key, largest_size) = sizes
                .iter()
                .max_by_key(|(_, n)| *n)
                .map(|(k, n)| (k.to_string(), *n))
                .unwrap_or_default();
            return Err(KubeError::TooLarge {
                object: self.object(),
                size,
                limit: CONFIGMAP_DATA_LIMIT,
                largest_key,
                largest_size,
            });
        }
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            // No labels: the chart (Helm) owns the ConfigMap's metadata; pkgrun
            // owns only its data keys, so neither tool fights over the other's fields.
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
            },
            "data": data,
        });
        let mut params = PatchParams::apply(FIELD_MANAGER);
        if self.force {
            params = params.force();
        }
        // Server-side apply of the same body is idempotent: safe to retry.
        let patch = Patch::Apply(&body);
        kube.call(|| api.patch(&self.name, &params, &patch))
            .map_err(|e| api_error("patch", self.object(), e))?;
        Ok(ApplyReport {
            created: existing.is_none(),
            keys: data.len(),
            size,
        })
    }
}

/// A language's state as read from its ConfigMap, every document validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncedState {
    pub lang: Lang,
    pub object: ObjectRef,
    pub documents: Vec<StateDocument>,
    /// `<lang>-version`, if the ConfigMap has it.
    pub version: Option<String>,
    /// Keys that are neither documents nor the version (left alone).
    pub ignored: Vec<String>,
}

impl Kube {
    /// Reads and validates a language's state ConfigMap. A missing ConfigMap is
    /// [`KubeError::NotFound`].
    pub fn read_state(
        &self,
        namespace: &str,
        name: &str,
        lang: Lang,
    ) -> Result<SyncedState, KubeError> {
        let object = ObjectRef {
            resource: "configmaps",
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let api: Api<ConfigMap> = Api::namespaced(self.client(), namespace);
        let cm = self
            .call(|| api.get_opt(name))
            .map_err(|e| api_error("get", object.clone(), e))?
            .ok_or_else(|| KubeError::NotFound {
                object: object.clone(),
            })?;
        parse_state(object, lang, cm.data.unwrap_or_default())
    }
}

/// Validates a ConfigMap's data as a language's state: every `*.json` key must be a
/// `pkgrun.state/v1` document of that language whose `state_key` is the key's stem.
pub fn parse_state(
    object: ObjectRef,
    lang: Lang,
    data: BTreeMap<String, String>,
) -> Result<SyncedState, KubeError> {
    let version_key = format!("{lang}-version");
    let mut state = SyncedState {
        lang,
        object: object.clone(),
        documents: Vec::new(),
        version: None,
        ignored: Vec::new(),
    };
    for (key, value) in data {
        let bad = |problem: String| KubeError::BadDocument {
            object: object.clone(),
            key: key.clone(),
            problem,
        };
        if key == version_key {
            let v = value.trim();
            if v.is_empty() || v.contains(char::is_whitespace) {
                return Err(bad(format!(
                    "{version_key} must hold one version, found {value:?}"
                )));
            }
            state.version = Some(v.to_string());
        } else if let Some(stem) = key.strip_suffix(".json") {
            let doc: StateDocument =
                serde_json::from_str(&value).map_err(|e| bad(e.to_string()))?;
            if doc.state_key != stem {
                return Err(bad(format!(
                    "its state_key is {:?}, not {stem:?}",
                    doc.state_key
                )));
            }
            if doc.language != lang {
                return Err(bad(format!(
                    "it is a {} document in the {lang} ConfigMap",
                    doc.language
                )));
            }
            if stem.is_empty() || stem.starts_with('.') || stem.contains(['/', '\\']) {
                return Err(bad("the key is not a usable file name".into()));
            }
            state.documents.push(doc);
        } else {
            state.ignored.push(key);
        }
    }
    Ok(state)
}
