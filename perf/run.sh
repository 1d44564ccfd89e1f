#!/usr/bin/env bash
# Runs perf's benchmark suite and renders the report into perf/results/.
#   perf/run.sh quick   ~7 minutes: short iterations, the Go real job on every 7th corpus page
#   perf/run.sh full    ~18 minutes: the iterations in the benchmarks' annotations, the whole corpus
#   perf/run.sh smoke   seconds: every benchmark starts and completes one short iteration (make test)
# Expects the worker binaries (make workers), perf/install-deps.sh and perf/build.sh (the
# Makefile's perf and perf-smoke targets do all three) and the Maven build (mvn install).
# JMH JSON and raw outputs go to perf/results/tmp/ (not committed); the table (results.md),
# plots (latency.png, throughput.png) and a compact summary (summary.json) to perf/results/.
set -euo pipefail
MODE=${1:-quick}
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${PERF_OUT:-$ROOT/perf/results}   # PERF_OUT: write the report elsewhere
TMP=$OUT/tmp
mkdir -p "$TMP"
JAR=$ROOT/perf/target/benchmarks.jar
[[ -f $JAR ]] || { echo "$JAR is missing: mvn -B -q install -DskipTests" >&2; exit 1; }
# Only this suite's benchmarks (ColdStartBenchmark is run on its own).
SUITE='AeronPingPongBenchmark|EchoRoundTripBenchmark|UdsBaselineBenchmark|PayloadSweepBenchmark|PipelinedBenchmark|RealJobBenchmark'
jmh() { java -Dpolybridge.root="$ROOT" -jar "$JAR" "$@"; }

case $MODE in
    smoke)
        jmh -f 1 -wi 0 -i 1 -r 200ms -p payloadLength=32 -p size=1000 -p goPages=smoke -p clientIdle=backoff \
            -rf json -rff "$TMP/jmh-smoke.json" "$SUITE" > "$TMP/jmh-smoke.txt" 2>&1 \
            || { tail -50 "$TMP/jmh-smoke.txt"; exit 1; }
        # Every benchmark method must have produced a score for each of its parameter sets.
        python3 - "$TMP/jmh-smoke.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
methods = {r["benchmark"].rsplit(".", 2)[-2] + "." + r["benchmark"].rsplit(".", 1)[-1] for r in results}
expected = {"AeronPingPongBenchmark.pingPong", "EchoRoundTripBenchmark.echo", "EchoRoundTripBenchmark.echoYieldWait",
            "UdsBaselineBenchmark.echo", "PayloadSweepBenchmark.roundTrip", "PipelinedBenchmark.echoBatch",
            "RealJobBenchmark.corpusPass"}
bad = [r["benchmark"] for r in results if not r["primaryMetric"]["score"] > 0]
if methods != expected or bad:
    sys.exit(f"perf smoke: {len(results)} results, missing {expected - methods}, without a score: {bad}")
print(f"perf smoke: {len(results)} benchmarks started and completed an iteration")
PY
        exit 0
        ;;
    quick)
        JMH_OPTS=(-f 1 -wi 1 -w 1s -i 2 -r 1s -p goPages=sample)
        GO_PAGES=sample; GO_PASSES=2
        ;;
    full)
        JMH_OPTS=(-p goPages=all)
        GO_PAGES=all; GO_PASSES=3
        ;;
    *) echo "usage: $0 quick|full|smoke" >&2; exit 2 ;;
esac

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== JMH ($MODE), -prof gc on every benchmark"
jmh "${JMH_OPTS[@]}" -prof gc -rf json -rff "$TMP/jmh-$MODE.json" "$SUITE" 2>&1 | tee "$TMP/jmh-$MODE.txt"
echo "== IdleCost: an idle bridge, the first call after a pause, CPU per call at 10,000 calls/s"
java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -Dpolybridge.root="$ROOT" -cp "$JAR" \
    io.polybridge.perf.IdleCost 30 "$TMP/idle-$MODE.json" 2>&1 | grep -v '^INFO\|^[A-Z][a-z][a-z] [0-9]' | tee "$TMP/idle-$MODE.txt"
echo "== Go wappalyzer.fingerprint in-process ($GO_PAGES pages)"
perf/uds-baseline/bin/inprocess-fingerprint -corpus "${POLYBRIDGE_CORPUS:-$ROOT/../shared/corpus}" \
    -pages $GO_PAGES -passes $GO_PASSES | tee "$TMP/inprocess-go.json"
echo "== Rust html.signals in-process (all pages)"
./native-rust/cargo.sh bench --locked --bench signals 2>/dev/null | tee "$TMP/inprocess-rust.txt"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

perf/.venv/bin/python perf/report.py --mode "$MODE" --jmh "$TMP/jmh-$MODE.json" \
    --go "$TMP/inprocess-go.json" --rust "$TMP/inprocess-rust.txt" --idle "$TMP/idle-$MODE.json" \
    --started "$START" --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" --out "$OUT"
