# Sourced by install-deps.sh and cargo.sh: finds a cmake >= 3.30 for the Aeron C build.

cmake_version() {
    "$1" --version 2>/dev/null | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p' | head -n1
}

cmake_at_least() {
    local version
    version="$(cmake_version "$1")"
    [[ -n "$version" ]] && [[ "$(printf '%s\n%s\n' 3.30 "$version" | sort -V | head -n1)" == 3.30 ]]
}

# Prints the path of a cmake >= 3.30: $CMAKE, the one on PATH, or pip's (also through pyenv).
polybridge_find_cmake() {
    local candidate candidates=()
    [[ -n "${CMAKE:-}" ]] && candidates+=("$CMAKE")
    command -v cmake >/dev/null 2>&1 && candidates+=("$(command -v cmake)")
    if command -v python3 >/dev/null 2>&1; then
        candidate="$(python3 -c 'import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, "cmake"))' 2>/dev/null || true)"
        [[ -n "$candidate" ]] && candidates+=("$candidate")
    fi
    if command -v pyenv >/dev/null 2>&1; then
        candidate="$(pyenv which cmake 2>/dev/null || true)"
        [[ -n "$candidate" ]] && candidates+=("$candidate")
    fi
    candidates+=(/usr/local/bin/cmake "$HOME/.local/bin/cmake")
    for candidate in "${candidates[@]}"; do
        if [[ -x "$candidate" ]] && cmake_at_least "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
