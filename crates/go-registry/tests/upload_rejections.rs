//! Every upload rejection of issue 3 has a test here: each invalid upload gets a 4xx with a
//! message naming the problem, and nothing is stored. Plus the auth cases: no token, wrong
//! token, and an instance without any token configured.

mod common;

use common::{hello_module, info_json, raw_zip, upload, ModuleVersion, Registry, RegistryOptions};

const MODULE: &str = "mods.test.example/lib";
const VERSION: &str = "v1.0.0";

fn valid() -> ModuleVersion {
    hello_module(MODULE, VERSION, "hi")
}

/// Upload `m`, expect `status` and a body containing `needle`, and that the version was not
/// stored.
fn assert_rejected(reg: &Registry, m: &ModuleVersion, status: u16, needle: &str) {
    let (s, body) = reg.upload(m);
    assert_eq!(
        s, status,
        "expected {status} for {needle:?}, got {s}: {body}"
    );
    assert!(
        body.to_lowercase().contains(&needle.to_lowercase()),
        "body should mention {needle:?}: {body}"
    );
    let dir = reg.storage.join(&m.module).join(&m.version);
    assert!(!dir.exists(), "rejected upload left {dir:?}");
}

fn zip_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    raw_zip(entries)
}

const GO_MOD: &[u8] = b"module mods.test.example/lib\n\ngo 1.21\n";

fn with_zip(zip: Vec<u8>) -> ModuleVersion {
    ModuleVersion {
        zip,
        mod_file: GO_MOD.to_vec(),
        ..valid()
    }
}

#[test]
fn invalid_module_path() {
    let reg = Registry::start();
    let mut m = valid();
    m.module = "nodot/lib".into();
    assert_rejected(&reg, &m, 400, "invalid module path");
    m.module = "mods.test.example/../etc".into();
    assert_rejected(&reg, &m, 400, "invalid module path");
}

#[test]
fn non_canonical_version() {
    let reg = Registry::start();
    let mut m = valid();
    m.version = "v1.0".into();
    m.info = info_json("v1.0");
    assert_rejected(&reg, &m, 400, "not canonical");
    m.version = "1.0.0".into();
    m.info = info_json("1.0.0");
    assert_rejected(&reg, &m, 400, "invalid version");
}

#[test]
fn major_suffix_mismatch() {
    let reg = Registry::start();
    // /v2 module with a v1 version.
    let mut m = hello_module("mods.test.example/lib/v2", "v2.0.0", "x");
    m.version = "v1.0.0".into();
    m.info = info_json("v1.0.0");
    assert_rejected(&reg, &m, 400, "major version");
    // No suffix with a v2 version.
    let mut m = valid();
    m.version = "v2.0.0".into();
    m.info = info_json("v2.0.0");
    assert_rejected(&reg, &m, 400, "invalid version");
}

#[test]
fn info_version_mismatch() {
    let reg = Registry::start();
    let mut m = valid();
    m.info = info_json("v1.0.1");
    assert_rejected(&reg, &m, 400, "info.Version");
    m.info = b"not json".to_vec();
    assert_rejected(&reg, &m, 400, "info");
}

#[test]
fn mod_module_line_mismatch() {
    let reg = Registry::start();
    let mut m = valid();
    m.mod_file = b"module mods.test.example/other\n".to_vec();
    assert_rejected(&reg, &m, 400, "mod declares module");
    m.mod_file = b"go 1.21\n".to_vec();
    assert_rejected(&reg, &m, 400, "no module directive");
}

#[test]
fn zip_entry_outside_prefix() {
    let reg = Registry::start();
    let m = with_zip(zip_with(&[
        ("mods.test.example/lib@v1.0.0/go.mod", GO_MOD),
        ("mods.test.example/other@v1.0.0/x.go", b"package x\n"),
    ]));
    assert_rejected(&reg, &m, 400, "does not have prefix");
}

#[test]
fn zip_path_traversal() {
    let reg = Registry::start();
    let m = with_zip(zip_with(&[
        ("mods.test.example/lib@v1.0.0/go.mod", GO_MOD),
        (
            "mods.test.example/lib@v1.0.0/../../evil.go",
            b"package evil\n",
        ),
    ]));
    assert_rejected(&reg, &m, 400, "invalid zip");
    // Nothing escaped the storage root either.
    assert!(!reg.storage.join("evil.go").exists());
}

