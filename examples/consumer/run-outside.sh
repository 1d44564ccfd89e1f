#!/usr/bin/env bash
# CI for examples/consumer (issue 12): copies it to a temporary directory outside the repository,
# builds it there against the polybridge artifacts in the local Maven repository (run
# `mvn install -DskipTests` at the repository root first), runs `java -jar consumer.jar` from yet
# another directory on a few corpus pages (twice: first extraction of the workers, then from the
# cache), and checks the JSON lines, the exit status, and that no worker process and no /dev/shm
# entry of its own is left behind.
#   examples/consumer/run-outside.sh [PAGES, default 3]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
corpus="${CORPUS:-$repo/../shared/corpus/html}"
pages="${1:-3}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/polybridge-consumer.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "consumer: FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/project" "$tmp/elsewhere"
cp -r "$here/pom.xml" "$here/src" "$tmp/project/"
echo "consumer: building in $tmp/project" >&2
(cd "$tmp/project" && mvn -B -ntp -q package) || fail "mvn package outside the repository"
jar="$tmp/project/target/consumer.jar"
[[ -f "$jar" ]] || fail "no target/consumer.jar"

mapfile -t files < <(find "$corpus" -maxdepth 1 -name '*.html' | sort | head -n "$pages")
((${#files[@]} == pages)) || fail "fewer than $pages pages in $corpus"

shm_before="$(ls /dev/shm | sort)"
for run in first-extraction cached; do
    start=$(date +%s%N)
    # A fresh cache (first run extracts, second reuses), no JVM flags, no system properties, and a
    # working directory that has nothing of polybridge in it.
    (cd "$tmp/elsewhere" && XDG_CACHE_HOME="$tmp/cache" java -jar "$jar" "${files[@]}") \
        > "$tmp/out.jsonl" 2> "$tmp/err.txt" || { cat "$tmp/err.txt" >&2; fail "$run: exit status $?"; }
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    python3 - "$tmp/out.jsonl" "$pages" <<'PY' || { cat "$tmp/err.txt" >&2; fail "$run: unexpected output"; }
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == int(sys.argv[2]), f"{len(lines)} lines, expected {sys.argv[2]}"
for line in lines:
    page = json.loads(line)
    assert "error" not in page, page
    for key in ("file", "url", "bytes", "fingerprint", "signals", "micros"):
        assert key in page, (key, page)
    assert isinstance(page["fingerprint"]["technologies"], list), page
    for key in ("title", "links", "scripts", "external_hosts", "digest"):
        assert key in page["signals"], (key, page)
PY
    echo "consumer: $run: ${#files[@]} pages, exit 0, ${ms} ms (JVM start to exit)" >&2
done
[[ -x "$(find "$tmp/cache/polybridge" -name web-scan-worker-go -type f)" ]] || fail "no cached Go worker"
[[ -x "$(find "$tmp/cache/polybridge" -name web-scan-worker-rust -type f)" ]] || fail "no cached Rust worker"

# Left behind? Workers were started from $tmp/cache, so any survivor has $tmp in its command line.
sleep 1
if pgrep -f "$tmp/cache" >/dev/null; then
    pgrep -af "$tmp/cache" >&2
    fail "worker processes outlived the consumer"
fi
leftover="$(comm -13 <(echo "$shm_before") <(ls /dev/shm | sort))"
if [[ -n "$leftover" ]]; then
    # Only the consumer's own embedded driver counts: on a shared machine other tests create
    # entries meanwhile, and theirs are still open (mapped) by a live process; ours would not be.
    ours=""
    for entry in $leftover; do
        if ! { command -v fuser >/dev/null && fuser -s "/dev/shm/$entry" "/dev/shm/$entry"/* "/dev/shm/$entry"/*/* 2>/dev/null; }; then
            ours+="$entry "
        fi
    done
    [[ -z "$ours" ]] || fail "left in /dev/shm: $ours"
fi
echo "consumer: OK (no worker process, no /dev/shm entry left)" >&2
