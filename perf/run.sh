#!/usr/bin/env bash
# Runs perf's benchmark suite and renders the report into perf/results/.
#   perf/run.sh quick   ~10 minutes: short iterations, the Go real job on every 7th corpus page
#   perf/run.sh full    ~22 minutes: the iterations in the benchmarks' annotations, the whole corpus
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
# Only this suite's benchmarks (ColdStartBenchmark is run on its own; PayloadSchemePrototypeBenchmark,
# issue 14's design prototype, only in smoke mode, so that it keeps working: docs/payloads.md).
SUITE='AeronPingPongBenchmark|EchoRoundTripBenchmark|UdsBaselineBenchmark|PayloadSweepBenchmark|EchoInPlaceBenchmark|ChecksumBenchmark|PipelinedBenchmark|RealJobBenchmark'
jmh() { java -Dpolybridge.root="$ROOT" -jar "$JAR" "$@"; }

case $MODE in
    smoke)
        jmh -f 1 -wi 0 -i 1 -r 200ms -p payloadLength=32 -p size=1000 -p goPages=smoke -p clientIdle=backoff \
            -p scheme=REGION,AERON_ASSEMBLED \
            -rf json -rff "$TMP/jmh-smoke.json" "$SUITE|PayloadSchemePrototypeBenchmark" > "$TMP/jmh-smoke.txt" 2>&1 \
            || { tail -50 "$TMP/jmh-smoke.txt"; exit 1; }
        # Every benchmark method must have produced a score; ChecksumBenchmark for each of its paths, except
        # through a worker that has no checksum handler yet (it answers NOT_FOUND: said, not failed).
        python3 - "$TMP/jmh-smoke.json" "$TMP/jmh-smoke.txt" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
log = open(sys.argv[2], errors="replace").read()
methods = {r["benchmark"].rsplit(".", 2)[-2] + "." + r["benchmark"].rsplit(".", 1)[-1] for r in results}
expected = {"AeronPingPongBenchmark.pingPong", "EchoRoundTripBenchmark.echo", "EchoRoundTripBenchmark.echoYieldWait",
            "UdsBaselineBenchmark.echo", "PayloadSweepBenchmark.roundTrip", "EchoInPlaceBenchmark.roundTrip",
            "ChecksumBenchmark.checksum",
            "PipelinedBenchmark.echoBatch", "RealJobBenchmark.corpusPass", "PayloadSchemePrototypeBenchmark.roundTrip"}
bad = [r["benchmark"] for r in results if not r["primaryMetric"]["score"] > 0]
checksum_paths = {r["params"]["path"] for r in results if r["benchmark"].endswith("ChecksumBenchmark.checksum")}
missing_paths = {"IN_PROCESS", "POLYBRIDGE_GO", "POLYBRIDGE_RUST"} - checksum_paths
for section in log.split("# Benchmark: ")[1:]:  # JMH's log, one section per parameter set
    for path in sorted(missing_paths - {"IN_PROCESS"}):
        if (section.startswith("io.polybridge.perf.ChecksumBenchmark.") and f"(path = {path}," in section
                and "no handler named 'checksum'" in section):
            print(f"perf smoke: ChecksumBenchmark not run through {path}: that worker has no checksum handler")
            missing_paths.discard(path)
if methods != expected or bad or missing_paths:
    sys.exit(f"perf smoke: {len(results)} results, missing {expected - methods}, without a score: {bad}, "
             f"ChecksumBenchmark paths missing: {sorted(missing_paths)}; see {sys.argv[2]}")
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
# A step that fails is said and the report is still written: its rows read "not measured" (report.py).
# JMH itself goes on past a benchmark that fails. No result of an earlier run is reused.
rm -f "$TMP/jmh-$MODE.json" "$TMP/idle-$MODE.json" "$TMP/inprocess-go.json" "$TMP/inprocess-rust.txt"
FAILED=()
echo "== JMH ($MODE), -prof gc on every benchmark"
jmh "${JMH_OPTS[@]}" -prof gc -rf json -rff "$TMP/jmh-$MODE.json" "$SUITE" 2>&1 | tee "$TMP/jmh-$MODE.txt" || FAILED+=(JMH)
echo "== IdleCost: an idle bridge, the first call after a pause, CPU per call at 10,000 calls/s"
java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -Dpolybridge.root="$ROOT" -cp "$JAR" \
    io.polybridge.perf.IdleCost 30 "$TMP/idle-$MODE.json" 2>&1 | grep -v '^INFO\|^[A-Z][a-z][a-z] [0-9]' | tee "$TMP/idle-$MODE.txt" \
    || FAILED+=(IdleCost)
echo "== Go wappalyzer.fingerprint in-process ($GO_PAGES pages)"
perf/uds-baseline/bin/inprocess-fingerprint -corpus "${POLYBRIDGE_CORPUS:-$ROOT/../shared/corpus}" \
    -pages $GO_PAGES -passes $GO_PASSES | tee "$TMP/inprocess-go.json" || FAILED+=("Go in-process fingerprint")
echo "== Rust html.signals in-process (all pages)"
./native-rust/cargo.sh bench --locked --bench signals 2>"$TMP/inprocess-rust.err" | tee "$TMP/inprocess-rust.txt" \
    || { tail -5 "$TMP/inprocess-rust.err"; FAILED+=("Rust in-process signals (see $TMP/inprocess-rust.err)"); }
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

perf/.venv/bin/python perf/report.py --mode "$MODE" --jmh "$TMP/jmh-$MODE.json" \
    --go "$TMP/inprocess-go.json" --rust "$TMP/inprocess-rust.txt" --idle "$TMP/idle-$MODE.json" \
    --started "$START" --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" --out "$OUT"
if [[ ${#FAILED[@]} -gt 0 ]]; then
    printf 'perf/run.sh: failed, their rows read "not measured": %s\n' "${FAILED[*]}" >&2
    exit 1
fi
