//! End-to-end tests of the `pkgrun` binary on tiny temporary workspaces.
//!
//! Every test runs the real binary with a cleared environment (only PATH and HOME
//! kept) so the developer's variables cannot leak in. Log lines are compared byte for
//! byte after masking the timestamp and durations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pkgrun_core::state::{
    Artifact, ArtifactKind, DependencyPin, Publish, PublishOutcome, Schema, Smoke, StateDocument,
    StateStore,
};
use pkgrun_core::Lang;
use regex::Regex;

/// A throwaway monorepo with one package per language.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let ws = Workspace {
            dir: tempfile::tempdir().unwrap(),
        };
        ws.write("go/sdk/go.mod", "module example.com/acme/sdk\n\ngo 1.22\n");
        ws.write(
            "py/sdk/pyproject.toml",
            "[project]\nname = \"acme-sdk\"\nversion = \"0.3.0\"\n",
        );
        ws.write(
            "ts/sdk/package.json",
            r#"{"name":"@acme/sdk-ts","version":"1.2.0"}"#,
        );
        ws.write(
            "pkgrun.toml",
            r#"env_prefix = "AMEIDE"
state_dir = "out/state"

[go]
upstream_probe = "github.com/google/uuid@v1.6.0"
[[go.packages]]
name = "example.com/acme/sdk"
path = "go/sdk"
state_key = "sdk-go"

[[python.packages]]
name = "acme-sdk"
path = "py/sdk"
smoke = [ { import = "acme_sdk", symbol = "Client" } ]

[[ts.packages]]
name = "@acme/sdk-ts"
path = "ts/sdk"
"#,
        );
        ws
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state_dir(&self) -> PathBuf {
        self.path().join("out/state")
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `pkgrun` in the workspace root with a clean environment.
    fn pkgrun(&self) -> Command {
        let mut cmd = Command::cargo_bin("pkgrun").unwrap();
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .current_dir(self.path());
        cmd
    }

    /// Every file under the workspace with its contents: to prove nothing was written.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    out.insert(p.clone(), Vec::new());
                    walk(&p, out);
                } else {
                    out.insert(p.clone(), std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.path(), &mut out);
        out
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Replaces timestamps with `TS` and durations with `N.N`.
fn mask(text: &str) -> String {
    let ts = Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").unwrap();
    let took = Regex::new(r"took \d+\.\ds").unwrap();
    took.replace_all(&ts.replace_all(text, "TS"), "took N.Ns")
        .into_owned()
}

// ---- pkgrun log / pkgrun step: the exact line format -------------------------------

#[test]
fn log_prints_one_line_per_level_in_the_exact_format() {
    let ws = Workspace::new();
    for (level, word) in [
        ("step", "step"),
        ("info", "info"),
        ("ok", "ok  "),
        ("warn", "warn"),
        ("fail", "fail"),
    ] {
        let out = ws
            .pkgrun()
            .args(["log", level, "hello", "world"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(stdout(&out), "", "logs go to stderr only");
        assert_eq!(
            mask(&stderr(&out)),
            format!("[packages:pkgrun] TS {word} hello world\n")
        );
    }
}

#[test]
fn log_prefix_from_flag_and_env() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .env("LOG_PREFIX", "packages:go-publish")
        .args(["log", "info", "x"])
        .output()
        .unwrap();
    assert_eq!(mask(&stderr(&out)), "[packages:go-publish] TS info x\n");
    let out = ws
        .pkgrun()
        .env("LOG_PREFIX", "packages:go-publish")
        .args(["log", "--prefix", "packages:ts-smoke", "warn", "y"])
        .output()
        .unwrap();
    assert_eq!(mask(&stderr(&out)), "[packages:ts-smoke] TS warn y\n");
    let out = ws
        .pkgrun()
        .env("LOG_PREFIX", "")
        .args(["log", "info", "z"])
        .output()
        .unwrap();
    assert_eq!(
        mask(&stderr(&out)),
        "[packages:pkgrun] TS info z\n",
        "empty means default"
    );
}

#[test]
fn colour_only_when_asked_and_never_with_no_color() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .args(["--color", "log", "ok", "m"])
        .output()
        .unwrap();
    assert_eq!(
        mask(&stderr(&out)),
        "[packages:pkgrun] TS \x1b[32mok\x1b[0m   m\n"
    );
    let out = ws
        .pkgrun()
        .env("NO_COLOR", "1")
        .args(["--color", "log", "ok", "m"])
        .output()
        .unwrap();
    assert_eq!(mask(&stderr(&out)), "[packages:pkgrun] TS ok   m\n");
    let out = ws.pkgrun().args(["log", "ok", "m"]).output().unwrap();
    assert!(!stderr(&out).contains('\x1b'));
}

#[test]
fn unknown_log_level_is_a_usage_error() {
    let ws = Workspace::new();
    ws.pkgrun().args(["log", "error", "x"]).assert().code(2);
}

#[test]
fn step_success_hides_output() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .args([
            "step",
            "--name",
            "build sdk",
            "--",
            "sh",
            "-c",
            "echo hidden; echo also >&2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        mask(&stderr(&out)),
        "[packages:pkgrun] TS step build sdk\n[packages:pkgrun] TS ok   build sdk (took N.Ns)\n"
    );
}

#[test]
fn step_failure_shows_all_output_before_fail_and_passes_the_exit_code() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .args([
            "--prefix",
            "packages:go-publish",
            "step",
            "--name",
            "upload",
            "--",
            "sh",
            "-c",
            "echo one; echo two; exit 3",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        mask(&stderr(&out)),
        "[packages:go-publish] TS step upload\n\
         [packages:go-publish] TS info | one\n\
         [packages:go-publish] TS info | two\n\
         [packages:go-publish] TS fail upload (took N.Ns): exit status 3\n"
    );
}

#[test]
fn step_keeps_the_exact_order_of_stdout_and_stderr_lines() {
    let ws = Workspace::new();
    // Repeated: with separate pipes the order would be a race; step uses one pipe.
    for _ in 0..10 {
        let out = ws
            .pkgrun()
            .args([
                "step",
                "--name",
                "i",
                "--",
                "sh",
                "-c",
                "echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2; exit 1",
            ])
            .output()
            .unwrap();
        assert_eq!(
            mask(&stderr(&out)),
            "[packages:pkgrun] TS step i\n\
             [packages:pkgrun] TS info | out 1\n\
             [packages:pkgrun] TS info | err 1\n\
             [packages:pkgrun] TS info | out 2\n\
             [packages:pkgrun] TS info | err 2\n\
             [packages:pkgrun] TS fail i (took N.Ns): exit status 1\n"
        );
    }
}

#[test]
fn step_verbose_streams_output() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .env("VERBOSE", "1")
        .args(["step", "--name", "v", "--", "sh", "-c", "echo shown"])
        .output()
        .unwrap();
    assert_eq!(
        mask(&stderr(&out)),
        "[packages:pkgrun] TS step v\n[packages:pkgrun] TS info | shown\n[packages:pkgrun] TS ok   v (took N.Ns)\n"
    );
    let quiet = ws
        .pkgrun()
        .env("VERBOSE", "0")
        .args(["step", "--name", "q", "--", "echo", "x"])
        .output()
        .unwrap();
    assert!(!stderr(&quiet).contains("| x"));
}

