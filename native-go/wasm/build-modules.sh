#!/usr/bin/env bash
# Builds the WebAssembly test modules in testdata/modules from source into OUT (default
# ../bin/wasm-modules, i.e. native-go/bin/wasm-modules): go_NAME.wasm (GOOS=wasip1
# GOARCH=wasm; the commands in one multi-call binary, NAME_reactor with -buildmode=c-shared),
# rust_NAME.wasm (cargo, wasm32-wasip1,
# --locked --offline) and wat_NAME.wasm (wat2wasm). A language whose toolchain is missing is
# skipped: OUT/SKIPPED-<language> then says why, and the tests that need it skip with that text.
# Run ./install-deps.sh first to get wat2wasm and the Rust target. Idempotent and quick when
# nothing changed (Go's and cargo's caches).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/testdata/modules"
out="${1:-$here/../bin/wasm-modules}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out"/SKIPPED-*

skip() { # language, reason
    echo "build-modules: skipping $1 modules: $2" >&2
    echo "$2" > "$out/SKIPPED-$1"
}

# Write to a temporary name and rename, so a worker watching OUT never loads a half-written
# file; the name is this process's own, so two builds at once (go test in two packages, a
# Java test) do not trip over each other.
# An unchanged module is left alone (its modification time too: go test's cache and a
# watching worker see no change).
install_module() { # built-file, module-name
    if cmp -s "$1" "$out/$2.wasm"; then
        return
    fi
    cp "$1" "$out/.$2.wasm.$$.tmp"
    mv "$out/.$2.wasm.$$.tmp" "$out/$2.wasm"
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if command -v go >/dev/null 2>&1; then
    # commands/ is one multi-call binary (see its main.go), installed under each command's
    # name: go_echo, go_stats, ... (one file per command in commands/ besides main.go).
    (cd "$src/go" && GOOS=wasip1 GOARCH=wasm go build -o "$tmp/commands.wasm" ./commands)
    for f in "$src"/go/commands/*.go; do
        name="$(basename "$f" .go)"
        [[ "$name" == main ]] || install_module "$tmp/commands.wasm" "go_$name"
    done
    for dir in "$src"/go/*_reactor/; do
        name="$(basename "$dir")"
        (cd "$src/go" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/$name.wasm" "./$name")
        install_module "$tmp/$name.wasm" "go_$name"
    done
else
    skip go "go is not installed"
fi

if ! command -v cargo >/dev/null 2>&1; then
    skip rust "cargo is not installed (https://rustup.rs)"
elif ! rustc --print target-libdir --target wasm32-wasip1 >/dev/null 2>&1 ||
    [[ ! -d "$(rustc --print target-libdir --target wasm32-wasip1)" ]]; then
    skip rust "the Rust target wasm32-wasip1 is not installed (rustup target add wasm32-wasip1; native-go/wasm/install-deps.sh tries)"
else
    # Its own target dir: the repository's .cargo/config.toml would put it in native-rust/target.
    (cd "$src/rust" && CARGO_TARGET_DIR="$src/rust/target" cargo build --quiet --release --locked --offline --target wasm32-wasip1)
    for f in "$src"/rust/target/wasm32-wasip1/release/rust_*.wasm; do
        install_module "$f" "$(basename "$f" .wasm)"
    done
fi

if command -v wat2wasm >/dev/null 2>&1; then
    for f in "$src"/wat/*.wat; do
        name="$(basename "$f" .wat)"
        wat2wasm "$f" -o "$tmp/wat_$name.wasm"
        install_module "$tmp/wat_$name.wasm" "wat_$name"
    done
else
    skip wat "wat2wasm is not installed (Debian: apt-get install wabt; native-go/wasm/install-deps.sh does)"
fi

echo "build-modules: $(ls "$out"/*.wasm 2>/dev/null | wc -l) modules in $out" >&2
