//! Upload-only sidecar + a real Athens on the same storage: we accept the upload and write
//! Athens' disk layout; Athens (disk storage, offline, no downloads) serves it to the real
//! `go` command, which builds a program importing it; go.sum's `h1:` equals the uploaded
//! zip's hash.
//!
//! Needs `<tools>/bin/athens` from `scripts/tools/install-athens.sh`. Where Athens cannot be
//! installed (the module proxy on the project's machines refuses it) the test reports
//! itself SKIPPED on stderr and passes; set PKGRUN_REQUIRE_ATHENS=1 to make that a failure.

mod common;

use common::{hello_module, Athens, GoEnv, Registry, RegistryOptions};

const MODULE: &str = "go.packages.test.example/athens-served";
const VERSION: &str = "v0.0.0-20261127221005-abcdefabcdef";

#[test]
#[allow(clippy::print_stderr)]
fn athens_serves_what_upload_only_mode_wrote() {
    if Athens::binary().is_none() {
        assert!(
            std::env::var("PKGRUN_REQUIRE_ATHENS").as_deref() != Ok("1"),
            "PKGRUN_REQUIRE_ATHENS=1 but {} is missing",
            common::tools_dir().join("bin/athens").display()
        );
        eprintln!("SKIPPED: athens is not installed (scripts/tools/install-athens.sh)");
        return;
    }
    let storage = tempfile::tempdir().unwrap();
    let root = storage.path().join("modules");
    let reg = Registry::start_with(RegistryOptions {
        storage: Some(root.clone()),
        mode: "upload-only",
        ..Default::default()
    });
    let m = hello_module(MODULE, VERSION, "hello via athens");
    let (s, body) = reg.upload(&m);
    assert_eq!(s, 201, "{body}");

    let athens = Athens::start(&root);
    let (s, info) = common::get(&format!("{}/{MODULE}/@v/{VERSION}.info", athens.url));
    assert_eq!(s, 200);
    assert_eq!(info, m.info);
    let (s, zip) = common::get(&format!("{}/{MODULE}/@v/{VERSION}.zip", athens.url));
    assert_eq!(s, 200);
    assert_eq!(zip, m.zip, "Athens serves the uploaded bytes");

    let env = GoEnv::new(&athens.url, "go.packages.test.example");
    assert_eq!(env.get_and_build_hello(MODULE, VERSION), "hello via athens");
    assert_eq!(
        env.go_sum_h1(MODULE, VERSION).as_deref(),
        Some(m.h1.as_str())
    );
}
