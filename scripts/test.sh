#!/usr/bin/env bash
# THE test command (README "Quick start"): installs the pinned tools the suites use,
# builds every binary of the workspace, and runs every test suite.
#
# Tools go to ${PKGRUN_TOOLS_DIR:-<repo>/.tools}; each installer is idempotent, so a
# second run only checks what is already there. To run one suite while developing:
# `cargo test -p <crate>` (see the README's Development section).
set -euo pipefail
cd "$(dirname "$0")/.."

# A cold run writes target/, .tools/, the Go build and module caches and the suites' data
# (measured in the README); running out of disk mid-build shows up as a linker "Bus error",
# so say it up front.
need_gb=14
free_gb=$(( $(df -Pk . | awk 'NR==2 {print $4}') / 1024 / 1024 ))
if [ "$free_gb" -lt "$need_gb" ]; then
  echo "warning: only ${free_gb} GB free on $(df -P . | awk 'NR==2 {print $6}'); a cold run needs about ${need_gb} GB (free some space, or expect 'No space left on device')" >&2
fi

if [ -f scripts/tools/install-all.sh ]; then
  bash scripts/tools/install-all.sh
fi

cargo build --workspace --bins
# The static pkgrun the runner images carry (tests/e2e/tests/images.rs builds them).
cargo build --release --target x86_64-unknown-linux-musl -p pkgrun
cargo test --workspace --no-fail-fast
