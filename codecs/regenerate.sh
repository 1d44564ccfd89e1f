#!/usr/bin/env bash
# Regenerates the committed Go and Rust codecs of every SBE schema with the pinned sbe-tool (the
# parent pom's sbe-* executions); the Java codecs are generated on every build and never committed.
#   schema/polybridge.xml                 -> codecs/go/polybridge, codecs/rust                (transport)
#   examples/web-scan/schema/web-scan.xml -> examples/web-scan/go/webscan, examples/web-scan/rust/codecs
#   examples/hello/schema/hello.xml       -> examples/hello/go/hello, examples/hello/rust/codecs
# Each module's test (NativeCodecsAreCurrentTest) fails when a committed copy differs from a fresh one.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mvn -B -q -ntp -pl codecs,examples/web-scan/java,examples/hello/java -am generate-sources

# copy MODULE PACKAGE GO_DIR RUST_DIR: the module's fresh generation over the committed copies.
copy() {
    local generated="$1/target/generated-native"
    rm -rf "$3" "$4/src" "$4/Cargo.toml"
    mkdir -p "$(dirname "$3")" "$4"
    cp -r "$generated/go/$2" "$3"
    cp -r "$generated/rust/$2/." "$4/"
    echo "regenerated $3 and $4"
}
copy codecs polybridge codecs/go/polybridge codecs/rust
copy examples/web-scan/java webscan examples/web-scan/go/webscan examples/web-scan/rust/codecs
copy examples/hello/java hello examples/hello/go/hello examples/hello/rust/codecs
