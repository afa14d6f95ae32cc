//! Reading a helmfile layer for `pkgrun layer`: its releases, their labels, and the
//! values that name the layer's selector and registry.
//!
//! Each release's values are merged the way Helm merges them: the chart's own
//! `values.yaml` (when `chart` is a local path), then every entry of the release's
//! `values:` list in order — a file path (relative to the helmfile's directory) or
//! an inline map — later maps overriding earlier ones key by key. From the merged
//! values:
//!
//! * `helmLayerSelector` (`"language=go"`): the helmfile selector of the release. It
//!   must be satisfied by the release's `labels` (helmfile selectors match release
//!   labels, not values), else the layer would silently select nothing;
//! * `registry.deployment` and `registry.namespace`: the Deployment to wait for;
//! * `namespace`: the release's namespace when the release does not set one.
//!
//! Limits: helmfile templates (`{{ … }}`, `*.gotmpl`), `bases:` and environments are
//! not rendered; a layer file must be plain YAML (several `---` documents are read).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml::Value;

use crate::error::KubeError;

/// A release of the layer, with what `pkgrun layer` needs from its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub name: String,
    /// The release's `namespace`, else the values' `namespace`.
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `helmLayerSelector` from the merged values.
    pub selector: Option<String>,
    /// `registry.namespace` (else the release namespace) and `registry.deployment`.
    pub registry: Option<RegistryRef>,
}

/// The registry Deployment a layer waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    pub namespace: Option<String>,
    pub deployment: String,
}

/// A parsed helmfile layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub path: PathBuf,
    pub releases: Vec<Release>,
}

#[derive(Debug, Deserialize)]
struct RawHelmfile {
    #[serde(default)]
    releases: Vec<RawRelease>,
}

#[derive(Debug, Deserialize)]
struct RawRelease {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    chart: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, Value>,
    #[serde(default)]
    values: Vec<Value>,
}

fn problem(path: &Path, problem: impl Into<String>) -> KubeError {
    KubeError::Helmfile {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Parses a selector `k=v[,k2=v2]` into its pairs (only equality, as helmfile layers use).
pub fn parse_selector(selector: &str) -> Option<Vec<(String, String)>> {
    selector
        .split(',')
        .map(|part| {
            let (k, v) = part.split_once('=')?;
            let (k, v) = (k.trim(), v.trim().trim_start_matches('='));
            (!k.is_empty() && !k.contains('!')).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Merges `over` into `base`: maps key by key, anything else replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn read_yaml(path: &Path) -> Result<Value, KubeError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| problem(path, format!("cannot read it: {e}")))?;
    if text.contains("{{") {
        return Err(problem(
            path,
            "it contains templates ({{ … }}), which pkgrun layer does not render",
        ));
    }
    serde_yaml::from_str(&text).map_err(|e| problem(path, format!("not YAML: {e}")))
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-empty scalar (`""` means "not set" in the charts' values).
fn nonempty(v: &Value) -> Option<String> {
    scalar(v).filter(|s| !s.trim().is_empty())
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// Reads the helmfile at `path` and the values files of its releases.
pub fn read_layer(path: &Path) -> Result<Layer, KubeError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| problem(path, format!("cannot read it: {e}")))?;
    if text.contains("{{") {
        return Err(problem(
            path,
            "it contains templates ({{ … }}), which pkgrun layer does not render",
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut releases = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let raw = RawHelmfile::deserialize(document)
            .map_err(|e| problem(path, format!("not a helmfile: {e}")))?;
        for r in raw.releases {
            releases.push(read_release(path, dir, r)?);
        }
    }
    if releases.is_empty() {
        return Err(problem(path, "it has no releases"));
    }
    Ok(Layer {
        path: path.to_path_buf(),
        releases,
    })
}

fn read_release(path: &Path, dir: &Path, r: RawRelease) -> Result<Release, KubeError> {
    let mut values = Value::Mapping(Default::default());
    if let Some(chart) = &r.chart {
        let chart_values = dir.join(chart).join("values.yaml");
        if chart_values.is_file() {
            merge(&mut values, read_yaml(&chart_values)?);
        }
    }
    for entry in r.values {
        match entry {
            Value::String(file) => {
                let file_path = dir.join(&file);
                if !file_path.is_file() {
                    return Err(problem(
                        path,
                        format!(
                            "release {}: values file {file} does not exist ({})",
                            r.name,
                            file_path.display()
                        ),
                    ));
                }
                merge(&mut values, read_yaml(&file_path)?);
            }
            inline @ Value::Mapping(_) => merge(&mut values, inline),
            other => {
                return Err(problem(
                    path,
                    format!(
                        "release {}: a values entry must be a file path or a map, not {other:?}",
                        r.name
                    ),
                ))
            }
        }
    }
    let labels: BTreeMap<String, String> = r
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
        .collect();
    let selector = get(&values, &["helmLayerSelector"]).and_then(scalar);
    if let Some(sel) = &selector {
        let pairs = parse_selector(sel).ok_or_else(|| {
            problem(
                path,
                format!(
                    "release {}: helmLayerSelector {sel:?} is not k=v[,k=v]",
                    r.name
                ),
            )
        })?;
        if let Some((k, v)) = pairs.iter().find(|(k, v)| labels.get(k) != Some(v)) {
            return Err(problem(path, format!(
                "release {}: helmLayerSelector {sel:?} needs the release label {k}: {v} (helmfile selectors match release labels, not values), but its labels are {labels:?}",
                r.name
            )));
        }
    }
    let registry = get(&values, &["registry", "deployment"])
        .and_then(nonempty)
        .map(|deployment| RegistryRef {
            namespace: get(&values, &["registry", "namespace"]).and_then(nonempty),
            deployment,
        });
    let namespace = r
        .namespace
        .filter(|n| !n.trim().is_empty())
        .or_else(|| get(&values, &["namespace"]).and_then(nonempty));
    Ok(Release {
        name: r.name,
        namespace,
        labels,
        selector,
        registry,
    })
}
