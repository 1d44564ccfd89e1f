package io.polybridge.perf;

import io.polybridge.client.Bridge;
import io.polybridge.client.WorkerSpec;
import io.polybridge.client.WorkerStub;
import io.polybridge.codecs.Language;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * What a bridge costs when it is idle or lightly used (issue 13): a launched {@link Bridge} (embedded
 * driver, client, one Go and one Rust test worker) is
 * <ol>
 *     <li>left idle, and the CPU time every process (and every thread of it) used meanwhile is read from
 *     {@code /proc}, with the thread's voluntary context switches: its wake-ups;</li>
 *     <li>called with 32 B echoes spaced 100 ms apart: the first call after a pause;</li>
 *     <li>called at a steady 10,000 32 B echoes a second, one worker at a time: the CPU of all processes
 *     together per call.</li>
 * </ol>
 * Not JMH: the interesting numbers are the CPU the processes use while little or nothing is asked of
 * them, which JMH's loops cannot show.
 * <pre>
 * java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -Dpolybridge.root=. \
 *   -cp perf/target/benchmarks.jar io.polybridge.perf.IdleCost [idle seconds, default 30] [json file]
 * </pre>
 * {@code -Dpolybridge.perf.workerOptions="--idle-sleep-after 0"} passes options to both workers, as for
 * the JMH benchmarks.
 * CPU is each thread's time on a CPU in nanoseconds ({@code /proc/PID/task/TID/schedstat}, the
 * scheduler's own accounting): clock ticks (utime + stime) are sampled at 100 Hz and charge a whole
 * tick to whichever thread runs at that instant, too coarse for threads that wake for microseconds.
 * Threads that end within the window are not counted.
 */
