//! Snapshot versions on release and prerelease bases, ordered by the ecosystems' own
//! tools rather than by the Rust crates pkgrun uses to make them: npm's `semver` (run
//! with node), Python's `packaging` (pip's own, with python3) and the go command's
//! minimal version selection over an offline `file://` module proxy.
//!
//! The tools are required: a missing node, npm, python3 or go fails these tests
//! (they are on every runner image and CI machine pkgrun supports).

use std::path::{Path, PathBuf};
use std::process::Command;

use pkgrun_core::ecosystem::VersionInput;
use pkgrun_core::version::{self, Sha12, Timestamp};
use pkgrun_core::Lang;

fn snapshot(lang: Lang, name: &str, base: Option<&str>, unix: i64) -> String {
    let input = VersionInput {
        package: name,
        name,
        base,
    };
    let at = Timestamp::from_unix(unix).unwrap();
    let sha: Sha12 = "0123456789ab".parse().unwrap();
    version::snapshot(lang, &input, at, &sha).unwrap()
}

/// 2026-11-27T22:10:05Z and one day later.
const T1: i64 = 1_795_817_405;
const T2: i64 = T1 + 86_400;

fn output(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} is required for this test and could not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Sorts `versions` with npm's bundled `semver` package.
fn npm_sort(versions: &[String]) -> Vec<String> {
    let root = output(Command::new("npm").args(["root", "-g"]), "npm");
    let semver = Path::new(root.trim()).join("npm/node_modules/semver");
    let script = "const semver = require(process.argv[1]); \
                  const vs = JSON.parse(process.argv[2]); \
                  for (const v of vs) { if (!semver.valid(v)) throw new Error('invalid ' + v); } \
                  console.log(JSON.stringify(semver.sort(vs)));";
    let json = serde_json::to_string(versions).unwrap();
    let out = output(
        Command::new("node").args(["-e", script, semver.to_str().unwrap(), &json]),
        "node with npm's semver",
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn npm_semver_orders_ts_snapshots() {
    let beta = snapshot(Lang::Ts, "t", Some("3.1.0-beta.2"), T1);
    let beta_later = snapshot(Lang::Ts, "t", Some("3.1.0-beta.2"), T2);
    let release = snapshot(Lang::Ts, "t", Some("3.1.0"), T1);
    assert_eq!(beta, "3.1.0-beta.2.dev.20261127221005.0123456789ab");
    let expected: Vec<String> = [
        "3.1.0-beta.2",
        &beta,
        &beta_later,
        "3.1.0-beta.3",
        &release,
        "3.1.0",
    ]
    .map(String::from)
    .to_vec();
    let mut shuffled = expected.clone();
    shuffled.reverse();
    assert_eq!(npm_sort(&shuffled), expected);
}

#[test]
fn python_packaging_orders_python_snapshots() {
    let beta = snapshot(Lang::Python, "p", Some("0.4.0b2"), T1);
    let beta_later = snapshot(Lang::Python, "p", Some("0.4.0b2"), T2);
    let release = snapshot(Lang::Python, "p", Some("0.4.0"), T1);
    assert_eq!(beta, "0.4.0b2.dev20261127221005+g0123456789ab");
    // A development release of a final release comes before its prereleases (PEP 440).
    let expected: Vec<String> = [&release, "0.4.0b1", &beta, &beta_later, "0.4.0b2", "0.4.0"]
        .map(String::from)
        .to_vec();
    let mut shuffled = expected.clone();
    shuffled.reverse();
    let script = "import json, sys\n\
                  try:\n    from packaging.version import Version\n\
                  except ImportError:\n    from pip._vendor.packaging.version import Version\n\
                  vs = json.loads(sys.argv[1])\n\
                  assert all(str(Version(v)) == v for v in vs), 'not normalised'\n\
                  print(json.dumps(sorted(vs, key=Version)))";
    let json = serde_json::to_string(&shuffled).unwrap();
    let out = output(
        Command::new("python3").args(["-c", script, &json]),
        "python3 with packaging",
    );
    let sorted: Vec<String> = serde_json::from_str(&out).unwrap();
    assert_eq!(sorted, expected);
}

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

/// Which version of `x.test/m` the go command selects when the main module requires
/// `a` and a dependency requires `b`: minimal version selection takes the higher one,
/// by Go's own ordering. Offline: a `file://` proxy, no checksum database.
fn go_selects(a: &str, b: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    for v in [a, b] {
        write(&format!("proxy/x.test/m/@v/{v}.mod"), "module x.test/m\n");
        write(
            &format!("proxy/x.test/m/@v/{v}.info"),
            &format!("{{\"Version\":\"{v}\",\"Time\":\"2026-11-27T22:10:05Z\"}}"),
        );
    }
    write(
        "proxy/x.test/dep/@v/v1.0.0.info",
        "{\"Version\":\"v1.0.0\",\"Time\":\"2026-11-27T22:10:05Z\"}",
    );
    write(
        "proxy/x.test/dep/@v/v1.0.0.mod",
        &format!("module x.test/dep\n\ngo 1.22\n\nrequire x.test/m {b}\n"),
    );
    write(
        "main/go.mod",
        &format!("module main\n\ngo 1.22\n\nrequire (\n\tx.test/m {a}\n\tx.test/dep v1.0.0\n)\n"),
    );
    let out = output(
        Command::new(go_bin())
            // `all` loads the whole module graph; `list -m x.test/m` alone would
            // trust the main module's requirement (graph pruning since go 1.17).
            .args(["list", "-m", "all"])
            .current_dir(root.join("main"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", root.join("home"))
            .env("GOPATH", root.join("gopath"))
            .env("GOMODCACHE", root.join("modcache"))
            .env("GOCACHE", root.join("gocache"))
            .env("GOENV", "off")
            .env(
                "GOPROXY",
                format!("file://{}", root.join("proxy").display()),
            )
            .env("GOSUMDB", "off")
            .env("GOFLAGS", "-mod=mod -modcacherw")
            .env("GOTOOLCHAIN", "local")
            .env("GOWORK", "off"),
        "the go command",
    );
    out.lines()
        .find_map(|line| line.strip_prefix("x.test/m "))
        .unwrap_or_else(|| panic!("x.test/m not in go list output {out:?}"))
        .to_string()
}

#[test]
fn the_go_command_orders_go_snapshots() {
    let pre = snapshot(Lang::Go, "x.test/m", Some("v1.4.0-beta.2"), T1);
    assert_eq!(pre, "v1.4.0-beta.2.0.20261127221005-0123456789ab");
    let release = snapshot(Lang::Go, "x.test/m", Some("v1.4.0"), T1);
    assert_eq!(release, "v1.4.1-0.20261127221005-0123456789ab");
    let plain = snapshot(Lang::Go, "x.test/m", None, T1);
    let plain_later = snapshot(Lang::Go, "x.test/m", None, T2);
    // (higher, lower) pairs: go must select the first of each whichever side requires it.
    for (higher, lower) in [
        (pre.as_str(), "v1.4.0-beta.2"),
        ("v1.4.0-beta.3", pre.as_str()),
        (release.as_str(), "v1.4.0"),
        ("v1.4.1", release.as_str()),
        (plain_later.as_str(), plain.as_str()),
    ] {
        assert_eq!(go_selects(higher, lower), higher, "{higher} > {lower}");
        assert_eq!(go_selects(lower, higher), higher, "{higher} > {lower}");
    }
}
