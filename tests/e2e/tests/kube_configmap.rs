//! The ConfigMap state sink and reader (pkgrun_kube::configmap) against the real
//! kube-apiserver on loopback (pkgrun_e2e::KubeApiServer), each test in its own namespace:
//! server-side apply creates and then updates the ConfigMap, a second field manager's change
//! is handled as docs/ and the module say (409 without force, taken back with force, its
//! own keys kept), and an oversize document is refused before any write — at the same
//! 1 MiB the API server itself enforces.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use pkgrun_core::state::StateDocument;
use pkgrun_core::Lang;
use pkgrun_e2e::{state_document, KubeApiServer};
use pkgrun_kube::configmap::{data_size, state_data};
use pkgrun_kube::{ConfigMapSink, KubeError, CONFIGMAP_DATA_LIMIT};

const CM: &str = "go-packages-state";
const V1: &str = "v0.0.0-20261127221005-0123456789ab";
const V2: &str = "v0.0.0-20261127231005-0123456789ab";

fn doc(state_key: &str, version: &str) -> StateDocument {
    state_document(
        "go",
        state_key,
        &format!("go.packages.dev.ameide.io/{state_key}"),
        version,
    )
}

fn get(server: &KubeApiServer, ns: &str, name: &str) -> Result<Option<ConfigMap>> {
    server.configmap(ns, name)
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

/// (manager, operation) of every managedFields entry.
fn managers(cm: &ConfigMap) -> Vec<(String, String)> {
    cm.metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn edit_as(server: &KubeApiServer, ns: &str, manager: &str, keys: &[(&str, &str)]) -> Result<()> {
    server.edit_configmap(ns, CM, manager, keys)
}

/// Another tool that server-side applies keys of its own (creating the ConfigMap if need be).
fn apply_as(server: &KubeApiServer, ns: &str, manager: &str, keys: &[(&str, &str)]) -> Result<()> {
    let data: BTreeMap<_, _> = keys.iter().copied().collect();
    server.block_on(Api::<ConfigMap>::namespaced(server.client(), ns).patch(
        CM,
        &PatchParams::apply(manager),
        &Patch::Apply(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": CM }, "data": data
        })),
    ))?;
    Ok(())
}

#[test]
fn apply_creates_then_updates_and_drops_the_keys_it_no_longer_sends() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("sink-apply")?;
    let kube = server.admin_kube()?;
    let sink = ConfigMapSink::new(&ns, CM);

    let first = state_data(
        Lang::Go,
        &[doc("ameide-sdk-go", V1), doc("ameide-telemetry-go", V1)],
        Some(V1),
    );
    let report = sink.apply(&kube, &first)?;
    ensure!(report.created && report.keys == 3, "{report:?}");
    let cm = get(server, &ns, CM)?.context("created")?;
    ensure!(
        data(&cm) == first,
        "stored data differs: {:?}",
        data(&cm).keys()
    );
    let stored: StateDocument = serde_json::from_str(&data(&cm)["ameide-sdk-go.json"])?;
    ensure!(stored == doc("ameide-sdk-go", V1));
    ensure!(
        managers(&cm) == [("pkgrun".to_string(), "Apply".to_string())],
        "server-side apply under field manager pkgrun: {:?}",
        managers(&cm)
    );
    ensure!(
        cm.metadata.labels.is_none(),
        "pkgrun owns data only, not metadata"
    );
    let created_version = cm.metadata.resource_version.clone();

    // A second run with one package less: updated in place, the dropped key removed.
    let second = state_data(Lang::Go, &[doc("ameide-sdk-go", V2)], Some(V2));
    let report = sink.apply(&kube, &second)?;
    ensure!(!report.created, "{report:?}");
    let cm = get(server, &ns, CM)?.context("still there")?;
    ensure!(
        data(&cm) == second,
        "telemetry key should be gone, version updated: {:?}",
        data(&cm).keys()
    );
    ensure!(cm.metadata.resource_version != created_version);
    ensure!(cm.metadata.uid.is_some());
    Ok(())
}

