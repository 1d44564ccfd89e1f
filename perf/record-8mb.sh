#!/usr/bin/env bash
# Issue 14's profile of the 8 MB runs: `perf record -g` of JMH and everything it starts (the fork with
# the client and the embedded driver, the Go or Rust worker: perf follows child processes; other
# processes of the machine are not recorded) while one benchmark runs, then the top entries.
#   perf/record-8mb.sh                      echo and checksum, 8 MB, Go and Rust (4 recordings, ~2 minutes)
#   perf/record-8mb.sh echo-rust            one of: echo-go echo-rust checksum-go checksum-rust
#   SECONDS_MEASURED=20 SIZE=1000000 perf/record-8mb.sh echo-go     longer, or another size
# Needs: the worker binaries (make workers), the benchmarks jar (the Makefile's perf targets build it),
# Linux perf (root, or kernel.perf_event_paranoid <= 1 for kernel frames).
# The JVM runs with -XX:+PreserveFramePointer (whole Java call chains) and writes /tmp/perf-<pid>.map at
# exit (-XX:+DumpPerfMapAtExit), which perf report reads to name JIT-compiled frames. Go keeps frame
# pointers; the Rust worker is built without them, so its call chains are short (its own samples are
# still named). The recording spans the JVM's start and warm-up too (~2 s of ~12 s).
# Output: perf/results/tmp/profile-8mb/<case>.data and <case>.txt (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JAR=$ROOT/perf/target/benchmarks.jar
OUT=${PERF_OUT:-$ROOT/perf/results}/tmp/profile-8mb
mkdir -p "$OUT"
[[ -f $JAR ]] || { echo "$JAR is missing: make perf-smoke (or mvn -q -pl perf -am package -DskipTests)" >&2; exit 1; }
command -v perf >/dev/null || { echo "Linux perf is missing (apt-get install linux-perf)" >&2; exit 1; }
SECONDS_MEASURED=${SECONDS_MEASURED:-8}
SIZE=${SIZE:-8000000}   # bytes; SIZE=1000000 profiles the 1 MB runs the same way
JVM_FLAGS="-XX:+PreserveFramePointer -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit"

declare -A CASES=(
    [echo-go]="PayloadSweepBenchmark.roundTrip -p transport=POLYBRIDGE_GO -p size=$SIZE"
    [echo-rust]="PayloadSweepBenchmark.roundTrip -p transport=POLYBRIDGE_RUST -p size=$SIZE"
    [checksum-go]="ChecksumBenchmark.checksum -p path=POLYBRIDGE_GO -p size=$SIZE"
    [checksum-rust]="ChecksumBenchmark.checksum -p path=POLYBRIDGE_RUST -p size=$SIZE"
)
if [[ $# -gt 0 ]]; then NAMES=("$@"); else NAMES=(echo-go echo-rust checksum-go checksum-rust); fi

for name in "${NAMES[@]}"; do
    [[ -n ${CASES[$name]:-} ]] || { echo "unknown case $name; cases: ${!CASES[*]}" >&2; exit 2; }
    echo "== $name: ${CASES[$name]}"
    # shellcheck disable=SC2086
    # -jvmArgsPrepend: -jvmArgsAppend would replace the benchmarks' own (--add-opens ...).
    perf record -g -F 999 -o "$OUT/$name.data" -- \
        java -Dpolybridge.root="$ROOT" -jar "$JAR" ${CASES[$name]} \
            -f 1 -wi 1 -w 2s -i 1 -r "${SECONDS_MEASURED}s" -jvmArgsPrepend "$JVM_FLAGS" \
        > "$OUT/$name.jmh.txt" 2>&1 || { tail -30 "$OUT/$name.jmh.txt"; exit 1; }
    # JMH exits 0 when a benchmark fails; its table then has no row.
    grep -E '^[A-Za-z]+Benchmark\.[a-zA-Z]+ ' "$OUT/$name.jmh.txt" \
        || { grep -m3 -E 'Exception|Error' "$OUT/$name.jmh.txt"; echo "$name failed: $OUT/$name.jmh.txt" >&2; exit 1; }
    {
        echo "## $name: samples by process/thread (comm)"
        perf report -i "$OUT/$name.data" --stdio --no-children -g none --sort comm --percent-limit 1 2>/dev/null \
            | grep -v '^#' | grep -v '^$'
        echo "## $name: top symbols (comm, shared object, symbol)"
        perf report -i "$OUT/$name.data" --stdio --no-children -g none --sort comm,dso,sym --percent-limit 0.7 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -40
    } > "$OUT/$name.txt"
    cat "$OUT/$name.txt"
done
echo "Recordings and reports in $OUT; call chains: perf report -i $OUT/<case>.data --no-children --sort comm,sym"
