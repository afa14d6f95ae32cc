#!/usr/bin/env bash
# THE test command (README "Quick start"): installs the pinned tools the suites use,
# builds every binary of the workspace, and runs every test suite.
#
# Tools go to ${PKGRUN_TOOLS_DIR:-<repo>/.tools}; each installer is idempotent, so a
# second run only checks what is already there. To run one suite while developing:
# `cargo test -p <crate>` (see the README's Development section).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f scripts/tools/install-all.sh ]; then
  bash scripts/tools/install-all.sh
fi

cargo build --workspace --bins
# The static pkgrun the runner images carry (tests/e2e/tests/images.rs builds them).
cargo build --release --target x86_64-unknown-linux-musl -p pkgrun
cargo test --workspace --no-fail-fast
