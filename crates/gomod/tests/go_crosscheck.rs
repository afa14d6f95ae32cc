//! Cross-checks against the real `go` command (found as `$GO`, else
//! `/usr/local/go/bin/go`, else `go` on PATH).
//!
//! Two oracles, both offline:
//! * a `GOPROXY=file://` tree holding zips we built: `go mod download -json`
//!   must accept them and report the same `Sum` (zip `h1:`) and `GoModSum` as
//!   ours, and extract exactly the files we included;
//! * a local git repository fetched with `GOPROXY=direct` (git's `insteadOf`
//!   maps the fake host to a `file://` path): Go builds the module zip itself
//!   with its own file-selection rules, and its `h1:` must equal what
//!   `create_from_dir` computes for the same tree.
//!
//! The go command runs with a cleared environment, a throwaway GOPATH and
//! module cache, `GOSUMDB=off` and `GOTOOLCHAIN=local`, so nothing leaves the
//! machine.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use gomod::zip::SkipReason;
use serde_json::Value;

fn go_bin() -> PathBuf {
    if let Some(go) = std::env::var_os("GO") {
        return go.into();
    }
    let default = Path::new("/usr/local/go/bin/go");
    if default.exists() {
        return default.to_path_buf();
    }
    "go".into()
}

/// A sandbox for the go command: its own GOPATH, module cache and HOME.
struct GoEnv {
    root: tempfile::TempDir,
}

impl GoEnv {
    fn new() -> Result<Self> {
        Ok(Self {
            root: tempfile::tempdir()?,
        })
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn command(&self, goproxy: &str) -> Command {
        let mut cmd = Command::new(go_bin());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("GOPATH", self.path("gopath"))
            .env("GOMODCACHE", self.path("modcache"))
            .env("GOCACHE", self.path("gocache"))
            .env("GOENV", "off")
            .env("GOPROXY", goproxy)
            .env("GOSUMDB", "off")
            .env("GONOSUMDB", "*")
            .env("GOPRIVATE", "")
            .env("GONOPROXY", "")
            // -modcacherw so the temp dir can be deleted afterwards.
            .env("GOFLAGS", "-mod=mod -modcacherw")
            .env("GOTOOLCHAIN", "local")
            .env("GOWORK", "off")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.path("gitconfig"))
            .current_dir(self.root.path());
        cmd
    }