public final class IdleCost
{
    private static final double NANOS_PER_SECOND = 1e9;
    private static final int SPACED_CALLS = 100;
    private static final long SPACING_MS = 100;
    private static final int STEADY_RATE = 10_000;
    private static final int STEADY_SECONDS = 5;
    private static final int THREADS_SHOWN = 6;
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private IdleCost()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int idleSeconds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        final Path json = args.length > 1 ? Path.of(args[1]) : null;
        try (Bridge bridge = Bridge.launch(new Bridge.Context()
            .worker(new WorkerSpec("go", LibraryWorkers.binary(Language.GO)).options(Endpoint.workerOptions()))
            .worker(new WorkerSpec("rust", LibraryWorkers.binary(Language.RUST)).options(Endpoint.workerOptions()))
            .awaitHandlers("echo")))
        {
            final Map<String, Long> pids = new LinkedHashMap<>();
            pids.put("jvm", ProcessHandle.current().pid()); // the embedded driver and the client
            bridge.processes().forEach((id, process) -> pids.put(id, process.pid()));
            final Map<String, WorkerStub> stubs = new LinkedHashMap<>();
            for (final String id : pids.keySet())
            {
                if (!id.equals("jvm"))
                {
                    stubs.put(id, bridge.client().awaitWorker(id, TIMEOUT));
                }
            }
            for (final WorkerStub stub : stubs.values()) // warm both paths up, then let everything settle
            {
                for (int i = 0; i < 2_000; i++)
                {
                    stub.call("echo", new byte[32], TIMEOUT).join();
                }
            }
            Thread.sleep(5_000); // the JIT compiles what the warm-up ran for a few seconds more

            final StringBuilder out = new StringBuilder("{");
            final Map<String, Map<String, long[]>> before = sample(pids);
            final long start = System.nanoTime();
            Thread.sleep(idleSeconds * 1_000L);
            final double seconds = (System.nanoTime() - start) / 1e9;
            final Map<String, Map<String, long[]>> after = sample(pids);
            double total = 0;
            out.append("\"idle_seconds\":").append(fmt(seconds)).append(",\"idle_percent\":{");
            for (final String id : pids.keySet())
            {
                final double percent = ticks(after.get(id)) - ticks(before.get(id));
                total += percent / NANOS_PER_SECOND / seconds * 100.0;
                out.append('"').append(id).append("\":").append(fmt(percent / NANOS_PER_SECOND / seconds * 100.0))
                    .append(',');
                System.out.printf("idle %-6s %6.2f %% of a core%n", id, percent / NANOS_PER_SECOND / seconds * 100.0);
                printThreads(before.get(id), after.get(id), seconds);
            }
            System.out.printf("idle total  %6.2f %% of a core over %.1f s (target: <= 1 %%)%n", total, seconds);
            out.append("\"total\":").append(fmt(total)).append("},");

            out.append("\"after_idle_us\":{");
            for (final Map.Entry<String, WorkerStub> e : stubs.entrySet())
            {
                final long[] micros = spacedCalls(e.getValue());
                System.out.printf("%s: 32 B echo %d ms after the previous one: p50 %d us, p99 %d us, max %d us " +
                    "(%d calls)%n", e.getKey(), SPACING_MS, micros[SPACED_CALLS / 2], micros[SPACED_CALLS * 99 / 100],
                    micros[SPACED_CALLS - 1], SPACED_CALLS);
                out.append('"').append(e.getKey()).append("\":{\"p50\":").append(micros[SPACED_CALLS / 2])
                    .append(",\"p99\":").append(micros[SPACED_CALLS * 99 / 100]).append("},");
            }
            out.setLength(out.length() - 1);
            out.append("},\"steady_cpu_us_per_call\":{");
            for (final Map.Entry<String, WorkerStub> e : stubs.entrySet())
            {
                final Map<String, Map<String, long[]>> s0 = sample(pids);
                final long t0 = System.nanoTime();
                final long calls = steady(e.getValue());
                final double secs = (System.nanoTime() - t0) / 1e9;
                final Map<String, Map<String, long[]>> s1 = sample(pids);
                double cpuSeconds = 0;
                final StringBuilder parts = new StringBuilder();
                for (final String id : pids.keySet())
                {
                    final double processSeconds = (ticks(s1.get(id)) - ticks(s0.get(id))) / NANOS_PER_SECOND;
                    cpuSeconds += processSeconds;
                    parts.append(String.format(Locale.ROOT, " %s %.1f", id, processSeconds * 1e6 / calls));
                }
                final double perCall = cpuSeconds * 1e6 / calls;
                System.out.printf("%s: %,d calls/s for %.1f s: %.1f us of CPU per call, all processes " +
                    "(%.0f %% of a core; us per call by process:%s)%n",
                    e.getKey(), Math.round(calls / secs), secs, perCall, cpuSeconds / secs * 100, parts);
                out.append('"').append(e.getKey()).append("\":").append(fmt(perCall)).append(',');
            }
            out.setLength(out.length() - 1);
            out.append("}}");
            if (json != null)
            {
                Files.writeString(json, out + "\n");
            }
        }
    }

    /** Calls spaced {@link #SPACING_MS} apart, each timed; sorted microseconds. */
    private static long[] spacedCalls(final WorkerStub stub) throws InterruptedException
    {
        final long[] micros = new long[SPACED_CALLS];
        for (int i = 0; i < SPACED_CALLS; i++)
        {
            Thread.sleep(SPACING_MS);
            final long sent = System.nanoTime();
            stub.call("echo", new byte[32], TIMEOUT).join();
            micros[i] = (System.nanoTime() - sent) / 1_000;
        }
        Arrays.sort(micros);
        return micros;
    }

    /** {@link #STEADY_RATE} calls a second for {@link #STEADY_SECONDS}, sent on schedule; returns the count. */
    private static long steady(final WorkerStub stub)
    {
        final long intervalNs = TimeUnit.SECONDS.toNanos(1) / STEADY_RATE;
        final long calls = (long)STEADY_RATE * STEADY_SECONDS;
        final byte[] payload = new byte[32];
        final List<CompletableFuture<byte[]>> pending = new ArrayList<>();
        final long start = System.nanoTime();
        for (long i = 0; i < calls; i++)
        {
            final long due = start + i * intervalNs;
            long now;
            while ((now = System.nanoTime()) < due)
            {
                LockSupport.parkNanos(due - now);
            }
            pending.add(stub.call("echo", payload, TIMEOUT));
            if (pending.size() == 1_000)
            {
                pending.forEach(CompletableFuture::join);
                pending.clear();
            }
        }
        pending.forEach(CompletableFuture::join);
        return calls;
    }

    /** Per process, per thread: {ns on a CPU, voluntary context switches}, keyed "tid name". */
    private static Map<String, Map<String, long[]>> sample(final Map<String, Long> pids) throws IOException
    {
        final Map<String, Map<String, long[]>> samples = new HashMap<>();
        for (final Map.Entry<String, Long> e : pids.entrySet())
        {
            final Map<String, long[]> threads = new HashMap<>();
            try (Stream<Path> tasks = Files.list(Path.of("/proc", e.getValue().toString(), "task")))
            {
                tasks.forEach(task ->
                {
                    try
                    {
                        final String stat = Files.readString(task.resolve("stat"));
                        final String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                        final String schedstat = Files.readString(task.resolve("schedstat")).trim();
                        long switches = 0;
                        for (final String line : Files.readAllLines(task.resolve("status")))
                        {
                            if (line.startsWith("voluntary_ctxt_switches:"))
                            {
                                switches = Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                            }
                        }
                        threads.put(task.getFileName() + " " + name,
                            new long[]{Long.parseLong(schedstat.substring(0, schedstat.indexOf(' '))), switches});
                    }
                    catch (final IOException ex)
                    {
                        if (Files.exists(task))
                        {
                            throw new UncheckedIOException(ex);
                        }
                    }
                });
            }
            samples.put(e.getKey(), threads);
        }
        return samples;
    }

    private static long ticks(final Map<String, long[]> threads)
    {
        return threads.values().stream().mapToLong(t -> t[0]).sum();
    }

    /** The threads that used the most CPU between two samples: CPU and wake-ups a second. */
    private static void printThreads(final Map<String, long[]> before, final Map<String, long[]> after, final double seconds)
    {
        after.entrySet().stream()
            .map(e ->
            {
                final long[] b = before.getOrDefault(e.getKey(), new long[2]);
                return Map.entry(e.getKey(), new double[]{
                    (e.getValue()[0] - b[0]) / NANOS_PER_SECOND / seconds * 100.0, (e.getValue()[1] - b[1]) / seconds});
            })
            .filter(e -> e.getValue()[0] > 0 || e.getValue()[1] >= 1)
            .sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
            .limit(THREADS_SHOWN)
            .forEach(e -> System.out.printf("    %-28s %5.2f %%  %7.0f wake-ups/s%n",
                e.getKey().substring(e.getKey().indexOf(' ') + 1), e.getValue()[0], e.getValue()[1]));
    }

    private static String fmt(final double value)
    {
        return String.format(Locale.ROOT, "%.3f", value);
    }
}
