//! Standalone mode end to end: upload a module version, then the real `go` command in a
//! fresh GOPATH/GOMODCACHE fetches it through our registry and builds a program importing
//! it; go.sum's `h1:` equals the hash of the uploaded zip. Re-uploads: same bytes = 200
//! no-op, other bytes = 409 naming both hashes.

mod common;

use common::{hello_module, GoEnv, Registry};

const MODULE: &str = "go.packages.test.example/ameide-sdk-go";
const VERSION: &str = "v0.0.0-20261127221005-0123456789ab";

#[test]
fn go_get_and_build_through_registry() {
    let reg = Registry::start();
    let m = hello_module(MODULE, VERSION, "hello from the registry");
    let (status, body) = reg.upload(&m);
    assert_eq!(status, 201, "upload failed: {body}\n{}", reg.logs());
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["outcome"], "uploaded");
    assert_eq!(json["h1"], m.h1.as_str());

    let env = GoEnv::new(&reg.url, "go.packages.test.example");
    let out = env.get_and_build_hello(MODULE, VERSION);
    assert_eq!(out, "hello from the registry");
    assert_eq!(
        env.go_sum_h1(MODULE, VERSION).as_deref(),
        Some(m.h1.as_str()),
        "go.sum h1 differs from the uploaded zip's hash"
    );
    // What go downloaded is byte-identical to what was uploaded.
    let cached = env.modcache().join(format!(
        "cache/download/go.packages.test.example/ameide-sdk-go/@v/{VERSION}.zip"
    ));
    assert_eq!(std::fs::read(cached).unwrap(), m.zip);
}

#[test]
fn reupload_same_bytes_is_noop_other_bytes_conflict() {
    let reg = Registry::start();
    let m = hello_module(MODULE, VERSION, "first");
    assert_eq!(reg.upload(&m).0, 201);

    let (status, body) = reg.upload(&m);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["outcome"], "already-present");

    let other = hello_module(MODULE, VERSION, "second");
    assert_ne!(other.h1, m.h1);
    let (status, body) = reg.upload(&other);
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains(&m.h1),
        "409 must name the stored hash: {body}"
    );
    assert!(
        body.contains(&other.h1),
        "409 must name the uploaded hash: {body}"
    );

    // The stored version is still the first one.
    let (s, zip) = reg.get(&format!("/{MODULE}/@v/{VERSION}.zip"));
    assert_eq!(s, 200);
    assert_eq!(zip, m.zip);
}

#[test]
fn concurrent_uploads_of_one_version_exactly_one_wins() {
    let reg = std::sync::Arc::new(Registry::start());
    let versions: Vec<_> = (0..8)
        .map(|i| hello_module(MODULE, "v1.2.3", &format!("writer {i}")))
        .collect();
    let handles: Vec<_> = versions
        .iter()
        .cloned()
        .map(|m| {
            let reg = reg.clone();
            std::thread::spawn(move || reg.upload(&m))
        })
        .collect();
    let results: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, (s, _))| *s == 201)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one upload must win: {results:?}");
    assert!(
        results.iter().filter(|(s, _)| *s == 409).count() == versions.len() - 1,
        "all others must conflict: {results:?}"
    );
    // Storage holds the winner's bytes, complete, and nothing is left in staging.
    let (s, zip) = reg.get(&format!("/{MODULE}/@v/v1.2.3.zip"));
    assert_eq!(s, 200);
    assert_eq!(zip, versions[winners[0]].zip);
    assert_eq!(reg.staged_entries(), Vec::<String>::new());
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let reg = Registry::start();
    assert_eq!(reg.get("/healthz").0, 200);
    let status = reg.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}
