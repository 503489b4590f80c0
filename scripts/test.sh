#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every test
# (unit, integration, doc) and the demo.
set -euo pipefail
# Say which step failed instead of exiting without a word.
trap 'status=$?; echo "test.sh: line $LINENO failed (exit $status): $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

bash scripts/ensure-rabbitmq.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# A million peers that come and go under new names, in a release build
# (about a minute; a debug build runs a smaller number of them).
cargo test --release -p beamish-core --features testing --test node_names_are_forgotten
cargo run -q -p beamish-examples --example signup >/dev/null
# The second demo: services in their own OS processes subscribe durably;
# one crashes, one is SIGKILLed, and every one handles every signup.
subscriptions_out=$(cargo run -q -p beamish-examples --example subscriptions 2>/dev/null)
echo "$subscriptions_out"
grep -q "every service handled every signup" <<<"$subscriptions_out"

# The demo across two OS processes over TCP: the services node prints
# where it listens; the web node connects there and must see every
# welcome email go out. The demo is where cargo built it: ./target
# unless CARGO_TARGET_DIR (or cargo's configuration) says otherwise.
target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
demo=$target_dir/debug/examples/signup
if [[ ! -x $demo ]]; then
    echo "test.sh: the demo is not at $demo" >&2
    exit 1
fi
serve_out=$(mktemp)
serve_err=$(mktemp)
"$demo" --serve tcp://127.0.0.1:0 >"$serve_out" 2>"$serve_err" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; rm -f "$serve_out" "$serve_err"' EXIT
for _ in $(seq 100); do
    grep -q "serving" "$serve_out" && break
    sleep 0.1
done
if ! grep -q "serving" "$serve_out"; then
    echo "test.sh: the demo's services node did not say where it serves" >&2
    cat "$serve_out" "$serve_err" >&2
    exit 1
fi
endpoint=$(grep -o 'tcp://[0-9.:]*' "$serve_out")
web_out=$("$demo" --connect "$endpoint" 2>/dev/null)
echo "$web_out"
grep -q "welcome emails: 5" <<<"$web_out"
kill -INT "$serve_pid"
wait "$serve_pid"
echo "all checks passed"
