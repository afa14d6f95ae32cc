#!/usr/bin/env bash
# Benchmark (not a test): the main job on examples/monorepo against the loopback registries,
# done three ways in the same run — (a) plain tools one step after another (what the old
# per-language scripts did; plain_tools.py), (b) `pkgrun run --jobs 1`, (c) `pkgrun run`
# (languages concurrently) — plus each language alone. One warm-up round, then ROUNDS rounds
# in rotated order; medians and ratios as a markdown table on stdout (paste into
# docs/benchmarks.md), progress on stderr, every run's output in <workspace>/bench-runs.log.
#
# Env: ROUNDS (default 3), PKGRUN_TOOLS_DIR, CARGO_TARGET_DIR (default <repo>/target/bench).
# The registries reach their upstreams (go env GOPROXY, devpi's mirror, npm config get
# registry) for the upstream probes, as the main job does.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/lib/logging.sh
. "$repo_root/scripts/lib/logging.sh"
export LOG_PREFIX="packages:pipeline-bench"

ROUNDS="${ROUNDS:-3}"
tools="${PKGRUN_TOOLS_DIR:-$repo_root/.tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target/bench}"

run_step "install the registries and build tools" -- \
  bash "$repo_root/scripts/tools/install-all.sh" --main-job
run_step "cargo build --release pkgrun, go-registry and loopback-registries" -- \
  cargo build --release -q -p pkgrun -p go-registry -p pkgrun-e2e --bins
bin="$CARGO_TARGET_DIR/release"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo_root/examples/monorepo" "$work/monorepo"
rm -rf "$work/monorepo/tmp"
export SOURCE_GIT_SHA="$(git -C "$repo_root" rev-parse HEAD)"
export PATH="$bin:$tools/bin:$PATH"

log_info "workspace $work/monorepo, $ROUNDS rounds"
cd "$work/monorepo"
loopback-registries -- python3 "$here/measure.py" "$work/monorepo" "$bin/pkgrun" "$ROUNDS"
