#!/usr/bin/env bash
# Installs what building the WebAssembly test modules needs beyond Go and Rust themselves:
# wat2wasm (Debian's wabt) and Rust's wasm32-wasip1 target (rustup). Idempotent; run as root
# for apt. A failure is reported, not fatal: build-modules.sh then skips that language and
# the tests say why.
set -uo pipefail

if command -v wat2wasm >/dev/null 2>&1; then
    echo "wasm install-deps: wat2wasm $(wat2wasm --version) already installed"
elif command -v apt-get >/dev/null 2>&1; then
    echo "wasm install-deps: installing wabt (wat2wasm)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y --no-install-recommends wabt ||
        { apt-get update && apt-get install -y --no-install-recommends wabt; }; } ||
        echo "wasm install-deps: could not install wabt; WAT modules will be skipped" >&2
else
    echo "wasm install-deps: no apt-get; install wabt (wat2wasm) by hand, or WAT modules are skipped" >&2
fi

if ! command -v rustup >/dev/null 2>&1; then
    echo "wasm install-deps: no rustup; add the wasm32-wasip1 target to your Rust by hand, or Rust modules are skipped" >&2
elif rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    echo "wasm install-deps: Rust target wasm32-wasip1 already installed"
else
    echo "wasm install-deps: rustup target add wasm32-wasip1"
    rustup target add wasm32-wasip1 ||
        echo "wasm install-deps: could not add wasm32-wasip1; Rust modules will be skipped" >&2
fi
exit 0
