//! The ConfigMap sink and reader against the FAKE API server in `fake_api/`
//! (loopback; stands in until the real kube-apiserver of issue 8 lands).

mod fake_api;

use fake_api::FakeApi;
use pkgrun_core::state::StateDocument;
use pkgrun_core::{ExitStatus, Lang};
use pkgrun_kube::configmap::{parse_state, state_data};
use pkgrun_kube::{ConfigMapSink, Kube, KubeError, ObjectRef};

fn kube(fake: &FakeApi, ns: &str) -> Kube {
    let mut config = kube::Config::new(fake.url().parse().unwrap());
    config.default_namespace = ns.into();
    Kube::from_config(config).unwrap()
}

fn doc(state_key: &str, version: &str) -> StateDocument {
    serde_json::from_value(serde_json::json!({
        "schema": "pkgrun.state/v1", "language": "go",
        "package": format!("go.packages.dev.ameide.io/{state_key}"), "state_key": state_key,
        "version": version, "registry": "http://127.0.0.1:5000", "git_sha": "0123456789ab",
        "published_at": "2026-11-27T22:10:05Z", "publish": {"outcome": "uploaded"},
        "dependencies": [], "artifacts": [],
        "smoke": {"status": "passed", "checks": []}, "durations_ms": {"total": 1}
    }))
    .unwrap()
}

#[test]
fn fake_api_sink_creates_then_updates_and_drops_keys_it_no_longer_sends() {
    let fake = FakeApi::start();
    let kube = kube(&fake, "ameide");
    let sink = ConfigMapSink::new("ameide", "go-packages-state");

    let v1 = "v0.0.0-20261127221005-0123456789ab";
    let data = state_data(
        Lang::Go,
        &[doc("ameide-sdk-go", v1), doc("ameide-telemetry-go", v1)],
        Some(v1),
    );
    let report = sink.apply(&kube, &data).unwrap();
    assert!(report.created);
    assert_eq!(report.keys, 3);
    let cm = fake.configmap("ameide", "go-packages-state").unwrap();
    assert_eq!(cm, data);
    assert_eq!(cm["go-version"], format!("{v1}\n"));
    let stored: StateDocument = serde_json::from_str(&cm["ameide-sdk-go.json"]).unwrap();
    assert_eq!(stored, doc("ameide-sdk-go", v1));

    // A second run with one package less: updated in place, the dropped key removed.
    let v2 = "v0.0.0-20261127231005-0123456789ab";
    let data = state_data(Lang::Go, &[doc("ameide-sdk-go", v2)], Some(v2));
    let report = sink.apply(&kube, &data).unwrap();
    assert!(!report.created);
    let cm = fake.configmap("ameide", "go-packages-state").unwrap();
    assert_eq!(cm, data, "telemetry key should be gone, version updated");
    let patches: Vec<_> = fake.writes();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(
        patches
            .iter()
            .all(|p| p.contains("fieldManager=pkgrun") && p.contains("force=true")),
        "{patches:?}"
    );
}

#[test]
fn fake_api_second_field_manager_keys_kept_and_owned_keys_taken_back_with_force() {
    let fake = FakeApi::start();
    let kube = kube(&fake, "ameide");
    let v1 = "v0.0.0-20261127221005-0123456789ab";
    let data = state_data(Lang::Go, &[doc("ameide-sdk-go", v1)], Some(v1));
    ConfigMapSink::new("ameide", "go-packages-state")
        .apply(&kube, &data)
        .unwrap();
    // Another manager edits pkgrun's version key and adds a key of its own.
    fake.put_configmap(
        "ameide",
        "go-packages-state",
        "kubectl-edit",
        &[("go-version", "hand-edited\n"), ("note", "mine")],
    );

    // Without force: a 409 naming the other manager, nothing changed.
    let err = ConfigMapSink::new("ameide", "go-packages-state")
        .force(false)
        .apply(&kube, &data)
        .unwrap_err();
    assert!(matches!(err, KubeError::Conflict { .. }), "{err:?}");
    assert!(
        err.to_string().contains("kubectl-edit") && err.to_string().contains(".data.go-version"),
        "{err}"
    );
    assert_eq!(
        fake.configmap("ameide", "go-packages-state").unwrap()["go-version"],
        "hand-edited\n"
    );

    // Default (force): pkgrun takes its key back and leaves the other manager's key alone.
    ConfigMapSink::new("ameide", "go-packages-state")
        .apply(&kube, &data)
        .unwrap();
    let cm = fake.configmap("ameide", "go-packages-state").unwrap();
    assert_eq!(cm["go-version"], format!("{v1}\n"));
    assert_eq!(cm["note"], "mine");
    assert_eq!(
        fake.owners("ameide", "go-packages-state", "go-version"),
        ["pkgrun".to_string()].into()
    );
}

