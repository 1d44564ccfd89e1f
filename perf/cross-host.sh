#!/usr/bin/env bash
# Cross-host figures (issue 16): the same Java client against the Go and Rust test workers over
# IPC on one host, and over Aeron UDP to a second "host": two network namespaces joined by a veth
# pair, one standalone media driver in each (docs/hosts.md has the real two-host setup).
#   perf/cross-host.sh          both socket settings: Aeron's defaults and the tuned ones of
#                               media-driver/README.md (2 MiB socket buffers and receiver window)
# Needs root (ip netns) and the builds: make workers, mvn -pl perf -am package -DskipTests.
# Writes perf/results/cross-host.md (PERF_OUT=dir: elsewhere); logs in perf/results/tmp/cross-host/.
# PERF_CP=classpath runs CrossHostEcho from there instead of perf/target/benchmarks.jar.
# Knobs: ROUND_TRIPS (20000 serial 32 B calls), SECONDS_1M (10 s of 1 MiB echoes), WINDOW (4 in flight).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${PERF_OUT:-$ROOT/perf/results}
TMP=$OUT/tmp/cross-host
JAR=${PERF_CP:-$ROOT/perf/target/benchmarks.jar}
DRIVER_JAR=$(ls "$ROOT"/media-driver/target/polybridge-media-driver-*-all.jar 2>/dev/null | head -1 || true)
GO=$ROOT/native-go/bin/polybridge-worker-go
RUST=$ROOT/native-rust/target/release/polybridge-worker-rust
[[ $(id -u) == 0 ]] || { echo "perf/cross-host.sh needs root for ip netns" >&2; exit 1; }
for f in "${JAR%%:*}" "$DRIVER_JAR" "$GO" "$RUST"; do
    [[ -e $f ]] || { echo "missing $f: make workers; mvn -B -q -pl perf,media-driver -am package -DskipTests" >&2; exit 1; }
done
mkdir -p "$TMP"

ID=pbp$$
NS_A=${ID}a NS_B=${ID}b VETH_A=${ID}va VETH_B=${ID}vb
ADDR_A=10.250.0.1 ADDR_B=10.250.0.2
OPENS=(--add-opens java.base/jdk.internal.misc=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED)
PIDS=()
DIRS=()

stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    for dir in "${DIRS[@]}"; do rm -rf "$dir"; done
    DIRS=()
}
cleanup() {
    stop_all
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "$VETH_A" type veth peer name "$VETH_B"
ip link set "$VETH_A" netns "$NS_A"
ip link set "$VETH_B" netns "$NS_B"
ip -n "$NS_A" addr add $ADDR_A/24 dev "$VETH_A"
ip -n "$NS_B" addr add $ADDR_B/24 dev "$VETH_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set "$VETH_A" up
ip -n "$NS_B" link set "$VETH_B" up

# start_driver NS DIR LOG PROPS...: polybridge's standalone driver (SHARED, backoff idle) in NS.
start_driver() {
    local ns=$1 dir=$2 log=$3; shift 3
    DIRS+=("$dir")
    ip netns exec "$ns" java "${OPENS[@]}" -Xmx512m -Daeron.dir="$dir" "$@" -jar "$DRIVER_JAR" > "$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 300); do [[ -e $dir/cnc.dat ]] && grep -q "driver running" "$log" && return; sleep 0.1; done
    echo "driver in $ns did not start:" >&2; cat "$log" >&2; exit 1
}
# start_worker NS BINARY DIR ID STREAM [FLAGS...]
start_worker() {
    local ns=$1 bin=$2 dir=$3 id=$4 stream=$5; shift 5
    ip netns exec "$ns" "$bin" --aeron-dir "$dir" --worker-id "$id" --request-stream "$stream" "$@" \
        > "$TMP/$id.log" 2>&1 &
    PIDS+=($!)
}
# measure LABEL ARGS...: one client JVM in namespace A, one result line.
measure() {
    ip netns exec "$NS_A" java "${OPENS[@]}" -Xmx1g -Dperf.roundTrips="${ROUND_TRIPS:-20000}" \
        -Dperf.seconds="${SECONDS_1M:-10}" -Dperf.window="${WINDOW:-4}" \
        -cp "$JAR" io.polybridge.perf.CrossHostEcho "$@" 2> "$TMP/client-$1.log" | tail -1 | tee -a "$TMP/lines.txt"
}

TUNED=(-Daeron.socket.so_rcvbuf=2m -Daeron.socket.so_sndbuf=2m -Daeron.rcv.initial.window.length=2m)
: > "$TMP/lines.txt"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for settings in default tuned; do
    props=()
    [[ $settings == tuned ]] && props=("${TUNED[@]}")
    DIR_A=/dev/shm/polybridge-perf-$$-$settings-a DIR_B=/dev/shm/polybridge-perf-$$-$settings-b
    start_driver "$NS_A" "$DIR_A" "$TMP/driver-a-$settings.log" "${props[@]}"
    start_driver "$NS_B" "$DIR_B" "$TMP/driver-b-$settings.log" "${props[@]}"
    udp=(--request-channel "aeron:udp?endpoint=$ADDR_B:40100"
         --announce-channel "aeron:udp?control=$ADDR_B:40102|control-mode=dynamic|term-length=64k")
    if [[ $settings == default ]]; then
        # IPC: worker and client on host A's driver. Socket settings do not apply to IPC.
        start_worker "$NS_A" "$GO" "$DIR_A" go-ipc 100
        start_worker "$NS_A" "$RUST" "$DIR_A" rust-ipc 200
        measure ipc-go "$DIR_A" go-ipc
        measure ipc-rust "$DIR_A" rust-ipc
    fi
    start_worker "$NS_B" "$GO" "$DIR_B" "go-udp-$settings" 110 "${udp[@]}"
    start_worker "$NS_B" "$RUST" "$DIR_B" "rust-udp-$settings" 210 "${udp[@]}"
    announce="aeron:udp?control=$ADDR_B:40102"
    measure "udp-$settings-go" "$DIR_A" "go-udp-$settings" "aeron:udp?endpoint=$ADDR_A:41000" "$announce"
    measure "udp-$settings-rust" "$DIR_A" "rust-udp-$settings" "aeron:udp?endpoint=$ADDR_A:41001" "$announce"
    stop_all
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "# Cross-host round trips: IPC vs Aeron UDP over a veth pair"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) by \`perf/cross-host.sh\` on $(nproc) cores, kernel $(uname -r)," \
        "load average $LOAD_BEFORE before, $LOAD_AFTER after (other jobs were running when it is well above 0)."
    echo "One Java client (\`CrossHostEcho\`, default BackoffIdleStrategy) in namespace A on its own driver;"
    echo "workers in A (IPC) or in namespace B (UDP, 10.250.0.1 ↔ 10.250.0.2 over a veth, MTU 1500)."
    echo "Drivers: polybridge's standalone driver (SHARED threading, backoff idle) in each namespace."
    echo "\`tuned\` = \`-Daeron.socket.so_rcvbuf=2m -Daeron.socket.so_sndbuf=2m -Daeron.rcv.initial.window.length=2m\`"
    echo "on both drivers; \`default\` = Aeron's (128 KiB receiver window and SO_RCVBUF)."
    echo "Latency: ${ROUND_TRIPS:-20000} serial 32 B echoes after 2,000 warm-up calls."
    echo "Throughput: 1 MiB echoes, ${WINDOW:-4} in flight, for ${SECONDS_1M:-10} s; MiB/s each way."
    echo
    echo "| transport | worker | p50 µs | p99 µs | max µs | 1 MiB echo MiB/s |"
    echo "| --- | --- | ---: | ---: | ---: | ---: |"
    while read -r label p50 p99 max mib; do
        transport=${label%-*}; worker=${label##*-}
        transport=${transport/ipc/IPC (one host)}; transport=${transport/udp-default/UDP, Aeron defaults}
        transport=${transport/udp-tuned/UDP, tuned}
        echo "| $transport | $worker | $p50 | $p99 | $max | $mib |"
    done < "$TMP/lines.txt"
} > "$OUT/cross-host.md"
cat "$OUT/cross-host.md"