#[test]
fn step_signal_timeout_and_missing_program_codes() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .args(["step", "--name", "s", "--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 15));
    assert!(stderr(&out).contains("fail s (took"), "{}", stderr(&out));
    assert!(stderr(&out).ends_with("killed by signal 15\n"));

    let out = ws
        .pkgrun()
        .args([
            "step",
            "--name",
            "t",
            "--timeout",
            "0.3",
            "--",
            "sleep",
            "30",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124));
    assert!(
        stderr(&out).ends_with("timed out after 0.3s\n"),
        "{}",
        stderr(&out)
    );

    let out = ws
        .pkgrun()
        .args(["step", "--name", "m", "--", "/nonexistent/tool"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
}

// ---- exit 2 cases: every offending key/variable named, nothing written --------------

#[test]
fn bad_config_names_every_problem_and_writes_nothing() {
    let ws = Workspace::new();
    ws.write(
        "pkgrun.toml",
        r#"env_prefix = "ameide"
[[go.packages]]
name = "example.com/acme/wrong"
path = "go/sdk"
state_key = "dup"
[[python.packages]]
name = "acme-sdk"
path = "py/missing"
[[ts.packages]]
name = "@acme/sdk-ts"
path = "ts/sdk"
state_key = "dup"
"#,
    );
    let before = ws.snapshot();
    for args in [
        &["config", "check"][..],
        &["state", "clean"],
        &["version"],
        &["env"],
        &["state", "show"],
    ] {
        let out = ws.pkgrun().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        for needle in [
            "env_prefix",
            "go.packages[0].name",
            "python.packages[0].path",
            "state key \"dup\"",
            "4 problems",
        ] {
            assert!(
                err.contains(needle),
                "{args:?}: {needle:?} missing from:\n{err}"
            );
        }
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains("\nhint: "), "{err}");
        assert_eq!(stdout(&out), "");
    }
    assert_eq!(ws.snapshot(), before, "nothing may be written");
}

#[test]
fn unknown_config_key_is_named() {
    let ws = Workspace::new();
    ws.write("pkgrun.toml", "env_prefix = \"AMEIDE\"\nstate_directory = \"x\"\n[[go.packages]]\nname = \"example.com/acme/sdk\"\npath = \"go/sdk\"\n");
    let before = ws.snapshot();
    let out = ws.pkgrun().args(["config", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("state_directory"), "{}", stderr(&out));
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn missing_config_is_a_usage_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("pkgrun")
        .unwrap()
        .env_clear()
        .current_dir(dir.path())
        .args(["state", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no pkgrun.toml found"), "{err}");
    assert!(err.contains("hint: ") && err.contains("--config"), "{err}");
}

#[test]
fn missing_environment_names_every_variable_and_writes_nothing() {
    let ws = Workspace::new();
    let before = ws.snapshot();
    let out = ws
        .pkgrun()
        .args(["config", "check", "--env"])
        // Set but malformed, and a secret that must never be echoed.
        .env("NPM_REGISTRY_URL", "ftp://user:hunter2@127.0.0.1/")
        .env("GO_REGISTRY_TOKEN", "supersecret-token")
        .env("SOURCE_GIT_SHA", "0123456789abcdef")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for var in [
        "GO_REGISTRY_URL",
        "GONOSUMDB",
        "AMEIDE_PYPI_REPOSITORY_URL",
        "AMEIDE_PYPI_USERNAME",
        "AMEIDE_PYPI_PASSWORD",
        "PIP_INDEX_URL",
        "NPM_REGISTRY_URL",
        "NPM_AUTH_TOKEN",
    ] {
        assert!(
            err.contains(&format!("- {var}: ")),
            "{var} missing from:\n{err}"
        );
    }
    assert!(err.contains("8 problems"), "{err}");
    assert!(
        !err.contains("GO_REGISTRY_TOKEN:"),
        "a set token is fine:\n{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("supersecret"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn goprivate_bypassing_the_registry_is_reported() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .args(["config", "check", "--env"])
        .env("SOURCE_GIT_SHA", "0123456789abcdef")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:5000")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com/acme")
        .env("GOPRIVATE", "example.com")
        .env(
            "AMEIDE_PYPI_REPOSITORY_URL",
            "http://127.0.0.1:3141/root/acme/",
        )
        .env("AMEIDE_PYPI_USERNAME", "u")
        .env("AMEIDE_PYPI_PASSWORD", "p")
        .env("PIP_INDEX_URL", "http://127.0.0.1:3141/root/acme/+simple/")
        .env("NPM_REGISTRY_URL", "http://127.0.0.1:4873/")
        .env("NPM_AUTH_TOKEN", "n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("1 problem:") && err.contains("- GOPRIVATE: "),
        "{err}"
    );
}

#[test]
fn complete_environment_passes_config_check() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .args(["config", "check", "--env"])
        .env("SOURCE_GIT_SHA", "0123456789abcdef")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:5000")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com/acme")
        .env(
            "AMEIDE_PYPI_REPOSITORY_URL",
            "http://127.0.0.1:3141/root/acme/",
        )
        .env("AMEIDE_PYPI_USERNAME", "u")
        .env("AMEIDE_PYPI_PASSWORD", "p")
        .env("PIP_INDEX_URL", "http://127.0.0.1:3141/root/acme/+simple/")
        .env("NPM_REGISTRY_URL", "http://127.0.0.1:4873/")
        .env("NPM_AUTH_TOKEN", "n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("sdk-go = example.com/acme/sdk at go/sdk"),
        "{text}"
    );
    assert!(
        text.contains("environment complete (sha 0123456789ab, 3 versions planned)"),
        "{text}"
    );
}

#[test]
fn bad_overrides_name_every_variable_and_write_nothing() {
    let ws = Workspace::new();
    let before = ws.snapshot();
    let out = ws
        .pkgrun()
        .arg("version")
        .env("SOURCE_GIT_SHA", "0123456789abcdef")
        .env("AMEIDE_GO_SDK_VERSION", "v2.0.0")
        .env("AMEIDE_PYTHON_SDK_VERSION", "banana")
        .env("AMEIDE_TS_SDK_VERSION", "01.0.0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for var in [
        "AMEIDE_GO_SDK_VERSION",
        "AMEIDE_PYTHON_SDK_VERSION",
        "AMEIDE_TS_SDK_VERSION",
    ] {
        assert!(
            err.contains(&format!("- {var}: ")),
            "{var} missing from:\n{err}"
        );
    }
    assert!(
        err.contains("/v2"),
        "the Go major suffix rule is explained:\n{err}"
    );
    assert_eq!(stdout(&out), "", "no partial output");
    assert_eq!(ws.snapshot(), before);
}

#[test]
fn missing_sha_is_named_with_both_options() {
    let ws = Workspace::new();
    // Only meaningful when the temp dir is not inside a git checkout.
    if pkgrun_core::git::find_git_dir(ws.path()).is_ok() {
        return;
    }
    let out = ws.pkgrun().arg("version").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("- SOURCE_GIT_SHA: ") && err.contains(".git"),
        "{err}"
    );
}

// ---- pkgrun version ------------------------------------------------------------------

#[test]
fn version_prints_snapshots_and_valid_overrides() {
    let ws = Workspace::new();
    let out = ws
        .pkgrun()
        .arg("version")
        .env("SOURCE_GIT_SHA", "012345678901ffff")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let re = Regex::new(
        r"^sdk-go v0\.0\.0-\d{14}-012345678901\nacme-sdk 0\.3\.0\.dev\d{14}\+g012345678901\nsdk-ts 1\.2\.0-dev\.\d{14}\.g012345678901\n$",
    )
    .unwrap();
    assert!(re.is_match(&stdout(&out)), "{}", stdout(&out));

    let out = ws
        .pkgrun()
        .args(["version", "ts", "python"])
        .env("SOURCE_GIT_SHA", "abcdef0123456789")
        .env("AMEIDE_TS_SDK_VERSION", "2.0.0-rc.1")
        .env("AMEIDE_PYTHON_SDK_VERSION", "2.0-RC1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "acme-sdk 2.0rc1\nsdk-ts 2.0.0-rc.1\n");
}

/// Issue 13: a runner image holds only its own language's package directories, so a
/// command for one language must not validate the others; `config check` still does.
#[test]
fn commands_for_one_language_do_not_need_the_other_languages_directories() {
    let ws = Workspace::new();
    std::fs::remove_dir_all(ws.path().join("ts")).unwrap();
    std::fs::remove_dir_all(ws.path().join("go")).unwrap();
    let out = ws
        .pkgrun()
        .args(["version", "python"])
        .env("SOURCE_GIT_SHA", "012345678901ffff")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("acme-sdk 0.3.0.dev"),
        "{}",
        stdout(&out)
    );

    // `run python` gets past the config to the environment check (exit 2 naming the
    // Python variables only, not a missing ts directory).
    let out = ws.pkgrun().args(["run", "python"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("AMEIDE_PYPI_REPOSITORY_URL"), "{err}");
    assert!(
        !err.contains("ts/sdk") && !err.contains("NPM_REGISTRY_URL"),
        "{err}"
    );

    for args in [
        &["config", "check"][..],
        &["version"][..],
        &["version", "ts"][..],
    ] {
        let out = ws.pkgrun().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("ts/sdk"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn version_reads_head_without_git_binary_in_path() {
    let ws = Workspace::new();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(ws.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert!(ok.status.success());
        String::from_utf8(ok.stdout).unwrap()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "pkgrun.toml"]);
    git(&["commit", "-q", "-m", "x"]);
    let sha = git(&["rev-parse", "HEAD"]);
    let out = ws
        .pkgrun()
        .env("PATH", "/nonexistent")
        .args(["version", "go"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim_end().ends_with(&sha[..12]),
        "{}",
        stdout(&out)
    );
}

#[test]
fn asking_for_an_unconfigured_language_is_a_usage_error() {
    let ws = Workspace::new();
    ws.write("pkgrun.toml", "env_prefix = \"AMEIDE\"\n[[go.packages]]\nname = \"example.com/acme/sdk\"\npath = \"go/sdk\"\n");
    let out = ws
        .pkgrun()
        .args(["version", "ts"])
        .env("SOURCE_GIT_SHA", "0123456789ab")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ts not configured"),
        "{}",
        stderr(&out)
    );
}

// ---- state show / clean ----------------------------------------------------------------

fn doc(lang: Lang, key: &str, version: &str) -> StateDocument {
    StateDocument {
        schema: Schema::V1,
        language: lang,
        package: format!("pkg-{key}"),
        state_key: key.into(),
        version: version.into(),
        registry: "http://127.0.0.1:5000".into(),
        git_sha: "0123456789ab".into(),
        published_at: "2026-11-27T22:10:05Z".into(),
        publish: Publish {
            outcome: PublishOutcome::Uploaded,
        },
        dependencies: vec![DependencyPin {
            package: "dep".into(),
            version: "1".into(),
        }],
        artifacts: vec![Artifact {
            file: "a.zip".into(),
            kind: ArtifactKind::Zip,
            size: 1,
            sha256: "0".repeat(64),
            h1: None,
            integrity: None,
            shasum: None,
        }],
        smoke: Smoke::not_run(),
        durations_ms: BTreeMap::from([("total".to_string(), 5)]),
    }
}

#[test]
fn state_show_table_and_json() {
    let ws = Workspace::new();
    let store = StateStore::new(ws.state_dir());
    let a = doc(Lang::Go, "sdk-go", "v0.0.0-20261127221005-0123456789ab");
    let b = doc(Lang::Ts, "sdk-ts", "1.2.0-dev.20261127221005.0123456789ab");
    store.write_document(&b).unwrap();
    store.write_document(&a).unwrap();
    store.write_version(Lang::Go, &a.version).unwrap();

    let out = ws.pkgrun().args(["state", "show"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "STATE KEY  LANGUAGE  VERSION                                SMOKE    PUBLISHED AT\n\
         sdk-go     go        v0.0.0-20261127221005-0123456789ab     not-run  2026-11-27T22:10:05Z\n\
         sdk-ts     ts        1.2.0-dev.20261127221005.0123456789ab  not-run  2026-11-27T22:10:05Z\n"
    );

    let out = ws
        .pkgrun()
        .args(["state", "show", "--json"])
        .output()
        .unwrap();
    let docs: Vec<StateDocument> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(docs, vec![a, b]);
}

#[test]
fn state_show_on_an_empty_or_missing_directory() {
    let ws = Workspace::new();
    let out = ws.pkgrun().args(["state", "show"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("no state documents in"),
        "{}",
        stderr(&out)
    );
    let out = ws
        .pkgrun()
        .args(["state", "show", "--json"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "[]\n");
}

#[test]
fn state_clean_empties_but_keeps_the_directory() {
    let ws = Workspace::new();
    let store = StateStore::new(ws.state_dir());
    store
        .write_document(&doc(Lang::Go, "sdk-go", "v0.0.0-1-0123456789ab"))
        .unwrap();
    store
        .write_version(Lang::Go, "v0.0.0-1-0123456789ab")
        .unwrap();
    std::fs::create_dir_all(ws.state_dir().join("nested/deeper")).unwrap();

    let out = ws.pkgrun().args(["state", "clean"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        mask(&stderr(&out)).contains("ok   emptied"),
        "{}",
        stderr(&out)
    );
    assert!(ws.state_dir().is_dir(), "the directory itself stays");
    assert_eq!(std::fs::read_dir(ws.state_dir()).unwrap().count(), 0);
}

// ---- pkgrun env ------------------------------------------------------------------------

fn with_versions() -> Workspace {
    let ws = Workspace::new();
    let store = StateStore::new(ws.state_dir());
    store
        .write_version(Lang::Go, "v0.0.0-20261127221005-0123456789ab")
        .unwrap();
    store
        .write_version(Lang::Python, "0.3.0.dev20261127221005+g0123456789ab")
        .unwrap();
    store
        .write_version(Lang::Ts, "1.2.0-dev.20261127221005.0123456789ab")
        .unwrap();
    ws
}

#[test]
fn env_shell_and_dotenv() {
    let ws = with_versions();
    let out = ws.pkgrun().arg("env").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "export AMEIDE_GO_SDK_VERSION='v0.0.0-20261127221005-0123456789ab'\n\
         export AMEIDE_PYTHON_SDK_VERSION='0.3.0.dev20261127221005+g0123456789ab'\n\
         export AMEIDE_TS_SDK_VERSION='1.2.0-dev.20261127221005.0123456789ab'\n"
    );
    // The shell form really is shell: evaluate it.
    let script = format!("{}echo \"$AMEIDE_PYTHON_SDK_VERSION\"", stdout(&out));
    let sh = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sh.stdout),
        "0.3.0.dev20261127221005+g0123456789ab\n"
    );

    let out = ws
        .pkgrun()
        .args(["env", "--format", "dotenv", "ts"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "AMEIDE_TS_SDK_VERSION=1.2.0-dev.20261127221005.0123456789ab\n"
    );

    let file = ws.path().join("build.env");
    std::fs::write(&file, "OLD=1\n").unwrap();
    let out = ws
        .pkgrun()
        .args(["env", "--format", "dotenv", "--output"])
        .arg(&file)
        .arg("go")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "AMEIDE_GO_SDK_VERSION=v0.0.0-20261127221005-0123456789ab\n"
    );
}

#[test]
fn env_github_appends_to_github_output() {
    let ws = with_versions();
    let gh = ws.path().join("gh-output");
    std::fs::write(&gh, "earlier=1\n").unwrap();
    let out = ws
        .pkgrun()
        .args(["env", "--format", "github", "go", "ts"])
        .env("GITHUB_OUTPUT", &gh)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        std::fs::read_to_string(&gh).unwrap(),
        "earlier=1\nAMEIDE_GO_SDK_VERSION=v0.0.0-20261127221005-0123456789ab\nAMEIDE_TS_SDK_VERSION=1.2.0-dev.20261127221005.0123456789ab\n"
    );
    // Without GITHUB_OUTPUT the lines go to stdout.
    let out = ws
        .pkgrun()
        .args(["env", "--format", "github", "go"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "AMEIDE_GO_SDK_VERSION=v0.0.0-20261127221005-0123456789ab\n"
    );
}

#[test]
fn env_with_missing_versions_fails_and_writes_nothing() {
    let ws = Workspace::new();
    StateStore::new(ws.state_dir())
        .write_version(Lang::Go, "v0.0.0-1-0123456789ab")
        .unwrap();
    let gh = ws.path().join("gh-output");
    std::fs::write(&gh, "").unwrap();
    let before = ws.snapshot();
    let out = ws
        .pkgrun()
        .args(["env", "--format", "github"])
        .env("GITHUB_OUTPUT", &gh)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("python (") && err.contains("ts ("), "{err}");
    assert!(!err.contains("go ("), "{err}");
    assert!(
        err.contains("hint: run the publish for python, ts first")
            && err.contains("`pkgrun env go`"),
        "{err}"
    );
    assert_eq!(ws.snapshot(), before);
}

// ---- help ----------------------------------------------------------------------------

#[test]
fn help_teaches_commands_examples_and_environment() {
    let ws = Workspace::new();
    let out = ws.pkgrun().arg("--help").output().unwrap();
    let text = stdout(&out);
    for needle in [
        "Exit codes",
        "Examples:",
        "PKGRUN_CONFIG",
        "LOG_PREFIX",
        "NO_COLOR",
        "state",
        "env",
        "version",
        "step",
    ] {
        assert!(text.contains(needle), "{needle} missing from --help");
    }
    let out = ws.pkgrun().args(["version", "--help"]).output().unwrap();
    assert!(
        stdout(&out).contains("SOURCE_GIT_SHA") && stdout(&out).contains("{PREFIX}_TS_SDK_VERSION")
    );
    // Commands of later work are absent, not stubs.
    for absent in [&["layer"][..], &["images"], &["state", "sync"]] {
        ws.pkgrun().args(absent).assert().code(2);
    }
}

/// Issue 18: a panic is a bug, exit 1 with one `error:` message (not 101, and not SIGABRT
/// under the release profile's panic=abort: the hook exits before the runtime aborts).
/// `println!` to a full device panics, a real panic path of every data-printing command.
#[test]
fn a_panic_exits_1_with_one_error_message() {
    let ws = Workspace::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    // std's Command: assert_cmd's cannot redirect stdout.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pkgrun"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SOURCE_GIT_SHA", "012345678901ffff")
        .current_dir(ws.path())
        .arg("version")
        .stdout(full)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: pkgrun hit a bug: failed printing to stdout"),
        "{err}"
    );
    assert!(err.contains("\nhint: please report it"), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
}

/// The contract's environment with loopback registries nobody needs to answer.
fn with_contract(cmd: &mut Command) -> &mut Command {
    cmd.env("SOURCE_GIT_SHA", "0123456789abcdef")
        .env("GO_REGISTRY_URL", "http://127.0.0.1:9")
        .env("GO_REGISTRY_TOKEN", "t")
        .env("GONOSUMDB", "example.com/acme")
        .env(
            "AMEIDE_PYPI_REPOSITORY_URL",
            "http://127.0.0.1:9/root/acme/",
        )
        .env("AMEIDE_PYPI_USERNAME", "u")
        .env("AMEIDE_PYPI_PASSWORD", "p")
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/root/acme/+simple/")
        .env("NPM_REGISTRY_URL", "http://127.0.0.1:9/")
        .env("NPM_AUTH_TOKEN", "n")
}

/// Issue 18: every tool a run needs is checked before anything is touched. On a PATH
/// with the machine's python3 (no `build` module), node, npm and go, but neither uv nor
/// pnpm, publishing a pnpm workspace's package and a Python package is exit 2 naming
/// both, and the workspace is unchanged; smoke-testing needs neither tool.
#[test]
fn preflight_names_every_missing_build_tool_before_anything_is_touched() {
    let python = Path::new("/usr/bin/python3");
    let probe = Command::new(python)
        .args(["-c", "import build"])
        .output()
        .expect("the machine's /usr/bin/python3 runs");
    assert!(
        !probe.status.success(),
        "test precondition: /usr/bin/python3 must not have the `build` module"
    );
    let ws = Workspace::new();
    ws.write("pnpm-workspace.yaml", "packages:\n  - ts/*\n");
    let bin = ws.path().join("limited-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["node", "npm", "go"] {
        let real = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} must be on PATH for this test"));
        std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
    }
    std::os::unix::fs::symlink(python, bin.join("python3")).unwrap();
    let before = ws.snapshot();

    let out = with_contract(ws.pkgrun().arg("publish"))
        .env("PATH", &bin)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("uv, or the `build` module for python3"),
        "{err}"
    );
    assert!(
        err.contains("pnpm (builds and packs @acme/sdk-ts, in a pnpm workspace)"),
        "{err}"
    );
    assert!(err.contains("nothing was touched"), "{err}");
    assert_eq!(ws.snapshot(), before);

    let out = with_contract(ws.pkgrun().args(["smoke", "python", "ts"]))
        .env("PATH", &bin)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!err.contains("uv, or the"), "{err}");
    assert!(!err.contains("pnpm ("), "{err}");
}
