#!/usr/bin/env python3
"""Renders one run of perf/run.sh into perf/results/: results.md (tables and the issue's targets,
met or missed), latency.png, throughput.png and summary.json (the numbers without JMH's raw
samples). Run by perf/run.sh with perf/.venv's Python (matplotlib pinned in install-deps.sh)."""
import argparse
import json
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PCTS = ["50.0", "90.0", "99.0", "99.9"]


def method(r):
    parts = r["benchmark"].split(".")
    return parts[-2] + "." + parts[-1]


def load(path):
    out = []
    if not Path(path).exists():  # JMH did not get as far as writing its results
        return out
    for r in json.load(open(path)):
        pm = r["primaryMetric"]
        sec = r.get("secondaryMetrics", {})
        out.append({
            "method": method(r), "params": r.get("params", {}), "mode": r["mode"],
            "score": pm["score"], "error": pm.get("scoreError"), "unit": pm["scoreUnit"],
            "pcts": {k: pm["scorePercentiles"][k] for k in PCTS} if r["mode"] == "sample" else None,
            "alloc_per_op": sec.get("gc.alloc.rate.norm", {}).get("score"),
        })
    return out


def find(results, m, **params):
    for r in results:
        if r["method"] == m and all(r["params"].get(k) == str(v) for k, v in params.items()):
            return r
    return None


def verdict(ok):
    return "**met**" if ok else "**missed**"


NOT_MEASURED = "not measured"


def ratio(a, b):
    """a / b, or None when either side was not measured (a benchmark that failed or was not run)."""
    if a is None or b is None or a != a or b != b or b == 0:
        return None
    return a / b


def num(x, fmt, unit=""):
    """A table cell: the number (and its unit), or "–" when it was not measured."""
    return "–" if x is None or x != x else format(x, fmt) + unit


