#!/usr/bin/env python3
"""Baseline (a) of bench/pipeline: the main job done with plain tools, one step after another.

What the old per-language publisher scripts did, in a fresh pod each time: for every package
of examples/monorepo, in dependency order, stamp a snapshot version into a copy of the package
(siblings pinned to the versions published just before), build/pack it with the ecosystem's own
tools, upload it, check the registry serves it, install it in a fresh consumer with empty caches
and import it; then fetch each language's upstream probe twice with empty caches. No pkgrun.

Languages run one after the other (go, python, ts). Every cache is fresh (the old scripts ran in
a new pod), which is the one difference from pkgrun in kind: pkgrun shares the Go build cache
(see docs/go.md). Registries and credentials come from pkgrun's environment contract
(loopback-registries sets it); credentials reach only the uploading command, through its
environment or a 0600 file, never argv.

Usage: plain_tools.py WORKSPACE   (a copy of examples/monorepo; SOURCE_GIT_SHA set)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path

PREFIX = "AMEIDE"


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    full = dict(os.environ) if env is None else env
    subprocess.run(args, cwd=cwd, env=full, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def without_secrets() -> dict[str, str]:
    """The environment minus every credential of the contract."""
    secret = {"GO_REGISTRY_TOKEN", "NPM_AUTH_TOKEN", f"{PREFIX}_PYPI_PASSWORD"}
    return {k: v for k, v in os.environ.items() if k not in secret}


def fetch(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.read()


def copy_package(src: Path, scratch: Path) -> Path:
    dest = scratch / "src"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
        ".git", "node_modules", "dist", ".venv", "__pycache__", "tmp"))
    return dest


# ---------------------------------------------------------------- go

def go_env(root: Path) -> dict[str, str]:
    env = without_secrets()
    env.update(GOPATH=str(root / "gopath"), GOMODCACHE=str(root / "gopath/pkg/mod"),
               GOCACHE=str(root / "gocache"), GOPROXY=os.environ["GO_REGISTRY_URL"],
               GOFLAGS="-mod=mod -modcacherw", GOWORK="off", GOTOOLCHAIN="local")
    return env


def go_module_zip(src: Path, module: str, version: str, out: Path) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            archive.write(path, f"{module}@{version}/{path.relative_to(src).as_posix()}")


def go_publish(pkg: dict, src: Path, version: str, published: dict[str, str],
               scratch: Path) -> None:
    module = pkg["name"]
    copy = copy_package(src, scratch)
    env = go_env(scratch)
    for sibling, sibling_version in published.items():
        if sibling in (copy / "go.mod").read_text():
            run(["go", "mod", "edit", f"-dropreplace={sibling}",
                 f"-require={sibling}@{sibling_version}"], copy, env)
    zip_path, info_path = scratch / "module.zip", scratch / "info.json"
    go_module_zip(copy, module, version, zip_path)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    info_path.write_text(json.dumps({"Version": version, "Time": stamp}))
    header = scratch / "auth-header"
    header.touch(mode=0o600)
    header.write_text(f"Authorization: Bearer {os.environ['GO_REGISTRY_TOKEN']}\n")
    base = os.environ["GO_REGISTRY_URL"].rstrip("/")
    run(["curl", "-sS", "-f", "-H", f"@{header}", "-F", f"module={module}",
         "-F", f"version={version}", "-F", f"info=@{info_path}",
         "-F", f"mod=@{copy / 'go.mod'}", "-F", f"zip=@{zip_path}", f"{base}/upload"],
        scratch, without_secrets())
    header.unlink()
    for suffix in ("list", f"{version}.info", f"{version}.mod", f"{version}.zip"):
        fetch(f"{base}/{module}/@v/{suffix}")
    published[module] = version


def go_consume(pkg: dict, version: str, scratch: Path) -> None:
    module = pkg["name"]
    work = scratch / "consumer"
    work.mkdir()
    env = go_env(scratch)
    run(["go", "mod", "init", "example.com/consumer"], work, env)
    run(["go", "get", f"{module}@{version}"], work, env)
    imports = "\n".join(f'\tp{i} "{c["import"]}"' for i, c in enumerate(pkg["smoke"]))
    uses = "\n".join(f"\t_ = p{i}.{c['symbol']}" for i, c in enumerate(pkg["smoke"]))
    (work / "main.go").write_text(f"package main\n\nimport (\n{imports}\n)\n\nfunc main() {{\n{uses}\n}}\n")
    run(["go", "build", "-o", "consumer", "."], work, env)
    run(["./consumer"], work, env)


def go_probe(target: str, scratch: Path) -> None:
    for attempt in ("first", "second"):
        root = scratch / attempt
        root.mkdir()
        run(["go", "mod", "download", "-json", target], root, go_env(root))


# ---------------------------------------------------------------- python

def python_publish(pkg: dict, src: Path, version: str, published: dict[str, str],
                   scratch: Path) -> None:
    copy = copy_package(src, scratch)
    pyproject = copy / "pyproject.toml"
    text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text())
    for sibling, sibling_version in published.items():
        text = text.replace(f'"{sibling}"', f'"{sibling}=={sibling_version}"')
    text = re.sub(r"(?ms)^\[tool\.uv\.sources\]\n.*?(?=^\[|\Z)", "", text)
    pyproject.write_text(text)
    env = without_secrets()
    env["UV_CACHE_DIR"] = str(scratch / "uv-cache")
    run(["uv", "build", "--out-dir", str(scratch / "dist")], copy, env)
    env["UV_PUBLISH_USERNAME"] = os.environ[f"{PREFIX}_PYPI_USERNAME"]
    env["UV_PUBLISH_PASSWORD"] = os.environ[f"{PREFIX}_PYPI_PASSWORD"]
    files = [str(p) for p in sorted((scratch / "dist").iterdir())]
    run(["uv", "publish", "--publish-url", os.environ[f"{PREFIX}_PYPI_REPOSITORY_URL"],
         *files], copy, env)
    simple = os.environ["PIP_INDEX_URL"].rstrip("/")
    page = fetch(f"{simple}/{pkg['name']}/", "application/vnd.pypi.simple.v1+json")
    assert version.split("+")[0] in page.decode(), f"{pkg['name']} {version} not listed"
    published[pkg["name"]] = version


def python_consume(pkg: dict, version: str, scratch: Path) -> None:
    venv = scratch / "venv"
    env = without_secrets()
    run([sys.executable, "-m", "venv", str(venv)], scratch, env)
    run([str(venv / "bin/pip"), "install", "--no-cache-dir", f"{pkg['name']}=={version}"],
        scratch, env)
    imports = "; ".join(f"import {c['import']}; {c['import']}.{c['symbol']}" for c in pkg["smoke"])
    run([str(venv / "bin/python"), "-I", "-c", imports], scratch, env)


def python_probe(target: str, scratch: Path) -> None:
    for attempt in ("first", "second"):
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
             "--dest", str(scratch / attempt), target], scratch, without_secrets())


# ---------------------------------------------------------------- ts

def npm_env(scratch: Path, with_token: bool) -> dict[str, str]:
    registry = os.environ["NPM_REGISTRY_URL"].rstrip("/") + "/"
    userconfig = scratch / ("npmrc-publish" if with_token else "npmrc")
    userconfig.touch(mode=0o600)
    lines = [f"registry={registry}"]
    if with_token:
        host = re.sub(r"^https?:", "", registry)
        lines.append(f"{host}:_authToken={os.environ['NPM_AUTH_TOKEN']}")
    userconfig.write_text("\n".join(lines) + "\n")
    env = without_secrets()
    env.update(NPM_CONFIG_USERCONFIG=str(userconfig), npm_config_cache=str(scratch / "npm-cache"))
    return env


def ts_publish(pkg: dict, src: Path, version: str, published: dict[str, str],
               scratch: Path) -> None:
    copy = copy_package(src, scratch)
    manifest = json.loads((copy / "package.json").read_text())
    manifest["version"] = version
    for section in ("dependencies", "peerDependencies", "optionalDependencies"):
        for name in manifest.get(section, {}):
            if name in published:
                manifest[section][name] = published[name]
    (copy / "package.json").write_text(json.dumps(manifest, indent=2))
    env = npm_env(scratch, with_token=False)
    run(["pnpm", "install", "--ignore-workspace", "--lockfile=false",
         "--store-dir", str(scratch / "pnpm-store")], copy, env)
    run(["pnpm", "run", "build"], copy, env)
    run(["pnpm", "pack", "--pack-destination", str(scratch / "out")], copy, env)
    tarball = next((scratch / "out").iterdir())
    publish_env = npm_env(scratch, with_token=True)
    run(["npm", "publish", str(tarball), "--tag", "snapshot"], scratch, publish_env)
    (scratch / "npmrc-publish").unlink()
    base = os.environ["NPM_REGISTRY_URL"].rstrip("/")
    name = pkg["name"].replace("/", "%2f")
    assert version in json.loads(fetch(f"{base}/{name}"))["versions"]
    published[pkg["name"]] = version


def ts_consume(pkg: dict, version: str, scratch: Path) -> None:
    project = scratch / "consumer"
    project.mkdir()
    (project / "package.json").write_text(
        '{"name": "consumer", "version": "0.0.0", "private": true, "type": "module"}\n')
    env = npm_env(scratch, with_token=False)
    run(["npm", "install", "--no-audit", "--no-fund", f"{pkg['name']}@{version}"], project, env)
    for check in pkg["smoke"]:
        specifier = pkg["name"] if check["import"] == "." else f"{pkg['name']}/{check['import'][2:]}"
        code = (f"const m = await import({json.dumps(specifier)}); "
                f"if (!m[{json.dumps(check['symbol'])}]) process.exit(1);")
        run(["node", "--input-type=module", "-e", code], project, env)


def ts_probe(target: str, scratch: Path) -> None:
    for attempt in ("first", "second"):
        root = scratch / attempt
        root.mkdir()
        run(["npm", "pack", target], root, npm_env(root, with_token=False))


# ---------------------------------------------------------------- driver

def versions(lang: str, timestamp: str, sha: str) -> str:
    return {"go": f"v0.0.0-{timestamp}-{sha}",
            "python": f"0.1.0.dev{timestamp}+g{sha}",
            "ts": f"0.1.0-dev.{timestamp}.{sha}"}[lang]


STEPS = {
    "go": (go_publish, go_consume, go_probe),
    "python": (python_publish, python_consume, python_probe),
    "ts": (ts_publish, ts_consume, ts_probe),
}


def main() -> int:
    workspace = Path(sys.argv[1]).resolve()
    config = tomllib.loads((workspace / "pkgrun.toml").read_text())
    sha = os.environ["SOURCE_GIT_SHA"][:12]
    timestamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    started = time.monotonic()
    for lang, (publish, consume, probe) in STEPS.items():
        published: dict[str, str] = {}
        version = versions(lang, timestamp, sha)
        # pkgrun.toml lists each language's packages in dependency order.
        for pkg in config[lang]["packages"]:
            with tempfile.TemporaryDirectory(prefix=f"plain-{lang}-") as scratch:
                publish(pkg, workspace / pkg["path"], version, published, Path(scratch))
            with tempfile.TemporaryDirectory(prefix=f"plain-{lang}-") as scratch:
                consume(pkg, version, Path(scratch))
        with tempfile.TemporaryDirectory(prefix=f"plain-{lang}-probe-") as scratch:
            probe(config[lang]["upstream_probe"], Path(scratch))
        for scratch_root in Path(tempfile.gettempdir()).glob(f"plain-{lang}-*"):
            shutil.rmtree(scratch_root, ignore_errors=True)
    print(f"plain tools: all languages in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        print(f"plain tools: {' '.join(map(str, e.cmd[:3]))}… failed:\n{e.stderr.decode()[-2000:]}",
              file=sys.stderr)
        sys.exit(1)