#[test]
fn a_second_field_manager_conflicts_without_force_and_is_overridden_with_it() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("sink-managers")?;
    let kube = server.admin_kube()?;
    let ours = state_data(Lang::Go, &[doc("ameide-sdk-go", V1)], Some(V1));
    ConfigMapSink::new(&ns, CM).apply(&kube, &ours)?;
    // Someone edits pkgrun's version key and adds a key of their own.
    edit_as(
        server,
        &ns,
        "kubectl-edit",
        &[("go-version", "hand-edited\n"), ("note", "mine")],
    )?;

    // Without force: the API server's 409, naming the other manager and the field.
    let err = ConfigMapSink::new(&ns, CM)
        .force(false)
        .apply(&kube, &ours)
        .expect_err("conflict");
    ensure!(matches!(err, KubeError::Conflict { .. }), "{err:?}");
    let text = err.to_string();
    ensure!(
        text.contains("kubectl-edit") && text.contains(".data.go-version"),
        "{text}"
    );
    ensure!(data(&get(server, &ns, CM)?.context("cm")?)["go-version"] == "hand-edited\n");

    // Default (force): pkgrun takes its key back; the other manager's key stays.
    ConfigMapSink::new(&ns, CM).apply(&kube, &ours)?;
    let cm = get(server, &ns, CM)?.context("cm")?;
    let now = data(&cm);
    ensure!(now["go-version"] == format!("{V1}\n"), "{now:?}");
    ensure!(now["note"] == "mine", "{now:?}");
    ensure!(
        managers(&cm).contains(&("kubectl-edit".into(), "Update".into())),
        "the other manager still owns its key: {:?}",
        managers(&cm)
    );

    // A later apply without the other key does not remove it: pkgrun never owned it.
    let later = state_data(Lang::Go, &[doc("ameide-sdk-go", V2)], Some(V2));
    ConfigMapSink::new(&ns, CM).apply(&kube, &later)?;
    ensure!(data(&get(server, &ns, CM)?.context("cm")?)["note"] == "mine");
    Ok(())
}

#[test]
fn an_oversize_document_is_refused_before_any_write_at_the_api_servers_own_limit() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("sink-size")?;
    let kube = server.admin_kube()?;
    let api = Api::<ConfigMap>::namespaced(server.client(), &ns);

    // The limit pkgrun checks is the API server's: 1 MiB of values is stored (keys do not
    // count), one byte more is refused by the server itself; pkgrun's size agrees.
    let apply = |data: BTreeMap<String, String>| {
        server
            .block_on(api.patch(
                "limit-probe",
                &PatchParams::apply("limit-probe"),
                &Patch::Apply(serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": { "name": "limit-probe" }, "data": data
                })),
            ))
            .map(|_| ())
    };
    let exactly = BTreeMap::from([
        (
            "a-long-key-name".to_string(),
            "x".repeat(CONFIGMAP_DATA_LIMIT - 1),
        ),
        ("b".to_string(), "y".to_string()),
    ]);
    ensure!(data_size(&exactly) == CONFIGMAP_DATA_LIMIT);
    apply(exactly).context("1 MiB of values is within the server's limit")?;
    let over = BTreeMap::from([("k".to_string(), "x".repeat(CONFIGMAP_DATA_LIMIT + 1))]);
    ensure!(data_size(&over) > CONFIGMAP_DATA_LIMIT);
    match apply(over) {
        Err(kube::Error::Api(status)) => ensure!(
            status.code == 422 && status.message.contains(&CONFIGMAP_DATA_LIMIT.to_string()),
            "the server's own size refusal: {}",
            status.message
        ),
        Err(other) => anyhow::bail!("expected 422, got {other}"),
        Ok(()) => anyhow::bail!("the server accepted 1 MiB + 1 byte of values"),
    }

    // Another tool's 600 KiB key plus pkgrun's 500 KiB document would pass 1 MiB.
    apply_as(
        server,
        &ns,
        "someone-else",
        &[("blob", &"x".repeat(600 * 1024))],
    )?;
    let before = get(server, &ns, CM)?.context("cm")?;
    let mut big = doc("ameide-sdk-go", V1);
    big.durations_ms.insert("y".repeat(500 * 1024), 1);
    let data_big = state_data(Lang::Go, &[big], None);
    let err = ConfigMapSink::new(&ns, CM)
        .apply(&kube, &data_big)
        .expect_err("too large");
    match &err {
        KubeError::TooLarge {
            size,
            limit,
            largest_key,
            ..
        } => ensure!(
            *size > *limit && *limit == 1024 * 1024 && largest_key == "blob",
            "{err:?}"
        ),
        other => anyhow::bail!("expected TooLarge, got {other:?}"),
    }
    ensure!(err.to_string().contains("1 MiB"), "{err}");
    let after = get(server, &ns, CM)?.context("cm")?;
    ensure!(
        after.metadata.resource_version == before.metadata.resource_version,
        "nothing may be written"
    );
    ensure!(!data(&after).contains_key("ameide-sdk-go.json"));

    // The same document alone fits: it is the whole ConfigMap's size that counts.
    let ns2 = server.namespace("sink-size-alone")?;
    ConfigMapSink::new(&ns2, CM).apply(&kube, &data_big)?;
    ensure!(data(&get(server, &ns2, CM)?.context("cm")?).contains_key("ameide-sdk-go.json"));
    Ok(())
}

