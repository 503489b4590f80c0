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

# The demo across two OS processes over TCP: the services node prints
# where it listens; the web node connects there and must see every
# welcome email go out.
demo=target/debug/examples/signup
serve_out=$(mktemp)
"$demo" --serve tcp://127.0.0.1:0 >"$serve_out" 2>/dev/null &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; rm -f "$serve_out"' EXIT
for _ in $(seq 100); do
    grep -q "serving" "$serve_out" && break
    sleep 0.1
done
endpoint=$(grep -o 'tcp://[0-9.:]*' "$serve_out")
web_out=$("$demo" --connect "$endpoint" 2>/dev/null)
echo "$web_out"
grep -q "welcome emails: 5" <<<"$web_out"
kill -INT "$serve_pid"
wait "$serve_pid"
echo "all checks passed"
