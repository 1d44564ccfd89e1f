#!/usr/bin/env bash
# Runs each native fuzz target briefly, as CI does (a few seconds each on 2 cores).
# Budgets are execution counts, not durations: with a duration (-fuzztime 5s) Go 1.26's fuzz
# coordinator sometimes fails at the deadline with a bare "context deadline exceeded" and no
# crasher (golang/go#75804, fixed in Go 1.27). FUZZ_SCALE=10 runs each ten times longer.
# Seeds: the f.Add seeds (golden vectors and schema/malformed). The last target is the web-scan
# example's wappalyzer.fingerprint method (its own module). A crash is written to testdata/fuzz/<target> by go test; keep it
# there as a regression case and fix the code.
set -euo pipefail
cd "$(dirname "$0")/.." # the repository root: one Go module
scale="${FUZZ_SCALE:-1}"
go test -run '^$' -fuzz '^FuzzDispatch$' -fuzztime "$((150000 * scale))x" ./native-go/worker
go test -run '^$' -fuzz '^FuzzPool$' -fuzztime "$((60000 * scale))x" ./native-go/worker
go test -run '^$' -fuzz '^FuzzOutbox$' -fuzztime "$((8000 * scale))x" ./native-go/worker
go test -run '^$' -fuzz '^FuzzTypedDecode$' -fuzztime "$((60000 * scale))x" ./native-go/worker
(cd examples/web-scan/go && go test -run '^$' -fuzz '^FuzzMethod$' -fuzztime "$((3000 * scale))x" ./fingerprint)
