//! The GOPROXY read protocol served from storage: list (with and without pseudo-versions),
//! .info/.mod/.zip bytes and content types, @latest, `!` case-encoding, 404/410/400
//! semantics, sumdb "not supported", plus /readyz on unwritable storage, the metrics
//! counters, and upload-only mode's routes.

mod common;

use common::{hello_module, metric, Registry, RegistryOptions};

const MODULE: &str = "mods.test.example/proto";
const PSEUDO: &str = "v0.0.0-20261127221005-0123456789ab";

fn upload_all(reg: &Registry, versions: &[&str]) {
    for v in versions {
        let m = hello_module(MODULE, v, v);
        let (s, body) = reg.upload(&m);
        assert_eq!(s, 201, "{v}: {body}");
    }
}

#[test]
fn list_info_mod_zip_latest() {
    let reg = Registry::start();
    upload_all(&reg, &["v1.0.0", "v0.9.0", "v1.1.0-rc.1", PSEUDO]);

    let (s, list) = reg.get_text(&format!("/{MODULE}/@v/list"));
    assert_eq!(s, 200);
    assert_eq!(
        list, "v0.9.0\nv1.0.0\nv1.1.0-rc.1\n",
        "pseudo-versions are not listed"
    );

    let m = hello_module(MODULE, "v1.0.0", "v1.0.0");
    let resp = common::http_client()
        .get(format!("{}/{MODULE}/@v/v1.0.0.info", reg.url))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.bytes().unwrap().to_vec(), m.info);

    let (s, body) = reg.get(&format!("/{MODULE}/@v/v1.0.0.mod"));
    assert_eq!((s, body), (200, m.mod_file.clone()));
    let resp = common::http_client()
        .get(format!("{}/{MODULE}/@v/v1.0.0.zip", reg.url))
        .send()
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let zip = resp.bytes().unwrap().to_vec();
    assert_eq!(zip, m.zip);
    assert_eq!(gomod::hash_zip(&zip).unwrap(), m.h1);

    // @latest prefers the highest release over pre-releases and pseudo-versions.
    let (s, latest) = reg.get_text(&format!("/{MODULE}/@latest"));
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&latest).unwrap();
    assert_eq!(v["Version"], "v1.0.0");

    // The pseudo-version itself is served.
    assert_eq!(reg.get(&format!("/{MODULE}/@v/{PSEUDO}.info")).0, 200);
}

#[test]
fn latest_falls_back_to_prerelease_then_pseudo() {
    let reg = Registry::start();
    upload_all(&reg, &[PSEUDO]);
    let (_, latest) = reg.get_text(&format!("/{MODULE}/@latest"));
    assert!(latest.contains(PSEUDO), "{latest}");
    upload_all(&reg, &["v0.1.0-alpha.1"]);
    let (_, latest) = reg.get_text(&format!("/{MODULE}/@latest"));
    assert!(latest.contains("v0.1.0-alpha.1"), "{latest}");
}

#[test]
fn list_pseudo_versions_when_configured() {
    let reg = Registry::start_with(RegistryOptions {
        extra_args: vec!["--list-pseudo-versions".into()],
        ..Default::default()
    });
    upload_all(&reg, &["v1.0.0", PSEUDO]);
    let (_, list) = reg.get_text(&format!("/{MODULE}/@v/list"));
    assert_eq!(list, format!("{PSEUDO}\nv1.0.0\n"));
}

#[test]
fn case_encoding() {
    let reg = Registry::start();
    let module = "mods.test.example/Upper/Case";
    let m = hello_module(module, "v1.0.0-RC1", "x");
    assert_eq!(reg.upload(&m).0, 201);
    // Stored unescaped, as Athens' disk storage does.
    assert!(reg
        .storage
        .join("mods.test.example/Upper/Case/v1.0.0-RC1/source.zip")
        .is_file());
    let (s, list) = reg.get_text("/mods.test.example/!upper/!case/@v/list");
    assert_eq!((s, list.as_str()), (200, "v1.0.0-RC1\n"));
    let (s, zip) = reg.get("/mods.test.example/!upper/!case/@v/v1.0.0-!r!c1.zip");
    assert_eq!(s, 200);
    assert_eq!(zip, m.zip);
    // Unescaped upper case in a URL is not a valid escaped path.
    let (s, body) = reg.get_text("/mods.test.example/Upper/Case/@v/list");
    assert_eq!(s, 400, "{body}");
    // A different case is a different module.
    assert_eq!(reg.get("/mods.test.example/upper/case/@v/list").0, 404);
}

