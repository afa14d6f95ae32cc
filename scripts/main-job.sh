#!/usr/bin/env bash
# The main job on one machine: publish → smoke → state for every language of
# examples/monorepo, against registries started on loopback for the job (the
# project's go-registry, devpi and Verdaccio), then the state and the version
# contract it produced. The state lands in examples/monorepo/tmp/tilt-packages.
#
# Usage: scripts/main-job.sh [go|python|ts]…   (default: all three)
# VERBOSE=1 shows every tool's output as it runs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
. scripts/lib/logging.sh
export LOG_PREFIX=packages:main-job

# Only what this job uses; helm, the test kube-apiserver and the other test-only tools
# are installed by the test command (scripts/test.sh).
run_step "install the registries and build tools" -- bash scripts/tools/install-all.sh --main-job
run_step "build pkgrun, go-registry and loopback-registries" -- \
  cargo build -p pkgrun -p go-registry -p pkgrun-e2e --bins
bin="${CARGO_TARGET_DIR:-$repo/target}/debug"
tools="${PKGRUN_TOOLS_DIR:-$repo/.tools}"
# pkgrun finds uv and pnpm (installed by install-all.sh) on PATH, like any CI runner would.
export PATH="$bin:$tools/bin:$PATH"

cd examples/monorepo
log_info "running the job in $(pwd)"
loopback-registries -- sh -c '
  pkgrun run "$@" && pkgrun state show && pkgrun env "$@"
' main-job "$@"
