#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test
# (unit, integration, doc) and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-rabbitmq.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
cargo run -q -p beamish-examples --example signup >/dev/null
echo "all checks passed"