#[test]
fn the_sink_refuses_exactly_what_the_server_would_and_counts_binary_data() -> Result<()> {
    let server = KubeApiServer::shared();
    let kube = server.admin_kube()?;
    let ours = state_data(Lang::Go, &[doc("ameide-sdk-go", V1)], Some(V1));
    let room = CONFIGMAP_DATA_LIMIT - data_size(&ours);

    // Another tool's key fills the ConfigMap to exactly 1 MiB with pkgrun's: accepted.
    let ns = server.namespace("sink-boundary")?;
    apply_as(server, &ns, "someone-else", &[("blob", &"x".repeat(room))])?;
    ConfigMapSink::new(&ns, CM).apply(&kube, &ours)?;
    // A next run one byte larger: refused by pkgrun before the server sees it (the other
    // tool's key cannot shrink for it, and the server would refuse the whole apply).
    let before = get(server, &ns, CM)?.context("cm")?;
    let later = state_data(
        Lang::Go,
        &[doc("ameide-sdk-go", V1)],
        Some(&format!("{V1}1")),
    );
    ensure!(data_size(&later) == data_size(&ours) + 1);
    let err = ConfigMapSink::new(&ns, CM)
        .apply(&kube, &later)
        .expect_err("one byte over");
    ensure!(
        matches!(err, KubeError::TooLarge { size, .. } if size == CONFIGMAP_DATA_LIMIT + 1),
        "{err}"
    );
    let after = get(server, &ns, CM)?.context("cm")?;
    ensure!(after.metadata.resource_version == before.metadata.resource_version);

    // binaryData counts toward the same limit.
    let ns = server.namespace("sink-binary")?;
    server.block_on(Api::<ConfigMap>::namespaced(server.client(), &ns).patch(
        CM,
        &PatchParams::apply("someone-else"),
        &Patch::Apply(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": CM },
            "binaryData": { "blob.bin": BASE64.encode(vec![0u8; room + 1]) }
        })),
    ))?;
    let err = ConfigMapSink::new(&ns, CM)
        .apply(&kube, &ours)
        .expect_err("binaryData over the limit");
    match &err {
        KubeError::TooLarge { largest_key, .. } => ensure!(largest_key == "blob.bin", "{err}"),
        other => anyhow::bail!("expected TooLarge, got {other}"),
    }
    Ok(())
}

#[test]
fn read_state_returns_what_was_applied_and_refuses_bad_documents() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("sink-read")?;
    let kube = server.admin_kube()?;
    let ours = state_data(Lang::Go, &[doc("ameide-sdk-go", V1)], Some(V1));
    ConfigMapSink::new(&ns, CM).apply(&kube, &ours)?;
    let state = kube.read_state(&ns, CM, Lang::Go)?;
    ensure!(state.documents == vec![doc("ameide-sdk-go", V1)]);
    ensure!(state.version.as_deref() == Some(V1));
    ensure!(state.ignored.is_empty(), "{:?}", state.ignored);

    let missing = kube.read_state(&ns, "nope", Lang::Go).expect_err("missing");
    ensure!(matches!(missing, KubeError::NotFound { .. }), "{missing:?}");
    ensure!(
        kube.read_state(&ns, CM, Lang::Python).is_err(),
        "a go document in the python ConfigMap"
    );
    edit_as(
        server,
        &ns,
        "kubectl-edit",
        &[("broken.json", "{\"schema\":\"nope\"}")],
    )?;
    let err = kube
        .read_state(&ns, CM, Lang::Go)
        .expect_err("bad document");
    ensure!(
        err.to_string()
            .contains(&format!("key broken.json of configmaps {ns}/{CM}")),
        "{err}"
    );
    Ok(())
}
