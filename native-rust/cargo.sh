#!/usr/bin/env bash
# Runs cargo with CMAKE pointing at a cmake >= 3.30 (the bundled Aeron C client needs it; Debian 12
# ships 3.25), even when an older one comes first on PATH, at the root of the Cargo workspace (the
# repository root: /Cargo.toml, /Cargo.lock), so a command covers every member unless -p narrows it
# and .cargo/config.toml's target directory (native-rust/target) applies. Examples:
#   ./native-rust/cargo.sh build --release --locked                       # every worker binary
#   ./native-rust/cargo.sh test --release --locked -p polybridge-worker   # the SDK's tests only
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cmake-path.sh
source "$here/cmake-path.sh"
if ! CMAKE="$(polybridge_find_cmake)"; then
    echo "cargo.sh: no cmake >= 3.30 found; run ./install-deps.sh first" >&2
    exit 1
fi
export CMAKE
# The binaries we ship (io.polybridge:polybridge-workers) must run on any x86-64-v2 CPU (Nehalem,
# 2008, and later), not only on the build machine: rusteron-client compiles the bundled Aeron C
# client with -march=native in release builds unless RUSTERON_C_MARCH names a target. Rust code
# itself already targets rustc's baseline (x86-64). Set RUSTERON_C_MARCH=native for a local build
# tuned to this CPU.
if [[ -z "${RUSTERON_C_MARCH:-}" && "$(uname -m)" == x86_64 ]]; then
    export RUSTERON_C_MARCH=x86-64-v2
fi
cd "$here/.."
exec cargo "$@"
