#!/usr/bin/env bash
# Installs what building the Rust worker needs on a fresh Debian 12 machine. Run as root.
# Idempotent and non-interactive: installs only what is missing.
#   - apt: libclang-dev and clang (bindgen), libbsd-dev and uuid-dev (Aeron C), make and
#     pkg-config (the cmake build);
#   - cmake >= 3.30 (Aeron C requires it; Debian 12 ships 3.25) from PyPI.
# The Rust toolchain itself (cargo, rustc >= 1.85) is assumed to be installed.
#
# The pip-installed cmake may not be the first `cmake` on PATH: ./cargo.sh finds it and hands it
# to the build through $CMAKE, which the `cmake` crate honours.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cmake-path.sh
source "$here/cmake-path.sh"

CMAKE_PYPI_VERSION=3.31.10
packages=(libclang-dev clang libbsd-dev uuid-dev make pkg-config)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "install-deps: apt packages already installed: ${packages[*]}"
fi

if cmake_path="$(polybridge_find_cmake)"; then
    echo "install-deps: cmake $(cmake_version "$cmake_path") at $cmake_path"
else
    echo "install-deps: installing cmake==$CMAKE_PYPI_VERSION from PyPI"
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends python3 python3-pip
    fi
    # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told otherwise;
    # pyenv's and venvs' pythons do not need the flag.
    python3 -m pip install --quiet "cmake==$CMAKE_PYPI_VERSION" \
        || PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet "cmake==$CMAKE_PYPI_VERSION"
    if command -v pyenv >/dev/null 2>&1; then
        pyenv rehash || true
    fi
    cmake_path="$(polybridge_find_cmake)" || {
        echo "install-deps: cmake >= 3.30 still not found after pip install" >&2
        exit 1
    }
    echo "install-deps: cmake $(cmake_version "$cmake_path") at $cmake_path"
fi

on_path="$(command -v cmake || true)"
if [[ -z "$on_path" ]] || ! cmake_at_least "$on_path"; then
    echo "install-deps: the cmake on PATH is older; ./cargo.sh uses $cmake_path instead"
fi
