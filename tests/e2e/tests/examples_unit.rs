//! Runs each example SDK's own unit tests with the real toolchains, on a copy of
//! `examples/monorepo` (the workspace stays untouched): `go test` per Go module (offline:
//! `GOPROXY=off`), unittest in a fresh venv with both Python packages installed from their
//! paths, and pnpm install + build + `node --test` for the TS workspace. Each test also checks
//! that tests actually ran, so an emptied test file fails here too.

use anyhow::{ensure, Context, Result};
use pkgrun_e2e::workspace::example_copy;
use pkgrun_e2e::{tools_bin, Venv};
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("spawn {cmd:?}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    Ok(text)
}

/// The first number after `marker` in `text` (e.g. `Ran 3 tests`, `# pass 4`).
fn count_after(text: &str, marker: &str) -> Option<usize> {
    let rest = &text[text.find(marker)? + marker.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn go_modules_pass_their_unit_tests_offline() -> Result<()> {
    let (tmp, root) = example_copy()?;
    for module in ["packages/ameide_telemetry_go", "packages/ameide_sdk_go"] {
        let out = run(Command::new("go")
            .args(["test", "-v", "-count=1", "./..."])
            .current_dir(root.join(module))
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off")
            // No network: the SDK reaches its sibling only through the `replace`.
            .env("GOPROXY", "off")
            .env("GOPATH", tmp.path().join("gopath"))
            .env("GOMODCACHE", tmp.path().join("gopath/pkg/mod")))?;
        let passed = out.matches("--- PASS").count();
        ensure!(
            passed >= 2,
            "{module}: expected at least 2 passing tests, got {passed}:\n{out}"
        );
        ensure!(!out.contains("--- FAIL"), "{module}:\n{out}");
    }
    Ok(())
}

#[test]
fn python_packages_pass_their_unit_tests_when_installed_from_paths() -> Result<()> {
    let (tmp, root) = example_copy()?;
    let venv = Venv::create(&tmp.path().join("venv"))?;
    let python = venv.python();
    // Build dependencies (hatchling) come from the default configured index: setup only.
    run(venv
        .pip()
        .args(["install", "--no-cache-dir"])
        .arg(root.join("packages/ameide_telemetry_python"))
        .arg(root.join("packages/ameide_sdk_python")))?;
    for package in [
        "packages/ameide_telemetry_python",
        "packages/ameide_sdk_python",
    ] {
        // Run from the package dir: the src/ layout means imports resolve to the installed copy.
        let out = run(Command::new(&python)
            .args(["-m", "unittest", "discover", "-v", "-s", "tests"])
            .current_dir(root.join(package)))?;
        let ran = count_after(&out, "Ran ").unwrap_or(0);
        ensure!(
            ran >= 3,
            "{package}: expected at least 3 tests, ran {ran}:\n{out}"
        );
    }
    Ok(())
}

#[test]
fn ts_workspace_builds_and_passes_node_tests() -> Result<()> {
    let (tmp, root) = example_copy()?;
    let pnpm = tools_bin("pnpm");
    let pnpm_cmd = |args: &[&str], dir: &Path| {
        let mut cmd = Command::new(&pnpm);
        cmd.args(args)
            .current_dir(dir)
            .env("npm_config_store_dir", tmp.path().join("pnpm-store"))
            .env("npm_config_update_notifier", "false");
        cmd
    };
    // No lock file is committed; CI=true would otherwise make pnpm demand a frozen one.
    run(&mut pnpm_cmd(&["install", "--no-frozen-lockfile"], &root))?;
    run(&mut pnpm_cmd(&["-r", "build"], &root))?;
    for package in ["packages/ameide_telemetry_ts", "packages/ameide_sdk_ts"] {
        let dir = root.join(package);
        ensure!(
            dir.join("dist/index.js").is_file(),
            "{package}: build produced no dist/index.js"
        );
        let out = run(Command::new("node").arg("--test").current_dir(&dir))?;
        let passed = count_after(&out, "# pass ").unwrap_or(0);
        ensure!(
            passed >= 3,
            "{package}: expected at least 3 passing tests, got {passed}:\n{out}"
        );
        ensure!(count_after(&out, "# fail ") == Some(0), "{package}:\n{out}");
    }
    ensure!(root
        .join("packages/ameide_sdk_ts/dist/platform/organizations.js")
        .is_file());
    Ok(())
}