    /// `go mod download -json mod@ver`; Ok(json) on success, Err(message) when
    /// go refused (with its error text).
    fn download(&self, goproxy: &str, module: &str, version: &str) -> Result<Value> {
        fs::create_dir_all(self.path("home"))?;
        let out = self
            .command(goproxy)
            .args(["mod", "download", "-json", &format!("{module}@{version}")])
            .output()
            .context("running go")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json: Value = serde_json::from_str(&stdout).with_context(|| {
            format!(
                "go mod download printed no JSON; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if let Some(err) = json.get("Error").and_then(Value::as_str) {
            bail!("go refused {module}@{version}: {err}");
        }
        if !out.status.success() {
            bail!("go failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(json)
    }
}

/// Writes a `GOPROXY=file://` layout for one version.
fn publish_to_file_proxy(
    proxy: &Path,
    module: &str,
    version: &str,
    go_mod: &[u8],
    zip: &[u8],
) -> Result<String> {
    let dir = proxy.join(gomod::escape_path(module)?).join("@v");
    fs::create_dir_all(&dir)?;
    let v = gomod::escape_version(version)?;
    fs::write(dir.join("list"), format!("{version}\n"))?;
    fs::write(
        dir.join(format!("{v}.info")),
        format!(r#"{{"Version":"{version}","Time":"2026-11-27T22:10:05Z"}}"#),
    )?;
    fs::write(dir.join(format!("{v}.mod")), go_mod)?;
    fs::write(dir.join(format!("{v}.zip")), zip)?;
    Ok(format!("file://{}", proxy.display()))
}

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// A module tree with everything Go treats specially. `vcs_dirs` adds
/// `.hg`/`.svn`/`.bzr`/`.git` directories (left out for the git oracle,
/// where Go's VCS path does not drop them).
fn odd_module(root: &Path, module: &str, go_version: &str, vcs_dirs: bool) {
    write(
        root,
        "go.mod",
        &format!("module {module}\n\ngo {go_version}\n"),
    );
    write(
        root,
        "odd.go",
        "package odd\n\nfunc Hello() string { return \"hi\" }\n",
    );
    write(root, "LICENSE", "Apache-2.0\n");
    write(root, "README.MD", "upper-case name\n");
    write(root, "Upper/Case.go", "package upper\n");
    write(root, "sp ace/file (1).txt", "spaces and parens\n");
    write(root, "ünïcode/é.txt", "unicode letters\n");
    write(root, "vendor/modules.txt", "# vendored\n");
    write(root, "vendor/README", "top-level vendor file\n");
    write(root, "vendor/example.com/dep/dep.go", "package dep\n");
    write(root, "sub/vendor/y.go", "package vendor\n");
    write(root, "sub/vendor/x/y.go", "package x\n");
    write(root, "sub/s.go", "package sub\n");
    write(root, "nested/go.mod", "module x.test/nested\n");
    write(root, "nested/n.go", "package nested\n");
    write(root, "deep/GO.MOD", "module x.test/deep\n");
    write(root, "deep/d.go", "package deep\n");
    write(root, ".hg_archival.txt", "repo: 0\n");
    write(root, ".gitignore", "*.tmp\n");
    std::os::unix::fs::symlink("odd.go", root.join("link.go")).unwrap();
    fs::create_dir_all(root.join("empty/dir")).unwrap();
    if vcs_dirs {
        for d in [".git", ".hg", ".svn", ".bzr"] {
            write(root, &format!("{d}/config"), "x\n");
        }
        write(root, "sub/.git/HEAD", "ref: x\n");
    }
}

/// Files Go extracted for a module, path → content.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap();
            out.insert(
                rel.to_str().unwrap().to_string(),
                fs::read(e.path()).unwrap(),
            );
        }
    }
    out
}

fn check_against_file_proxy(go_version: &str, expect_vendor_txt: bool, expect_sub_vendor_y: bool) {
    let module = "x.test/Upper/odd";
    let version = "v1.0.0";
    let src = tempfile::tempdir().unwrap();
    odd_module(src.path(), module, go_version, true);

    let created = gomod::create_from_dir(module, version, src.path()).unwrap();
    let mut included: Vec<&str> = created.files.iter().map(|f| f.path.as_str()).collect();
    included.sort();
    let mut expected = vec![
        ".gitignore",
        "LICENSE",
        "README.MD",
        "Upper/Case.go",
        "go.mod",
        "odd.go",
        "sp ace/file (1).txt",
        "sub/s.go",
        "vendor/README",
        "ünïcode/é.txt",
    ];
    if expect_vendor_txt {
        expected.push("vendor/modules.txt");
    }
    if expect_sub_vendor_y {
        expected.push("sub/vendor/y.go");
    }
    expected.sort();
    assert_eq!(included, expected, "files included for go {go_version}");

    let reason = |p: &str| {
        created
            .skipped
            .iter()
            .find(|s| s.path == p)
            .map(|s| s.reason)
    };
    assert_eq!(reason(".git"), Some(SkipReason::VcsDirectory));
    assert_eq!(reason(".hg"), Some(SkipReason::VcsDirectory));
    assert_eq!(reason("sub/.git"), Some(SkipReason::VcsDirectory));
    assert_eq!(reason("nested"), Some(SkipReason::SubmoduleDirectory));
    assert_eq!(reason("deep/d.go"), Some(SkipReason::SubmoduleFile));
    assert_eq!(reason("link.go"), Some(SkipReason::NotRegular));
    assert_eq!(reason(".hg_archival.txt"), Some(SkipReason::HgArchival));
    assert_eq!(
        reason("vendor/example.com/dep/dep.go"),
        Some(SkipReason::Vendored)
    );

    // Our zip hash is self-consistent, then go agrees with it.
    assert_eq!(created.h1, gomod::hash_zip(&created.bytes).unwrap());
    let go_mod = created.go_mod.clone().unwrap();
    let proxy = tempfile::tempdir().unwrap();
    let goproxy =
        publish_to_file_proxy(proxy.path(), module, version, &go_mod, &created.bytes).unwrap();
    let env = GoEnv::new().unwrap();
    let json = env.download(&goproxy, module, version).unwrap();
    assert_eq!(json["Sum"], created.h1.as_str());
    assert_eq!(json["GoModSum"], gomod::hash_go_mod(&go_mod).as_str());

    // What go extracted is exactly what we put in, byte for byte.
    let extracted = read_tree(Path::new(json["Dir"].as_str().unwrap()));
    assert_eq!(
        extracted.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    for (p, data) in &extracted {
        assert_eq!(data, &fs::read(src.path().join(p)).unwrap(), "{p}");
    }

    // check_zip accepts our own zip and sees the same files.
    let summary = gomod::check_zip(module, version, &created.bytes).unwrap();
    assert_eq!(summary.h1, created.h1);
    assert_eq!(summary.files, created.files);
    assert_eq!(summary.go_mod.as_deref(), Some(&go_mod[..]));
    assert!(summary.dir_entries.is_empty());
}

#[test]
fn zip_from_odd_dir_matches_go_download_go_1_22() {
    // Before go 1.24: vendor/modules.txt is kept, and any file below a
    // nested vendor/ directory is dropped.
    check_against_file_proxy("1.22", true, false);
}

#[test]
fn zip_from_odd_dir_matches_go_download_go_1_24() {
    // From go 1.24: vendor/modules.txt is dropped; sub/vendor/y.go is a file
    // of package sub/vendor, not a vendored package, and is kept.
    check_against_file_proxy("1.24", false, true);
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

#[test]
fn go_builds_the_same_zip_from_a_git_repo() {
    // Go zips a VCS checkout with its own implementation of the same rules;
    // the h1: of that zip must equal ours for the same tree.
    for go_version in ["1.22", "1.24"] {
        let env = GoEnv::new().unwrap();
        let repos = env.path("repos");
        let module = "x.test/Upper/odd.git";
        let work = repos.join("Upper/odd");
        fs::create_dir_all(&work).unwrap();
        odd_module(&work, module, go_version, false);
        let git = |args: &[&str]| {
            let mut c = Command::new("git");
            c.args(args)
                .current_dir(&work)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@x.test")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@x.test");
            run(&mut c).unwrap();
        };
        git(&["init", "-q", "-b", "main"]);
        git(&["add", "-A", "-f"]);
        git(&["commit", "-q", "-m", "odd"]);
        git(&["tag", "v1.0.0"]);
        fs::write(
            env.path("gitconfig"),
            format!(
                "[url \"file://{}/\"]\n\tinsteadOf = https://x.test/\n[protocol \"file\"]\n\tallow = always\n",
                repos.display()
            ),
        )
        .unwrap();

        let json = env.download("direct", module, "v1.0.0").unwrap();
        let ours = gomod::create_from_dir(module, "v1.0.0", &work).unwrap();
        assert_eq!(json["Sum"], ours.h1.as_str(), "go {go_version}");

        // And go's zip holds exactly our files.
        let go_zip = fs::read(json["Zip"].as_str().unwrap()).unwrap();
        let summary = gomod::check_zip(module, "v1.0.0", &go_zip).unwrap();
        let mut go_files: Vec<_> = summary.files.iter().map(|f| f.path.clone()).collect();
        let mut our_files: Vec<_> = ours.files.iter().map(|f| f.path.clone()).collect();
        go_files.sort();
        our_files.sort();
        assert_eq!(go_files, our_files, "go {go_version}");
        assert_eq!(summary.h1, ours.h1);
    }
}

/// Builds a zip with arbitrary entries (directory entries end in `/`).
fn raw_zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    for (name, data) in entries {
        if name.ends_with('/') {
            w.add_directory(*name, o).unwrap();
        } else {
            w.start_file(*name, o).unwrap();
            w.write_all(data.as_bytes()).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn go_accepts_directory_entries_and_hashes_them_like_hash_zip() {
    let module = "x.test/dirs";
    let version = "v0.1.0";
    let go_mod = "module x.test/dirs\n";
    let z = raw_zip(&[
        ("x.test/dirs@v0.1.0/", ""),
        ("x.test/dirs@v0.1.0/go.mod", go_mod),
        ("x.test/dirs@v0.1.0/pkg/", ""),
        ("x.test/dirs@v0.1.0/pkg/p.go", "package pkg\n"),
    ]);
    let summary = gomod::check_zip(module, version, &z).unwrap();
    assert_eq!(
        summary.dir_entries,
        ["x.test/dirs@v0.1.0/", "x.test/dirs@v0.1.0/pkg/"]
    );
    let proxy = tempfile::tempdir().unwrap();
    let goproxy =
        publish_to_file_proxy(proxy.path(), module, version, go_mod.as_bytes(), &z).unwrap();
    let json = GoEnv::new()
        .unwrap()
        .download(&goproxy, module, version)
        .unwrap();
    assert_eq!(json["Sum"], summary.h1.as_str());
    assert_eq!(json["Sum"], gomod::hash_zip(&z).unwrap().as_str());
    // ...which differs from the hash of the same files without the entries.
    let files_only = gomod::hash_files([
        ("x.test/dirs@v0.1.0/go.mod", go_mod),
        ("x.test/dirs@v0.1.0/pkg/p.go", "package pkg\n"),
    ])
    .unwrap();
    assert_ne!(json["Sum"], files_only.as_str());
}

#[test]
fn go_and_check_zip_refuse_the_same_bad_zips() {
    let module = "x.test/bad";
    let version = "v1.0.0";
    let go_mod = "module x.test/bad\n";
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "case-fold collision",
            &[
                ("x.test/bad@v1.0.0/a.go", "package a\n"),
                ("x.test/bad@v1.0.0/A.go", "package a\n"),
            ],
        ),
        (
            "go.mod below the root",
            &[("x.test/bad@v1.0.0/sub/go.mod", go_mod)],
        ),
        (
            "entry outside the prefix",
            &[("x.test/other@v1.0.0/a.go", "package a\n")],
        ),
        (
            "path traversal",
            &[("x.test/bad@v1.0.0/../escape.go", "package a\n")],
        ),
        (
            "shell special in name",
            &[("x.test/bad@v1.0.0/a?.go", "package a\n")],
        ),
        (
            "Kelvin sign folds to k",
            &[
                ("x.test/bad@v1.0.0/k.txt", "1"),
                ("x.test/bad@v1.0.0/\u{212A}.txt", "2"),
            ],
        ),
        (
            "long s folds to s",
            &[
                ("x.test/bad@v1.0.0/s.txt", "1"),
                ("x.test/bad@v1.0.0/\u{17F}.txt", "2"),
            ],
        ),
        (
            "file and directory",
            &[
                ("x.test/bad@v1.0.0/a", "1"),
                ("x.test/bad@v1.0.0/A/b.txt", "2"),
            ],
        ),
    ];
    for (what, entries) in cases {
        let z = raw_zip(entries);
        let ours = gomod::check_zip(module, version, &z);
        assert!(ours.is_err(), "{what}: check_zip accepted it");
        let proxy = tempfile::tempdir().unwrap();
        let goproxy =
            publish_to_file_proxy(proxy.path(), module, version, go_mod.as_bytes(), &z).unwrap();
        let go = GoEnv::new().unwrap().download(&goproxy, module, version);
        assert!(go.is_err(), "{what}: go accepted it: {go:?}");
    }
}

#[test]
fn go_agrees_on_v2_module_and_pseudo_version() {
    let module = "x.test/Sdk/v2";
    let version = "v2.0.0-20261127221005-0123456789ab";
    assert!(gomod::version::is_pseudo_version(version));
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "go.mod", "module x.test/Sdk/v2\n\ngo 1.22\n");
    write(src.path(), "sdk.go", "package sdk\n");
    let created = gomod::create_from_dir(module, version, src.path()).unwrap();
    let proxy = tempfile::tempdir().unwrap();
    let goproxy = publish_to_file_proxy(
        proxy.path(),
        module,
        version,
        created.go_mod.as_deref().unwrap(),
        &created.bytes,
    )
    .unwrap();
    let json = GoEnv::new()
        .unwrap()
        .download(&goproxy, module, version)
        .unwrap();
    assert_eq!(json["Sum"], created.h1.as_str());
    assert_eq!(json["Version"], version);
    // The module cache stores it under the escaped path, as we compute it.
    assert!(json["Dir"]
        .as_str()
        .unwrap()
        .ends_with(&format!("x.test/!sdk/v2@{version}")));
}

/// `go mod edit -json` of a go.mod text.
fn go_mod_edit_json(go_mod: &str) -> Value {
    let env = GoEnv::new().unwrap();
    let dir = env.path("mod");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("go.mod"), go_mod).unwrap();
    let out = env
        .command("off")
        .current_dir(&dir)
        .args(["mod", "edit", "-json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go rejected the go.mod: {}\n{go_mod}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Our reading of a go.mod in the shape of `go mod edit -json`.
fn our_json(mf: &gomod::modfile::ModFile) -> Value {
    use gomod::modfile::ReplaceTarget;
    let requires: Vec<Value> = mf
        .requires()
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({"Path": r.path, "Version": r.version});
            if r.indirect {
                v["Indirect"] = Value::Bool(true);
            }
            v
        })
        .collect();
    let replaces: Vec<Value> = mf
        .replaces()
        .iter()
        .map(|r| {
            let mut old = serde_json::json!({"Path": r.old_path});
            if let Some(v) = &r.old_version {
                old["Version"] = v.as_str().into();
            }
            let new = match &r.new {
                ReplaceTarget::Dir(d) => serde_json::json!({"Path": d}),
                ReplaceTarget::Module { path, version } => {
                    serde_json::json!({"Path": path, "Version": version})
                }
            };
            serde_json::json!({"Old": old, "New": new})
        })
        .collect();
    serde_json::json!({
        "Module": mf.module_path(),
        "Go": mf.go_version(),
        "Require": requires,
        "Replace": replaces,
    })
}

fn go_view(go: &Value) -> Value {
    let or_empty = |v: &Value| {
        if v.is_null() {
            Value::Array(vec![])
        } else {
            v.clone()
        }
    };
    serde_json::json!({
        "Module": go["Module"]["Path"],
        "Go": go["Go"],
        "Require": or_empty(&go["Require"]),
        "Replace": or_empty(&go["Replace"]),
    })
}

#[test]
fn go_reads_our_go_mod_edits_the_same_way() {
    let original = "// The SDK.
module \"x.test/ameide-sdk-go\" // quoted on purpose

go 1.22

require github.com/google/uuid v1.6.0

require (
\tx.test/telemetry v0.0.0-00010101000000-000000000000
\tgolang.org/x/text v0.14.0 // indirect
)

replace x.test/telemetry => ../telemetry

replace (
\texample.com/fork v1.0.0 => example.com/fork2 v1.1.0
\texample.com/local => \"./with space\" // keep me
)
";
    let mut mf = gomod::modfile::ModFile::parse(original).unwrap();
    assert_eq!(our_json(&mf), go_view(&go_mod_edit_json(original)));

    // The runner's edit: drop the sibling replace, pin the published version.
    assert_eq!(mf.drop_replace("x.test/telemetry", None), 1);
    mf.set_require("x.test/telemetry", "v0.0.0-20261127221005-0123456789ab");
    mf.set_require("x.test/extra", "v1.2.3");
    assert_eq!(mf.drop_replace("example.com/local", None), 1);
    assert_eq!(mf.drop_replace("example.com/fork", Some("v1.0.0")), 1);
    let edited = mf.to_string();
    let go = go_mod_edit_json(&edited);
    assert_eq!(our_json(&mf), go_view(&go));
    assert!(go["Replace"].is_null(), "{edited}");
    assert_eq!(
        mf.require_version("x.test/telemetry"),
        Some("v0.0.0-20261127221005-0123456789ab")
    );
}

#[test]
fn go_and_check_module_path_agree_on_tricky_paths() {
    // Go validates the module path (module.CheckPath) before asking the proxy;
    // an empty file:// proxy then answers "not found" for every valid path.
    let paths = [
        "x.test/m",
        "x.test/m/v2",
        "x.test/m/v1",
        "x.test/m/v0",
        "x.test/m/v02",
        "x.test/m/v2.1",
        "x.test/Upper/Case",
        "Example.com/m",
        "x_y.test/m",
        "-x.test/m",
        "x.test/.hidden",
        "x.test/trailing.",
        "x.test/a~1",
        "x.test/a~b",
        "x.test/con",
        "x.test/Aux.go",
        "x.test/com1x",
        "localhost/m",
        "x.test/a+b",
        "x.test/a@b",
        "x.test/a b",
        "x.test/é",
        "x.test/a//b",
        "x.test/a/",
        "x.test/./a",
        "x.test/~tilde",
        "gopkg.in/yaml.v2",
        "gopkg.in/yaml",
        "gopkg.in/yaml.v02",
        "gopkg.in/x.v3-unstable",
        "x.test",
        "1.2.3.4/m",
    ];
    let env = GoEnv::new().unwrap();
    let empty = env.path("emptyproxy");
    fs::create_dir_all(&empty).unwrap();
    fs::create_dir_all(env.path("home")).unwrap();
    let mut args = vec!["mod".to_string(), "download".into(), "-json".into()];
    args.extend(paths.iter().map(|p| format!("{p}@v1.0.0")));
    let out = env
        .command(&format!("file://{}", empty.display()))
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let results: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(results.len(), paths.len(), "{stdout}");
    for r in results {
        let path = r["Path"].as_str().unwrap();
        let go_err = r["Error"].as_str().unwrap_or_default();
        match gomod::check_module_path(path) {
            Ok(()) => assert!(
                !go_err.contains("malformed module path"),
                "{path}: we accept it, go says {go_err}"
            ),
            Err(e) => assert!(
                go_err.contains(&e.to_string()),
                "{path}: we say {e}, go says {go_err}"
            ),
        }
    }
}

/// Version-like strings from pieces that hit the edge cases of Go's semver
/// grammar and the pseudo-version pattern (deterministic, no RNG crate).
fn version_corpus() -> Vec<String> {
    let majors = ["0", "1", "2", "10", "01", ""];
    let tails = [
        "", ".0", ".2", ".2.0", ".2.3", ".10.0", ".02", ".2.03", ".2.3.4", ".x",
    ];
    let pres = [
        "",
        "-rc.1",
        "-rc.2",
        "-rc.10",
        "-rc.01",
        "-RC.1",
        "-alpha",
        "-alpha.1",
        "-alpha.beta",
        "-0",
        "-00",
        "-1",
        "-x-y",
        "-",
        "-a..b",
        "-20261127221005-0123456789ab",
        "-0.20261127221005-0123456789ab",
        "-pre.0.20261127221005-0123456789ab",
        "-2026112722100-0123456789ab",
        "-1.20261127221005-0123456789ab",
    ];
    let builds = ["", "+meta", "+incompatible", "+", "+a.b", "+a..b"];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut out = Vec::new();
    for _ in 0..2000 {
        let prefix = if next(10) == 0 { "" } else { "v" };
        out.push(format!(
            "{prefix}{}{}{}{}",
            majors[next(majors.len())],
            tails[next(tails.len())],
            pres[next(pres.len())],
            builds[next(builds.len())]
        ));
    }
    out
}

#[test]
fn go_and_version_agree_on_validity_pseudo_versions_and_order() {
    // A file:// proxy's @v/list is filtered by semver.IsValid and
    // !module.IsPseudoVersion and sorted by semver.Sort; `go list -m
    // -versions -retracted` prints exactly that list.
    let corpus = version_corpus();
    let env = GoEnv::new().unwrap();
    let proxy = env.path("proxy");
    let dir = proxy.join("x.test/m/@v");
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(env.path("home")).unwrap();
    fs::write(dir.join("list"), corpus.join("\n")).unwrap();
    let out = env
        .command(&format!("file://{}", proxy.display()))
        .args(["list", "-m", "-json", "-versions", "-retracted", "x.test/m"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let go: Vec<String> = json["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();

    let mut ours: Vec<String> = corpus
        .iter()
        .filter(|v| gomod::version::is_valid(v) && !gomod::version::is_pseudo_version(v))
        .cloned()
        .collect();
    gomod::version::sort(&mut ours);
    assert!(ours.len() > 100, "corpus too thin: {}", ours.len());
    assert!(
        corpus.iter().any(|v| gomod::version::is_pseudo_version(v)),
        "corpus has no pseudo-versions"
    );
    assert_eq!(ours, go);
}

#[test]
fn go_and_check_zip_accept_names_that_do_not_fold_together() {
    // Dotless ı does not fold with I, nor ß with ss: both sides accept.
    let module = "x.test/fold";
    let version = "v1.0.0";
    let go_mod = "module x.test/fold\n";
    let z = raw_zip(&[
        ("x.test/fold@v1.0.0/go.mod", go_mod),
        ("x.test/fold@v1.0.0/\u{131}.txt", "dotless"),
        ("x.test/fold@v1.0.0/I.txt", "capital"),
        ("x.test/fold@v1.0.0/\u{DF}.txt", "eszett"),
        ("x.test/fold@v1.0.0/ss.txt", "double s"),
    ]);
    let summary = gomod::check_zip(module, version, &z).unwrap();
    let proxy = tempfile::tempdir().unwrap();
    let goproxy =
        publish_to_file_proxy(proxy.path(), module, version, go_mod.as_bytes(), &z).unwrap();
    let json = GoEnv::new()
        .unwrap()
        .download(&goproxy, module, version)
        .unwrap();
    assert_eq!(json["Sum"], summary.h1.as_str());
}
