//! Reading helmfile layers: selector discovery from values files, label checks,
//! registry and namespace, and the repository's own layers in deploy/helmfiles.

use std::path::Path;

use pkgrun_kube::helmfile::{read_layer, RegistryRef};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn selector_and_registry_come_from_merged_values_relative_to_the_helmfile() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "charts/package-go/values.yaml", "helmLayerSelector: \"language=wrong\"\nnamespace: \"\"\nregistry:\n  deployment: old-registry\n  namespace: \"\"\n");
    write(
        d,
        "helmfiles/values/common.yaml",
        "registry:\n  deployment: go-registry\n",
    );
    write(
        d,
        "helmfiles/27.yaml",
        "releases:\n  - name: package-go\n    chart: ../charts/package-go\n    labels:\n      language: go\n    values:\n      - values/common.yaml\n      - helmLayerSelector: \"language=go\"\n        namespace: packages\n---\nreleases:\n  - name: other\n    chart: ../charts/none\n",
    );
    let layer = read_layer(&d.join("helmfiles/27.yaml")).unwrap();
    assert_eq!(layer.releases.len(), 2);
    let go = &layer.releases[0];
    assert_eq!(go.selector.as_deref(), Some("language=go"));
    assert_eq!(go.namespace.as_deref(), Some("packages"));
    assert_eq!(
        go.registry,
        Some(RegistryRef {
            namespace: None,
            deployment: "go-registry".into()
        })
    );
    assert_eq!(layer.releases[1].selector, None);
}

#[test]
fn a_selector_the_release_labels_do_not_satisfy_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "v.yaml", "helmLayerSelector: language=go\n");
    write(d, "h.yaml", "releases:\n  - name: package-go\n    chart: ./c\n    labels:\n      layer: \"27\"\n    values: [v.yaml]\n");
    let err = read_layer(&d.join("h.yaml")).unwrap_err().to_string();
    assert!(
        err.contains("needs the release label language: go"),
        "{err}"
    );

    write(
        d,
        "h2.yaml",
        "releases:\n  - name: x\n    values: [missing.yaml]\n",
    );
    let err = read_layer(&d.join("h2.yaml")).unwrap_err().to_string();
    assert!(
        err.contains("values file missing.yaml does not exist"),
        "{err}"
    );

    write(
        d,
        "h3.yaml",
        "releases:\n  - name: x\n    values:\n      - {{ .Values.x }}\n",
    );
    let err = read_layer(&d.join("h3.yaml")).unwrap_err().to_string();
    assert!(err.contains("templates"), "{err}");
}

/// The layers the charts helper ships (deploy/helmfiles) are readable and select one
/// language each.
#[test]
fn repository_layers_select_their_language() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/helmfiles");
    for (file, lang) in [
        ("26-package-npm.yaml", "ts"),
        ("27-package-go.yaml", "go"),
        ("28-package-py.yaml", "python"),
    ] {
        let path = root.join(file);
        if !path.exists() {
            panic!("{} is missing", path.display());
        }
        let layer = read_layer(&path).unwrap();
        let selected: Vec<_> = layer
            .releases
            .iter()
            .filter(|r| r.selector.is_some())
            .collect();
        assert_eq!(selected.len(), 1, "{file}");
        assert_eq!(
            selected[0].selector.as_deref(),
            Some(format!("language={lang}").as_str()),
            "{file}"
        );
        assert!(
            selected[0].registry.is_some(),
            "{file}: registry.deployment"
        );
    }
}