def read_go_inprocess(path):
    """inprocess-fingerprint's last JSON line, or None when it did not run or printed none."""
    try:
        return json.loads(Path(path).read_text().strip().splitlines()[-1])
    except (OSError, IndexError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    for a in ["--mode", "--jmh", "--go", "--rust", "--started", "--load-before", "--load-after", "--out"]:
        ap.add_argument(a, required=True)
    ap.add_argument("--idle", help="IdleCost's JSON (idle CPU, first call after a pause, CPU per call at 10,000/s)")
    args = ap.parse_args()
    out = Path(args.out)
    res = load(args.jmh)
    go_inproc = read_go_inprocess(args.go)
    rust_text = Path(args.rust).read_text() if Path(args.rust).exists() else ""
    m = re.search(r"([\d.]+) ms per pass", rust_text)
    rust_inproc_ms = float(m.group(1)) if m else None
    cores = os.cpu_count()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    md = []
    md.append(f"# perf results ({args.mode} mode)\n")
    md.append(f"{args.started}, {cores} cores ({cpu}), load average {args.load_before} before, "
              f"{args.load_after} after (1/5/15 min). One JMH fork per benchmark, "
              f"{'1 × 1 s warm-up, 2 × 1 s measurement' if args.mode == 'quick' else 'annotation defaults'}; "
              "`-prof gc` on every benchmark. Compare ratios within this run, not absolute numbers across runs.\n")

    # 1. Latency
    transports = [("Aeron Java↔Java floor", "AeronPingPongBenchmark.pingPong", {}),
                  ("polybridge Java→Go", "EchoRoundTripBenchmark.echo", {"language": "GO", "clientIdle": "backoff"}),
                  ("polybridge Java→Rust", "EchoRoundTripBenchmark.echo", {"language": "RUST", "clientIdle": "backoff"}),
                  ("UDS+protobuf Java→Go", "UdsBaselineBenchmark.echo", {})]
    # The same calls waited for by Thread.yield on isDone() instead of join(): join() polls for its
    # own response (the client's invoker), a yield-waiter leaves it to the agent thread. Shown, not
    # judged. Likewise the client agent's idle strategy: the default (parks up to 1 ms, sleeps when
    # idle) or yield.
    yield_rows = []
    for lang, label in (("GO", "Go"), ("RUST", "Rust")):
        yield_rows += [(f"polybridge Java→{label}, yield-wait", "EchoRoundTripBenchmark.echoYieldWait",
                        {"language": lang, "clientIdle": "backoff"}),
                       (f"polybridge Java→{label}, agent yields", "EchoRoundTripBenchmark.echo",
                        {"language": lang, "clientIdle": "yield"}),
                       (f"polybridge Java→{label}, agent yields, yield-wait", "EchoRoundTripBenchmark.echoYieldWait",
                        {"language": lang, "clientIdle": "yield"})]
    lat = {}
    md.append("## Small-call latency (µs, one call at a time, SampleTime)\n")
    md.append("| transport | payload | p50 | p90 | p99 | p99.9 | p50 / floor | baseline / this, p50 | baseline / this, p99 |")
    md.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in (32, 1024):
        floor = find(res, transports[0][1], payloadLength=size)
        base = find(res, transports[3][1], payloadLength=size)
        for name, meth, p in transports + yield_rows:
            r = find(res, meth, payloadLength=size, **p)
            if not r:
                continue
            lat[(name, size)] = r["pcts"]
            pc = r["pcts"]
            ratio_floor = ratio(pc["50.0"], floor["pcts"]["50.0"]) if floor else None
            b50 = ratio(base["pcts"]["50.0"], pc["50.0"]) if base else None
            b99 = ratio(base["pcts"]["99.0"], pc["99.0"]) if base else None
            md.append(f"| {name} | {size} B | {pc['50.0']:.1f} | {pc['90.0']:.1f} | {pc['99.0']:.1f} | {pc['99.9']:.1f} "
                      f"| {num(ratio_floor, '.2f', '×')} | {num(b50, '.1f', '×')} | {num(b99, '.1f', '×')} |")
    md.append("")

    # 2. Payload sweep (echo) and checksum
    sizes = sorted({int(r["params"]["size"]) for r in res if r["method"] == "PayloadSweepBenchmark.roundTrip"})
    paths = ["POLYBRIDGE_GO", "POLYBRIDGE_RUST", "UDS_PROTOBUF", "MEMCPY"]
    sweep = {p: {} for p in paths}  # MB/s of payload
    sweep_us = {p: {} for p in paths}  # mean µs per round trip
    for r in res:
        if r["method"] == "PayloadSweepBenchmark.roundTrip" and r["params"]["transport"] in sweep:
            size = int(r["params"]["size"])
            sweep[r["params"]["transport"]][size] = r["score"] * size / 1e6
            sweep_us[r["params"]["transport"]][size] = 1e6 / r["score"]

    def sw(t, s):
        return sweep[t].get(s)
    md.append("## Payload sweep (MB/s of payload, one echo at a time; memcpy: one System.arraycopy)\n")
    md.append("Default settings (issue 14): the driver's default 16 MiB IPC term and the client's defaults, so payloads "
              "of 64 KiB or more travel in payload regions; sizes are decimal (64 MB = 64,000,000 B). "
              "\"–\": not measured (the benchmark failed or was not run; see perf/results/tmp/).\n")
    md.append("| size | polybridge Go | polybridge Rust | UDS+protobuf | memcpy | Go / baseline | Rust / baseline | Rust / memcpy |")
    md.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in sizes:
        g, ru, u, mc = (sw(p, s) for p in paths)
        md.append(f"| {s:,} B | {num(g, ',.0f')} | {num(ru, ',.0f')} | {num(u, ',.0f')} | {num(mc, ',.0f')} "
                  f"| {num(ratio(g, u), '.2f', '×')} | {num(ratio(ru, u), '.2f', '×')} | {num(ratio(100 * ru if ru else None, mc), '.1f', ' %')} |")
    md.append("")
    md.append("Mean time per round trip (µs; the same runs):\n")
    md.append("| size | polybridge Go | polybridge Rust | UDS+protobuf | memcpy |")
    md.append("| ---: | ---: | ---: | ---: | ---: |")
    for s in sizes:
        md.append(f"| {s:,} B | " + " | ".join(num(sweep_us[p].get(s), ',.1f') for p in paths) + " |")
    md.append("")

    chk_paths = ["IN_PROCESS", "POLYBRIDGE_GO", "POLYBRIDGE_RUST"]
    chk = {p: {} for p in chk_paths}  # µs per call
    for r in res:
        if r["method"] == "ChecksumBenchmark.checksum" and r["params"]["path"] in chk:
            chk[r["params"]["path"]][int(r["params"]["size"])] = r["score"]
    chk_sizes = sorted({s for p in chk_paths for s in chk[p]})
    if chk_sizes:
        md.append("## Checksum (µs per call, one at a time: CRC32C of the payload, 8-byte answer)\n")
        md.append("In-process: copy the payload into a direct ByteBuffer + java.util.zip.CRC32C over it (same run). "
                  "polybridge: `checksum` on the Go / Rust test worker, default settings.\n")
        md.append("| size | in-process | polybridge Go | polybridge Rust | Go: in-process / Go | Rust: in-process / Rust |")
        md.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for s in chk_sizes:
            i, g, ru = (chk[p].get(s) for p in chk_paths)
            gr, rr = ratio(i, g), ratio(i, ru)
            md.append(f"| {s:,} B | {num(i, ',.0f')} | {num(g, ',.0f')} | {num(ru, ',.0f')} "
                      f"| {num(100 * gr if gr else None, '.1f', ' %')} | {num(100 * rr if rr else None, '.1f', ' %')} |")
        md.append("")

    # 3. Pipelined
    pipe = {r["params"]["transport"]: r["score"] for r in res if r["method"] == "PipelinedBenchmark.echoBatch"}
    md.append("## Pipelined echo (32 B, one caller thread, batches of 10,000 in flight)\n")
    md.append("| transport | requests/s | / baseline |")
    md.append("| --- | ---: | ---: |")
    for t in ["POLYBRIDGE_GO", "POLYBRIDGE_RUST", "UDS_PROTOBUF"]:
        if t in pipe:
            md.append(f"| {t} | {pipe[t]:,.0f} | {num(ratio(pipe[t], pipe.get('UDS_PROTOBUF')), '.2f', '×')} |")
    md.append("")

    # 4. Real job
    rj = {r["params"]["job"]: r for r in res if r["method"] == "RealJobBenchmark.corpusPass"}
    md.append("## The real job (one page at a time, ms per pass over the pages)\n")
    md.append("| job | pages | through polybridge | in-process | overhead |")
    md.append("| --- | --- | ---: | ---: | ---: |")
    job_over = {}
    if "GO_FINGERPRINT" in rj and go_inproc:
        b, i = rj["GO_FINGERPRINT"]["score"], go_inproc["mean_ms_per_pass"]
        job_over["go"] = 100 * (b - i) / i
        md.append(f"| Go wappalyzer.fingerprint | {go_inproc['pages']} ({go_inproc['page_count']}, "
                  f"{go_inproc['bytes'] / 1e6:.1f} MB) | {b:,.0f} | {i:,.0f} | {job_over['go']:+.1f} % |")
    if "RUST_SIGNALS" in rj and rust_inproc_ms:
        b = rj["RUST_SIGNALS"]["score"]
        job_over["rust"] = 100 * (b - rust_inproc_ms) / rust_inproc_ms
        md.append(f"| Rust html.signals | all (98, 17.9 MB) | {b:,.1f} | {rust_inproc_ms:,.1f} | {job_over['rust']:+.1f} % |")
    md.append("")

    # 5. Allocation
    md.append("## Allocation (JMH gc profiler, gc.alloc.rate.norm: bytes per operation, all JVM threads)\n")
    md.append("| benchmark | params | B/op |")
    md.append("| --- | --- | ---: |")
    for r in res:
        if r["method"] in ("EchoRoundTripBenchmark.echo", "EchoRoundTripBenchmark.echoYieldWait",
                           "UdsBaselineBenchmark.echo", "PipelinedBenchmark.echoBatch") and r["alloc_per_op"] is not None:
            p = ", ".join(f"{k}={v}" for k, v in r["params"].items())
            md.append(f"| {r['method']} | {p} | {r['alloc_per_op']:.0f} |")
    md.append("")

    # 6. Idle and light load (IdleCost)
    idle = json.loads(Path(args.idle).read_text()) if args.idle and Path(args.idle).exists() else None
    if idle:
        workers = [k for k in idle["idle_percent"] if k not in ("jvm", "total")]
        md.append("## An idle bridge, the first call after a pause, CPU per call at 10,000 calls/s (`IdleCost`)\n")
        md.append(f"A launched bridge (embedded driver, client, one Go and one Rust test worker) left idle for "
                  f"{idle['idle_seconds']:.0f} s: CPU of each process from /proc (the JVM holds the driver and the "
                  "client). Then 100 echoes of 32 B spaced 100 ms apart, and 5 s of 10,000 echoes/s, one worker at a "
                  "time, with the CPU of all three processes per call.\n")
        md.append("| | JVM | " + " | ".join(workers) + " | total |")
        md.append("| --- | ---: | " + " | ".join("---:" for _ in workers) + " | ---: |")
        ip = idle["idle_percent"]
        md.append(f"| idle CPU, % of a core | {ip['jvm']:.2f} | " + " | ".join(f"{ip[w]:.2f}" for w in workers)
                  + f" | {ip['total']:.2f} |")
        md.append("")
        md.append("| worker | echo after 100 ms idle, p50 µs | p99 µs | CPU per call at 10,000/s, µs (all processes) |")
        md.append("| --- | ---: | ---: | ---: |")
        for w in workers:
            a = idle["after_idle_us"][w]
            md.append(f"| {w} | {a['p50']:,} | {a['p99']:,} | {idle['steady_cpu_us_per_call'][w]:.1f} |")
        md.append("")

    # Targets: a row whose inputs were not measured says so instead of a verdict.
    def p(name, size, pct):
        return lat.get((name, size), {}).get(pct)

    def row(name, value, text, ok):
        if value is None:
            md.append(f"| {name} | {NOT_MEASURED} | {NOT_MEASURED} |")
        else:
            md.append(f"| {name} | {text} | {verdict(ok)} |")
    md.append("## Targets\n")
    md.append("| target | measured | verdict |")
    md.append("| --- | --- | --- |")
    floor_name, base_name = "Aeron Java↔Java floor", "UDS+protobuf Java→Go"
    for lang in ("Go", "Rust"):
        name = f"polybridge Java→{lang}"
        for size in (32, 1024):
            r = ratio(p(name, size, "50.0"), p(floor_name, size, "50.0"))
            row(f"{lang} {size} B p50 ≤ 2× Aeron floor", r, f"{r:.2f}×" if r is not None else "", r is not None and r <= 2)
            b50 = ratio(p(base_name, size, "50.0"), p(name, size, "50.0"))
            b99 = ratio(p(base_name, size, "99.0"), p(name, size, "99.0"))
            both = None if b50 is None or b99 is None else (b50, b99)
            text = f"p50 {b50:.1f}×, p99 {b99:.1f}×" if both else ""
            row(f"{lang} {size} B ≥ 10× lower than baseline at p50 and p99", both, text,
                both is not None and b50 >= 10 and b99 >= 10)
            row(f"{lang} {size} B ≥ 10× lower than baseline at p50, ≥ 3× at p99", both, text,
                both is not None and b50 >= 10 and b99 >= 3)
            alt = f"{name}, agent yields"
            r = ratio(p(alt, size, "50.0"), p(floor_name, size, "50.0"))
            b50 = ratio(p(base_name, size, "50.0"), p(alt, size, "50.0"))
            b99 = ratio(p(base_name, size, "99.0"), p(alt, size, "99.0"))
            all3 = None if r is None or b50 is None or b99 is None else (r, b50, b99)
            if all3:
                md.append(f"| (same, client agent idle = yield) | p50 {r:.2f}× floor; baseline p50 {b50:.1f}×, "
                          f"p99 {b99:.1f}× | {verdict(r <= 2)} / {verdict(b50 >= 10 and b99 >= 10)} |")
            else:
                md.append(f"| (same, client agent idle = yield) | {NOT_MEASURED} | {NOT_MEASURED} |")
    mb = 1_000_000
    for t, lang in (("POLYBRIDGE_GO", "Go"), ("POLYBRIDGE_RUST", "Rust")):
        r = ratio(sw(t, mb), sw("UDS_PROTOBUF", mb))
        row(f"1 MB {lang} ≥ 3× baseline throughput", r, f"{r:.2f}×" if r is not None else "", r is not None and r >= 3)
        r = ratio(sw(t, mb), sw("MEMCPY", mb))
        row(f"1 MB {lang} ≥ 50 % of memcpy", r, f"{100 * r:.1f} %" if r is not None else "", r is not None and r >= 0.5)
    base_pipe = pipe.get("UDS_PROTOBUF")
    rr = pipe.get("POLYBRIDGE_RUST")
    row("pipelined Rust ≥ 1,000,000 req/s", rr, f"{rr:,.0f}" if rr else "", rr is not None and rr >= 1e6)
    for t, lang in (("POLYBRIDGE_GO", "Go"), ("POLYBRIDGE_RUST", "Rust")):
        r = ratio(pipe.get(t), base_pipe)
        row(f"pipelined {lang} ≥ 20× baseline", r, f"{r:.2f}×" if r is not None else "", r is not None and r >= 20)
    for t, lang, goal in (("POLYBRIDGE_RUST", "Rust", 2e6), ("POLYBRIDGE_GO", "Go", 1.5e6)):
        rr = pipe.get(t)
        r = ratio(rr, base_pipe)
        row(f"pipelined {lang} ≥ {goal:,.0f} req/s and ≥ 5× baseline", r, f"{rr:,.0f} ({r:.2f}×)" if r is not None else "",
            r is not None and rr >= goal and r >= 5)
    for k, lang in (("go", "Go fingerprint"), ("rust", "Rust signals")):
        o = job_over.get(k)
        row(f"real job {lang}: overhead ≤ 5 %", o, f"{o:+.1f} %" if o is not None else "", o is not None and o <= 5)
    for size in (32, 1024):
        r = find(res, "EchoRoundTripBenchmark.echoYieldWait", language="RUST", payloadLength=size, clientIdle="backoff")
        a = r["alloc_per_op"] if r else None
        # CompletableFuture subclass (~56 B with its fields) + the response byte[] (16 B header + payload, 8-aligned)
        allowed = 56 + 16 + (size + 7) // 8 * 8
        row(f"allocation per call ≤ future (+ response bytes), Rust {size} B", a,
            f"{a:.0f} B/op (future + response ≈ {allowed} B)" if a is not None else "", a is not None and a <= allowed + 16)
    if idle:
        md.append(f"| idle CPU ≤ 1 % of a core | {idle['idle_percent']['total']:.2f} % | "
                  f"{verdict(idle['idle_percent']['total'] <= 1)} |")
    # Issue 14 (payload regions): names as the issue gives them, the language in front.
    for size, label in ((1_000_000, "1 MB"), (8_000_000, "8 MB")):
        for t, lang in (("POLYBRIDGE_GO", "Go"), ("POLYBRIDGE_RUST", "Rust")):
            i, b = chk["IN_PROCESS"].get(size), chk[t].get(size)
            r = ratio(i, b)
            row(f"{lang} checksum {label} ≥ 50 % of in-process", r,
                f"{100 * r:.1f} % (in-process {i:,.0f} µs, {lang} {b:,.0f} µs per call)" if r is not None else "",
                r is not None and r >= 0.5)
    for size, label in ((1_000_000, "1 MB"), (8_000_000, "8 MB")):
        for t, lang in (("POLYBRIDGE_GO", "Go"), ("POLYBRIDGE_RUST", "Rust")):
            r = ratio(sw(t, size), sw("UDS_PROTOBUF", size))
            row(f"{lang} echo {label} ≥ 8× baseline", r,
                f"{r:.2f}× ({sw(t, size):,.0f} against {sw('UDS_PROTOBUF', size):,.0f} MB/s)" if r is not None else "",
                r is not None and r >= 8)
    # The same echo through callView (EchoInPlaceBenchmark: the response read once into a reused array).
    inplace = {}
    for r in res:
        if r["method"] == "EchoInPlaceBenchmark.roundTrip":
            size = int(r["params"]["size"])
            inplace[(r["params"]["transport"], size)] = r["score"] * size / 1e6
    for size, label in ((1_000_000, "1 MB"), (8_000_000, "8 MB")):
        for t, lang in (("POLYBRIDGE_GO", "Go"), ("POLYBRIDGE_RUST", "Rust")):
            v = inplace.get((t, size))
            r = ratio(v, sw("UDS_PROTOBUF", size))
            row(f"{lang} echo {label} in place (callView) ≥ 8× baseline", r,
                f"{r:.2f}× ({v:,.0f} against {sw('UDS_PROTOBUF', size):,.0f} MB/s)" if r is not None else "",
                r is not None and r >= 8)
    # Go within 1.5× of Rust: Rust's echo throughput / Go's at 1 MB and 8 MB, each ≤ 1.5. Met only when both
    # were measured; a size measured and over 1.5 is missed whatever the other did.
    parts, oks = [], []
    for size, label in ((1_000_000, "1 MB"), (8_000_000, "8 MB")):
        r = ratio(sw("POLYBRIDGE_RUST", size), sw("POLYBRIDGE_GO", size))
        parts.append(f"{label}: Rust / Go {r:.2f}×" if r is not None else f"{label}: {NOT_MEASURED}")
        if r is not None:
            oks.append(r <= 1.5)
    if len(oks) == 2 or not all(oks):
        row("echo Go within 1.5× of Rust", True, ", ".join(parts), all(oks))
    else:
        md.append(f"| echo Go within 1.5× of Rust | {', '.join(parts)} | {NOT_MEASURED} |")
    for k, lang, goal in (("rust", "Rust signals", 3), ("go", "Go fingerprint", 2)):
        o = job_over.get(k)
        row(f"real job {lang} overhead ≤ {goal} %", o, f"{o:+.1f} %" if o is not None else "", o is not None and o <= goal)
    md.append("")
    md.append("![latency](latency.png)\n")
    md.append("![throughput](throughput.png)\n")
    # perf/cross-host.sh (root, network namespaces) runs on its own; its latest table joins the report.
    cross_host = out / "cross-host.md"
    if cross_host.exists():
        md.append("#" + cross_host.read_text().strip())
        md.append("")
    (out / "results.md").write_text("\n".join(md))

    # Plots: small PNGs. latency.png: small-call percentiles, then the mean round trip by payload size.
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), dpi=80, gridspec_kw={"width_ratios": [1, 1, 1.3]})
    names = [t[0] for t in transports] + ["polybridge Java→Rust, agent yields"]
    colors = ["#888888", "#1f77b4", "#d62728", "#2ca02c", "#ff9896"]
    for ax, size in zip(axes[:2], (32, 1024)):
        width = 0.16
        for i, name in enumerate(names):
            vals = [lat.get((name, size), {}).get(pc, 0) for pc in PCTS]
            ax.bar([x + i * width for x in range(len(PCTS))], vals, width, label=name, color=colors[i])
        ax.set_xticks([x + 2 * width for x in range(len(PCTS))], ["p50", "p90", "p99", "p99.9"])
        if any(v > 0 for name in names for v in lat.get((name, size), {}).values()):
            ax.set_yscale("log")  # (a log scale of nothing is an error)
        ax.set_title(f"echo round trip, {size} B")
        ax.grid(axis="y", which="major", alpha=0.3)
    axes[0].set_ylabel("µs (log)")
    axes[0].legend(fontsize=8)
    labels = {"POLYBRIDGE_GO": "polybridge Java→Go", "POLYBRIDGE_RUST": "polybridge Java→Rust",
              "UDS_PROTOBUF": "UDS+protobuf Java→Go", "MEMCPY": "memcpy (one thread)"}
    styles = list(zip(paths, ["#1f77b4", "#d62728", "#2ca02c", "#888888"], ["o-", "o-", "s-", "--"]))
    chk_styles = [("IN_PROCESS", "in-process copy + CRC32C (reference)", "#000000", "^:"),
                  ("POLYBRIDGE_GO", "checksum, polybridge Java→Go", "#1f77b4", "^:"),
                  ("POLYBRIDGE_RUST", "checksum, polybridge Java→Rust", "#d62728", "^:")]
    ax = axes[2]
    any_line = any(sweep_us[t] for t in paths) or any(chk[t] for t in chk_paths)
    for t, c, st in styles:
        xs = [s for s in sizes if s in sweep_us[t]]
        ax.plot(xs, [sweep_us[t][s] / 1e3 for s in xs], st, color=c, label=f"echo, {labels[t]}")
    for t, label, c, st in chk_styles:
        xs = sorted(chk[t])
        ax.plot(xs, [chk[t][s] / 1e3 for s in xs], st, color=c, label=label)
    if any_line:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("payload bytes (log)")
    ax.set_ylabel("ms per call, mean (log)")
    ax.set_title("one call at a time, by payload size")
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(f"Latency by transport and payload size ({args.started[:10]}, {cores} cores, {args.mode})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "latency.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=80)
    for t, c, st in styles:
        xs = [s for s in sizes if s in sweep[t]]
        ax.plot(xs, [sweep[t][s] for s in xs], st, color=c, label=f"echo, {labels[t]}")
    for t, label, c, st in chk_styles:
        xs = sorted(chk[t])
        ax.plot(xs, [s / chk[t][s] for s in xs], st, color=c, label=label)  # bytes per µs = MB/s
    if any_line:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("payload bytes (log)")
    ax.set_ylabel("MB/s of payload, one call at a time (log)")
    ax.set_title(f"Throughput by payload size ({args.started[:10]}, {cores} cores, {args.mode})", fontsize=10)
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "throughput.png")
    plt.close(fig)

    summary = {"mode": args.mode, "started": args.started, "cores": cores, "cpu": cpu,
               "load_before": args.load_before, "load_after": args.load_after,
               "jmh": res, "idle": idle, "go_inprocess": go_inproc, "rust_inprocess_ms_per_pass": rust_inproc_ms}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