#[test]
fn zip_case_fold_collision() {
    let reg = Registry::start();
    let m = with_zip(zip_with(&[
        ("mods.test.example/lib@v1.0.0/go.mod", GO_MOD),
        ("mods.test.example/lib@v1.0.0/a.go", b"package lib\n"),
        ("mods.test.example/lib@v1.0.0/A.go", b"package lib\n"),
    ]));
    assert_rejected(&reg, &m, 400, "case-insensitive file name collision");
}

#[test]
fn zip_go_mod_differs_from_mod() {
    let reg = Registry::start();
    let mut m = with_zip(zip_with(&[
        (
            "mods.test.example/lib@v1.0.0/go.mod",
            b"module mods.test.example/lib\n\ngo 1.22\n",
        ),
        ("mods.test.example/lib@v1.0.0/lib.go", b"package lib\n"),
    ]));
    m.mod_file = GO_MOD.to_vec();
    assert_rejected(&reg, &m, 400, "go.mod differs");
    // No go.mod at all in the zip.
    let m = with_zip(zip_with(&[(
        "mods.test.example/lib@v1.0.0/lib.go",
        b"package lib\n",
    )]));
    assert_rejected(&reg, &m, 400, "no go.mod");
}

#[test]
fn zip_directory_entries() {
    let reg = Registry::start();
    let m = with_zip(zip_with(&[
        ("mods.test.example/lib@v1.0.0/go.mod", GO_MOD),
        ("mods.test.example/lib@v1.0.0/sub/", b""),
        ("mods.test.example/lib@v1.0.0/sub/x.go", b"package sub\n"),
    ]));
    assert_rejected(&reg, &m, 400, "directory entries");
}

#[test]
fn oversize_zip() {
    let reg = Registry::start_with(RegistryOptions {
        extra_args: vec!["--max-zip-bytes".into(), "2000".into()],
        ..Default::default()
    });
    // Incompressible content so the zip really is larger than the limit.
    let mut noise = String::new();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..800 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push_str(&format!("{x:016x}"));
    }
    let m = common::module_version(
        MODULE,
        VERSION,
        &[(
            "data.go",
            &format!("package lib\n\nconst Data = {noise:?}\n"),
        )],
    );
    assert!(m.zip.len() > 2000);
    assert_rejected(&reg, &m, 413, "larger than 2000 bytes");
    // Under the limit is fine.
    assert_eq!(reg.upload(&valid()).0, 201);
}

#[test]
fn corrupt_zip() {
    let reg = Registry::start();
    let m = with_zip(b"PK\x03\x04 definitely not a zip".to_vec());
    assert_rejected(&reg, &m, 400, "invalid zip");
}

#[test]
fn missing_fields() {
    let reg = Registry::start();
    let form = reqwest::blocking::multipart::Form::new()
        .text("module", MODULE)
        .text("version", VERSION);
    let resp = common::http_client()
        .post(format!("{}/upload", reg.url))
        .bearer_auth(common::DEFAULT_TOKEN)
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body = resp.text().unwrap();
    assert!(
        body.contains("missing form field(s): info, mod, zip"),
        "{body}"
    );
}

#[test]
fn no_token_is_401() {
    let reg = Registry::start();
    let (s, body) = upload(&reg.url, None, &valid());
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("missing bearer token"), "{body}");
    assert!(!reg.storage.join(MODULE).exists());
}

#[test]
fn wrong_token_is_401() {
    let reg = Registry::start();
    let (s, body) = upload(&reg.url, Some("not-the-token"), &valid());
    assert_eq!(s, 401, "{body}");
    assert!(body.contains("invalid token"), "{body}");
    assert!(!reg.storage.join(MODULE).exists());
    // The secret never shows in the logs.
    assert!(!reg.logs().contains(common::DEFAULT_TOKEN));
    // A token that is a prefix of the real one is wrong too.
    let (s, _) = upload(&reg.url, Some(&common::DEFAULT_TOKEN[..10]), &valid());
    assert_eq!(s, 401);
}

#[test]
fn token_from_file_and_no_token_configured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "# upload tokens\nfile-token-1\n").unwrap();
    let reg = Registry::start_with(RegistryOptions {
        token: None,
        extra_args: vec!["--token-file".into(), file.display().to_string()],
        ..Default::default()
    });
    assert_eq!(upload(&reg.url, Some("file-token-1"), &valid()).0, 201);

    let reg = Registry::start_with(RegistryOptions {
        token: None,
        ..Default::default()
    });
    let (s, body) = upload(&reg.url, Some("anything"), &valid());
    assert_eq!(s, 403, "{body}");
    assert!(body.contains("uploads are disabled"), "{body}");
}
