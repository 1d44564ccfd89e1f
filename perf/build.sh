#!/usr/bin/env bash
# Builds perf's Go side: generates the baseline's protobuf code and builds
# uds-baseline/bin/uds-baseline-server and uds-baseline/bin/inprocess-fingerprint.
# Run ./install-deps.sh first (the Makefile's perf targets do).
set -euo pipefail
cd "$(dirname "$0")"
TOOLS=$PWD/.tools
mkdir -p uds-baseline/baselinepb
PATH=$TOOLS:$PATH protoc --proto_path=proto --go_out=uds-baseline/baselinepb --go_opt=paths=source_relative proto/baseline.proto
cd uds-baseline
go vet ./...
go build -o bin/uds-baseline-server ./cmd/uds-baseline-server
go build -o bin/inprocess-fingerprint ./cmd/inprocess-fingerprint
