#!/usr/bin/env bash
# Regenerates the committed Go and Rust codecs from schema/polybridge.xml with the pinned
# sbe-tool (the Java codecs are generated on every build and never committed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
mvn -B -q generate-sources
rm -rf go/polybridge rust/src rust/Cargo.toml
cp -r target/generated-native/go/polybridge go/polybridge
cp -r target/generated-native/rust/polybridge/. rust/
echo "regenerated codecs/go/polybridge and codecs/rust from ../schema/polybridge.xml"
