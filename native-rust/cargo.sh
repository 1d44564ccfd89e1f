#!/usr/bin/env bash
# Runs cargo with CMAKE pointing at a cmake >= 3.30 (the bundled Aeron C client needs it; Debian 12
# ships 3.25), even when an older one comes first on PATH. Example: ./cargo.sh build --release --locked
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cmake-path.sh
source "$here/cmake-path.sh"
if ! CMAKE="$(polybridge_find_cmake)"; then
    echo "cargo.sh: no cmake >= 3.30 found; run ./install-deps.sh first" >&2
    exit 1
fi
export CMAKE
cd "$here"
exec cargo "$@"