#[test]
fn not_found_gone_and_errors_are_text_plain() {
    let reg = Registry::start();
    upload_all(&reg, &["v1.0.0"]);
    let client = common::http_client();
    let check = |path: &str, status: u16| {
        let resp = client.get(format!("{}{path}", reg.url)).send().unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{path}"
        );
        resp.text().unwrap()
    };
    // Unknown module and unknown version: 404.
    let body = check("/mods.test.example/nothing/@v/list", 404);
    assert!(body.contains("not found"), "{body}");
    check("/mods.test.example/nothing/@latest", 404);
    let body = check(&format!("/{MODULE}/@v/v1.0.1.info"), 404);
    assert!(body.contains(&format!("{MODULE}@v1.0.1")), "{body}");
    check(&format!("/{MODULE}/@v/v1.0.1.zip"), 404);
    // A version that can never exist for this path (major mismatch): 410.
    check(&format!("/{MODULE}/@v/v2.0.0.info"), 410);
    check("/mods.test.example/proto/v3/@v/v1.0.0.mod", 410);
    // A query that only an upstream could resolve, with no upstream: 404.
    check(&format!("/{MODULE}/@v/main.info"), 404);
    // Not a protocol path.
    check(&format!("/{MODULE}/@v/v1.0.0.tar"), 404);
    // The checksum database is not proxied.
    check("/sumdb/sum.example.test/supported", 404);
    check("/sumdb/sum.example.test/lookup/x@v1.0.0", 404);
}

#[test]
fn readyz_fails_when_storage_is_not_writable() {
    let reg = Registry::start();
    assert_eq!(reg.get_text("/readyz"), (200, "ready\n".to_string()));
    assert_eq!(reg.get("/healthz").0, 200);
    // Root ignores permission bits, so make the root unusable by moving it away.
    let aside = reg.storage.with_extension("aside");
    std::fs::rename(&reg.storage, &aside).unwrap();
    let (s, body) = reg.get_text("/readyz");
    assert_eq!(s, 503, "{body}");
    assert_eq!(
        reg.get("/healthz").0,
        200,
        "liveness does not depend on storage"
    );
    std::fs::rename(&aside, &reg.storage).unwrap();
    assert_eq!(reg.get("/readyz").0, 200);
}

#[test]
fn metrics_counters_move() {
    let reg = Registry::start();
    let scrape = || reg.get_text("/metrics").1;
    let before = scrape();
    assert_eq!(
        metric(&before, "go_registry_uploads_total{outcome=\"uploaded\"}"),
        0.0
    );

    let m = hello_module(MODULE, "v1.0.0", "x");
    assert_eq!(reg.upload(&m).0, 201);
    assert_eq!(reg.upload(&m).0, 200);
    assert_eq!(common::upload(&reg.url, None, &m).0, 401);
    assert_eq!(reg.get(&format!("/{MODULE}/@v/v1.0.0.zip")).0, 200);
    assert_eq!(reg.get(&format!("/{MODULE}/@v/v1.9.9.zip")).0, 404);

    let after = scrape();
    assert_eq!(
        metric(&after, "go_registry_uploads_total{outcome=\"uploaded\"}"),
        1.0
    );
    assert_eq!(
        metric(
            &after,
            "go_registry_uploads_total{outcome=\"already_present\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &after,
            "go_registry_uploads_total{outcome=\"unauthorized\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&after, "go_registry_cache_hits_total{kind=\"zip\"}"),
        1.0
    );
    assert_eq!(
        metric(&after, "go_registry_cache_misses_total{kind=\"zip\"}"),
        1.0
    );
    assert_eq!(
        metric(&after, "go_registry_served_bytes_total{kind=\"zip\"}"),
        m.zip.len() as f64
    );
    assert_eq!(
        metric(
            &after,
            "go_registry_requests_total{route=\"zip\",status=\"200\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &after,
            "go_registry_requests_total{route=\"upload\",status=\"401\"}"
        ),
        1.0
    );
}

#[test]
fn upload_only_mode_serves_no_reads() {
    let reg = Registry::start_with(RegistryOptions {
        mode: "upload-only",
        ..Default::default()
    });
    let m = hello_module(MODULE, "v1.0.0", "x");
    assert_eq!(reg.upload(&m).0, 201);
    assert!(reg.storage.join(MODULE).join("v1.0.0/go.mod").is_file());
    assert_eq!(reg.get(&format!("/{MODULE}/@v/list")).0, 404);
    assert_eq!(reg.get(&format!("/{MODULE}/@v/v1.0.0.zip")).0, 404);
    assert_eq!(reg.get("/healthz").0, 200);
    assert_eq!(reg.get("/readyz").0, 200);
    assert_eq!(reg.get("/metrics").0, 200);
}

#[test]
fn log_lines_have_the_project_format() {
    let reg = Registry::start();
    let logs = reg.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("listening on"))
        .expect("listening line");
    // [packages:go-registry] 2026-11-27T22:10:05Z info listening on ...
    let rest = line
        .strip_prefix("[packages:go-registry] ")
        .unwrap_or_else(|| panic!("scope: {line}"));
    let (ts, rest) = rest.split_once(' ').unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    assert!(
        rest.starts_with("info listening on http://127.0.0.1:"),
        "{rest}"
    );
}