#[test]
fn fake_api_oversize_is_refused_before_any_write() {
    let fake = FakeApi::start();
    let kube = kube(&fake, "ameide");
    // Another tool's 600 KB key plus pkgrun's 500 KB document would pass 1 MiB.
    let big_other = "x".repeat(600 * 1024);
    fake.put_configmap(
        "ameide",
        "go-packages-state",
        "someone-else",
        &[("blob", &big_other)],
    );
    let mut big = doc("ameide-sdk-go", "v0.0.0-20261127221005-0123456789ab");
    big.durations_ms.insert("y".repeat(500 * 1024), 1);
    let data = state_data(Lang::Go, &[big], None);
    let err = ConfigMapSink::new("ameide", "go-packages-state")
        .apply(&kube, &data)
        .unwrap_err();
    match &err {
        KubeError::TooLarge {
            size,
            limit,
            largest_key,
            ..
        } => {
            assert!(*size > *limit && *limit == 1024 * 1024);
            assert_eq!(largest_key, "blob");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("1 MiB"), "{err}");
    assert!(
        fake.writes().is_empty(),
        "no PATCH may be sent: {:?}",
        fake.writes()
    );

    // The same document alone fits, so it is the full data size that counts.
    let fresh = FakeApi::start();
    ConfigMapSink::new("ameide", "go-packages-state")
        .apply(&self::kube(&fresh, "ameide"), &data)
        .unwrap();
}

#[test]
fn fake_api_forbidden_names_the_configmap_namespace_and_verb() {
    let fake = FakeApi::start();
    let kube = kube(&fake, "ameide");
    fake.allow_only_configmaps("ameide", &["go-packages-state"]);
    let data = state_data(
        Lang::Go,
        &[doc("ameide-sdk-go", "v0.0.0-20261127221005-0123456789ab")],
        None,
    );
    ConfigMapSink::new("ameide", "go-packages-state")
        .apply(&kube, &data)
        .unwrap();
    let err = ConfigMapSink::new("ameide", "other-state")
        .apply(&kube, &data)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, KubeError::Forbidden { verb: "get", .. }),
        "{err:?}"
    );
    assert!(
        text.contains("configmaps ameide/other-state")
            && text.contains("403")
            && text.contains("`get`"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("resourceNames: [other-state]"));
    fake.forbid_namespace("elsewhere");
    let err = ConfigMapSink::new("elsewhere", "go-packages-state")
        .apply(&kube, &data)
        .unwrap_err();
    assert!(err.to_string().contains("namespace elsewhere"), "{err}");
    assert_eq!(err.read_exit_status(), ExitStatus::Usage);
}

#[test]
fn fake_api_read_state_validates_every_key() {
    let fake = FakeApi::start();
    let kube = kube(&fake, "ameide");
    let v1 = "v0.0.0-20261127221005-0123456789ab";
    let data = state_data(Lang::Go, &[doc("ameide-sdk-go", v1)], Some(v1));
    ConfigMapSink::new("ameide", "go-packages-state")
        .apply(&kube, &data)
        .unwrap();
    let state = kube
        .read_state("ameide", "go-packages-state", Lang::Go)
        .unwrap();
    assert_eq!(state.documents, vec![doc("ameide-sdk-go", v1)]);
    assert_eq!(state.version.as_deref(), Some(v1));

    let missing = kube.read_state("ameide", "nope", Lang::Go).unwrap_err();
    assert!(matches!(missing, KubeError::NotFound { .. }), "{missing:?}");

    let object = ObjectRef {
        resource: "configmaps",
        namespace: "ameide".into(),
        name: "x".into(),
    };
    let mut bad = data.clone();
    bad.insert("broken.json".into(), "{\"schema\":\"nope\"}".into());
    let err = parse_state(object.clone(), Lang::Go, bad).unwrap_err();
    assert!(err.to_string().contains("key broken.json"), "{err}");
    let mut renamed = data.clone();
    let body = renamed.remove("ameide-sdk-go.json").unwrap();
    renamed.insert("other.json".into(), body);
    assert!(parse_state(object.clone(), Lang::Go, renamed).is_err());
    assert!(
        parse_state(object, Lang::Python, data).is_err(),
        "a go document in the python ConfigMap"
    );
}
