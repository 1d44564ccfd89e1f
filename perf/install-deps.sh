#!/usr/bin/env bash
# Installs what perf/ needs beyond the project's own build, into perf/.tools and perf/.venv
# (both ignored by git). Idempotent; no root needed.
#   protoc 3.25.5            from Maven Central (com.google.protobuf:protoc), the same version the
#                            Java side's protobuf-maven-plugin uses
#   protoc-gen-go v1.36.11   through the Go module proxy (go install)
#   matplotlib 3.9.2         from PyPI into a venv, only with --report (the report renderer)
set -euo pipefail
cd "$(dirname "$0")"

PROTOC_VERSION=3.25.5
PROTOC_GEN_GO_VERSION=v1.36.11
MATPLOTLIB_VERSION=3.9.2
TOOLS=$PWD/.tools

mkdir -p "$TOOLS"
if [[ ! -x $TOOLS/protoc ]] || ! "$TOOLS/protoc" --version | grep -q "$PROTOC_VERSION"; then
    case "$(uname -m)" in
        x86_64) arch=x86_64 ;;
        aarch64|arm64) arch=aarch_64 ;;
        *) echo "no protoc artifact for $(uname -m)" >&2; exit 1 ;;
    esac
    mvn -B -q -ntp dependency:copy \
        -Dartifact=com.google.protobuf:protoc:$PROTOC_VERSION:exe:linux-$arch \
        -DoutputDirectory="$TOOLS" -Dmdep.stripVersion=true -Dmdep.stripClassifier=true
    mv "$TOOLS/protoc.exe" "$TOOLS/protoc"
    chmod +x "$TOOLS/protoc"
fi
if [[ ! -x $TOOLS/protoc-gen-go ]] || ! "$TOOLS/protoc-gen-go" --version | grep -q "$PROTOC_GEN_GO_VERSION"; then
    GOBIN=$TOOLS go install google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION
fi

if [[ ${1:-} == --report ]]; then
    if [[ ! -x .venv/bin/python ]]; then
        python3 -m venv .venv
    fi
    if ! .venv/bin/python -c "import matplotlib, sys; sys.exit(matplotlib.__version__ != '$MATPLOTLIB_VERSION')" 2>/dev/null; then
        .venv/bin/pip install -q "matplotlib==$MATPLOTLIB_VERSION"
    fi
fi
