//! The test kube-apiserver itself (tests/kube-apiserver, pkgrun_e2e::KubeApiServer): that it
//! is a real, RBAC-enforcing API server, that the harness's service-account tokens and fake
//! kubelet work through it. (That it never outlives its owner: kube_apiserver_lifecycle.rs.)

use anyhow::{ensure, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, PostParams};
use pkgrun_e2e::kube_apiserver::FAKE_KUBELET_NODE;
use pkgrun_e2e::KubeApiServer;

fn pod(name: &str, node: Option<&str>) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "job-name": "runner" } },
        "spec": {
            "nodeName": node,
            "containers": [{ "name": "runner", "image": "registry.local/runner:dev" }]
        }
    }))
    .unwrap()
}

#[test]
fn authorization_is_rbac_not_always_allow() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("rbac-on")?;
    // A service account without any binding: RBAC must refuse it (AlwaysAllow would not).
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    server.service_account_kubeconfig(&ns, "default", &kubeconfig)?;
    let client = {
        let config = server.config(&kubeconfig)?;
        server.block_on(async { kube::Client::try_from(config) })?
    };
    let err = server
        .block_on(Api::<ConfigMap>::namespaced(client, &ns).get_opt("anything"))
        .expect_err("an unbound service account must be refused");
    match err {
        kube::Error::Api(status) => {
            ensure!(status.code == 403, "{status:?}");
            ensure!(
                status
                    .message
                    .contains(&format!("system:serviceaccount:{ns}:default")),
                "the refusal names the service account: {status:?}"
            );
        }
        other => anyhow::bail!("expected 403, got {other:?}"),
    }
    Ok(())
}

#[test]
fn pod_logs_are_proxied_by_the_api_server_from_the_fake_kubelet() -> Result<()> {
    let server = KubeApiServer::shared();
    let ns = server.namespace("logs")?;
    let pods: Api<Pod> = Api::namespaced(server.client(), &ns);
    server.block_on(pods.create(
        &PostParams::default(),
        &pod("on-node", Some(FAKE_KUBELET_NODE)),
    ))?;
    server.block_on(pods.create(&PostParams::default(), &pod("unscheduled", None)))?;
    server.set_pod_log(&ns, "on-node", "runner", "first line\nsecond line\n")?;

    let log = server.block_on(pods.logs("on-node", &Default::default()))?;
    ensure!(log == "first line\nsecond line\n", "{log:?}");
    // A pod no node runs has no log (the API server answers empty, as in a real cluster).
    let log = server.block_on(pods.logs("unscheduled", &Default::default()))?;
    ensure!(log.is_empty(), "{log:?}");
    // A container the pod does not have is the API server's own 400.
    let err = server
        .block_on(pods.logs(
            "on-node",
            &kube::api::LogParams {
                container: Some("nope".into()),
                ..Default::default()
            },
        ))
        .expect_err("unknown container");
    ensure!(
        matches!(&err, kube::Error::Api(s) if s.code == 400),
        "{err:?}"
    );
    Ok(())
}
