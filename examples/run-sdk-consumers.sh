#!/usr/bin/env bash
# CI for the Go and Rust SDKs used from outside (issue 12): copies examples/consumer-go and
# examples/consumer-rust to a temporary directory outside the repository, builds each there against
# this checkout (Go: its require of github.com/polybridge/polybridge plus one replace onto the
# checkout, no go.work; Rust: a path dependency), and has Java
# (examples/consumer's CallWorker, through Bridge) start each one and call its handler.
# Needs `mvn install -DskipTests` at the repository root (for examples/consumer) and Go, Rust, cmake.
#   examples/run-sdk-consumers.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/polybridge-sdk-consumers.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "sdk-consumers: FAIL: $*" >&2; exit 1; }

cp -r "$here/consumer-go" "$here/consumer-rust" "$tmp/"
mkdir -p "$tmp/java" && cp -r "$here/consumer/pom.xml" "$here/consumer/src" "$tmp/java/"

echo "sdk-consumers: Go module in $tmp/consumer-go" >&2
# A user's module with a checkout instead of a published version: one replace, nothing else.
(cd "$tmp/consumer-go" && go mod edit -replace "github.com/polybridge/polybridge=$repo") || fail "go mod edit -replace"
[[ "$(grep -c '=>' "$tmp/consumer-go/go.mod")" == 1 ]] || fail "the consumer's go.mod needs more than one replace"
[[ ! -e "$tmp/consumer-go/go.work" ]] || fail "the consumer needs a go.work"
(cd "$tmp/consumer-go" && GOWORK=off CGO_ENABLED=0 go build -o polybridge-consumer-go .) || fail "go build outside the repository"
if (cd "$tmp/consumer-go" && go list -deps . | grep -q wappalyzergo); then
    fail "the Go SDK pulls in wappalyzergo"
fi

echo "sdk-consumers: Rust crate in $tmp/consumer-rust" >&2
# A path dependency on the SDK crate in this checkout (a member of the root Cargo workspace), no [patch].
sed -i "s|path = \"../../native-rust\"|path = \"$repo/native-rust\"|" "$tmp/consumer-rust/Cargo.toml"
grep -q "path = \"$repo/native-rust\"" "$tmp/consumer-rust/Cargo.toml" || fail "could not point Cargo.toml at $repo"
if grep -q '^\[patch' "$tmp/consumer-rust/Cargo.toml"; then fail "the Rust consumer must not need [patch]"; fi
# Same versions as the workspace's own lock; the workspace's target directory, so the bundled Aeron
# C client already built there (same flags: cargo.sh) is reused instead of built again.
cp "$repo/Cargo.lock" "$tmp/consumer-rust/"
rust_target="${POLYBRIDGE_CONSUMER_TARGET:-$repo/native-rust/target}"
CARGO_TARGET_DIR="$rust_target" \
    "$repo/native-rust/cargo.sh" build --release --manifest-path "$tmp/consumer-rust/Cargo.toml" \
    || fail "cargo build outside the repository"
if "$repo/native-rust/cargo.sh" tree --offline --manifest-path "$tmp/consumer-rust/Cargo.toml" --prefix none \
    | grep -qE '^(html5ever|tlsh2|url) '; then
    fail "the Rust SDK pulls in the web-scan app's crates"
fi
cp "$rust_target/release/polybridge-consumer-rust" "$tmp/consumer-rust/"

echo "sdk-consumers: Java caller in $tmp/java" >&2
(cd "$tmp/java" && mvn -B -ntp -q package) || fail "mvn package of the Java caller"

call() { # executable handler text expected
    local got
    got="$(cd "$tmp" && XDG_CACHE_HOME="$tmp/cache" java -cp "$tmp/java/target/consumer.jar" \
        --add-opens java.base/jdk.internal.misc=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED \
        com.example.consumer.CallWorker "$1" "$2" "$3")" || fail "calling $2 on $1"
    [[ "$got" == "$4" ]] || fail "$2 answered '$got', expected '$4'"
    echo "sdk-consumers: Java -> $(basename "$1") $2('$3') = '$got'" >&2
}
call "$tmp/consumer-go/polybridge-consumer-go" consumer.upper "hello from java" "HELLO FROM JAVA"
call "$tmp/consumer-rust/polybridge-consumer-rust" consumer.reverse "hello from java" "avaj morf olleh"

sleep 1
if pgrep -f "$tmp/consumer-" >/dev/null; then
    pgrep -af "$tmp/consumer-" >&2
    fail "worker processes outlived the Java caller"
fi
echo "sdk-consumers: OK" >&2
