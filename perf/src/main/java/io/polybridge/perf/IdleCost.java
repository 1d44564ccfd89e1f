package io.polybridge.perf;

import io.polybridge.client.Bridge;
import io.polybridge.client.WorkerSpec;
import io.polybridge.codecs.Language;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an idle bridge costs (issue 13): a launched {@link Bridge} (embedded driver, client, one Go
 * and one Rust test worker) is left idle and the CPU time every process used meanwhile is read from
 * {@code /proc/PID/stat}; then the first call after a pause is timed, with calls spaced 100 ms apart.
 * Not JMH: the interesting number is the CPU the processes use while nothing is asked of them.
 * <pre>
 * java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -Dpolybridge.root=. \
 *   -cp perf/target/benchmarks.jar io.polybridge.perf.IdleCost [idle seconds, default 30]
 * </pre>
 * CPU is user + system time in clock ticks ({@code getconf CLK_TCK}, 100 on Linux), so a 30 s window
 * resolves 0.03 % of a core.
 */
public final class IdleCost
{
    private static final double TICKS_PER_SECOND = 100.0;
    private static final int SPACED_CALLS = 100;
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private IdleCost()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int idleSeconds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        try (Bridge bridge = Bridge.launch(new Bridge.Context()
            .worker(new WorkerSpec("go", LibraryWorkers.binary(Language.GO)))
            .worker(new WorkerSpec("rust", LibraryWorkers.binary(Language.RUST)))
            .awaitHandlers("echo")))
        {
            for (int i = 0; i < 1_000; i++) // warm both paths up, then let everything settle into idle
            {
                bridge.call("echo", new byte[32], TIMEOUT).join();
            }
            Thread.sleep(2_000);

            final Map<String, Long> pids = new LinkedHashMap<>();
            pids.put("jvm (driver + client)", ProcessHandle.current().pid());
            bridge.processes().forEach((id, process) -> pids.put(id, process.pid()));
            final Map<String, Long> before = new LinkedHashMap<>();
            for (final Map.Entry<String, Long> e : pids.entrySet())
            {
                before.put(e.getKey(), cpuTicks(e.getValue()));
            }
            final long start = System.nanoTime();
            Thread.sleep(idleSeconds * 1_000L);
            final double seconds = (System.nanoTime() - start) / 1e9;

            double total = 0;
            for (final Map.Entry<String, Long> e : pids.entrySet())
            {
                final double percent =
                    (cpuTicks(e.getValue()) - before.get(e.getKey())) / TICKS_PER_SECOND / seconds * 100.0;
                total += percent;
                System.out.printf("idle %-22s %6.2f %% of a core%n", e.getKey(), percent);
            }
            System.out.printf("idle %-22s %6.2f %% of a core over %.1f s (target: <= 1 %%)%n", "total", total, seconds);

            final long[] micros = new long[SPACED_CALLS];
            for (int i = 0; i < SPACED_CALLS; i++)
            {
                Thread.sleep(100);
                final long sent = System.nanoTime();
                bridge.call("echo", new byte[32], TIMEOUT).join();
                micros[i] = (System.nanoTime() - sent) / 1_000;
            }
            Arrays.sort(micros);
            System.out.printf("32 B echo after 100 ms idle: p50 %d us, p99 %d us, max %d us (%d calls)%n",
                micros[SPACED_CALLS / 2], micros[SPACED_CALLS * 99 / 100], micros[SPACED_CALLS - 1], SPACED_CALLS);
        }
    }

    /** utime + stime of a process, fields 14 and 15 of /proc/PID/stat (counted after the command's closing parenthesis). */
    private static long cpuTicks(final long pid) throws IOException
    {
        final String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        final String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }
}
