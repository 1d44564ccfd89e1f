package io.polybridge.chaos;

import io.polybridge.client.Bridge;
import io.polybridge.client.WorkerState;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The host: a JVM that embeds polybridge the way a user's service would, run by the harness as a
 * child process so that it can be seen to exit. It launches a {@link Bridge} against the harness's
 * external driver with Go and Rust workers, runs caller threads issuing echo calls of mixed sizes
 * with deadlines, and records every outcome in a {@link CallLedger}. Protocol lines on stdout
 * ({@link Protocol}): {@code ready}, {@code stats} every 500 ms, {@code gap} for each gap between
 * completions over 50 ms as it ends, {@code starved} for each time its threads were not scheduled, then after {@code stop} on stdin {@code result} and
 * {@code closed}. It then returns from main: a JVM that
 * does not exit by itself afterwards has a non-daemon thread left running (the harness notices).
 */
public final class ChaosHost
{
    private static final String HANDLER = "echo";

    private final Args args;
    private final PrintStream protocol;
    private final CallLedger ledger;
    private final byte[] source;
    private final List<Thread> callers = new ArrayList<>();
    private volatile boolean running = true;
    private volatile boolean expectedExit;
    private Bridge bridge;

    private ChaosHost(final Args args, final PrintStream protocol)
    {
        this.args = args;
        this.protocol = protocol;
        source = new byte[args.integer("max-payload", 256 * 1024)];
        new Random(args.number("seed", 1)).nextBytes(source);
        ledger = new CallLedger(source, (gap) -> send("gap", Map.of("from", gap.fromNs(), "to", gap.toNs())));
    }

    /**
     * @param args {@code --aeron-dir DIR --go N --rust N --callers N --window N --rate N --seed N
     *             --min-deadline-ms N --max-deadline-ms N --max-payload N --grace-ms N --detail FILE
     *             --epoch-ns N} (the harness's start, for times in the detail file).
     */
    public static void main(final String[] args) throws Exception
    {
        // Only protocol lines on the real stdout; anything else printed goes to the log.
        final PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        new ChaosHost(new Args(args), protocol).run();
    }

    private void run() throws Exception
    {
        reportUncaughtExceptions();
        Runtime.getRuntime().addShutdownHook(new Thread(this::onShutdown, "chaos-host-exit-witness"));
        final long launchStartNs = System.nanoTime();
        try
        {
            bridge = Bridge.launch(LibraryWorkers.spawn(new Bridge.Context()
                .aeronDirectoryName(args.text("aeron-dir")), args.integer("go", 2), args.integer("rust", 2)));
        }
        catch (final RuntimeException ex)
        {
            ex.printStackTrace();
            send("launch-failed", Map.of("error", token(ex.toString())));
            expectedExit = true;
            return;
        }
        send("ready", Map.of(
            "pid", ProcessHandle.current().pid(),
            "launch_ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - launchStartNs),
            "workers", workers()));

        ledger.startMeasuring(System.nanoTime());
        final int callerCount = args.integer("callers", 4);
        for (int i = 0; i < callerCount; i++)
        {
            final int index = i;
            final Thread caller = new Thread(() -> callLoop(index, callerCount), "chaos-caller-" + i);
            caller.setDaemon(true);
            callers.add(caller);
            caller.start();
        }
        final Thread stats = new Thread(this::statsLoop, "chaos-stats");
        stats.setDaemon(true);
        stats.start();
        final Thread watchdog = new Thread(this::stallWatchdog, "chaos-stall-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        final Thread probe = new Thread(this::schedulingProbe, "chaos-scheduling-probe");
        probe.setDaemon(true);
        probe.start();

        awaitStopCommand();
        stop();
    }

    private void awaitStopCommand() throws IOException
    {
        try (BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)))
        {
            String command;
            while ((command = commands.readLine()) != null && !command.trim().equals("stop"))
            {
                System.err.println("chaos host: unknown command '" + command + "'");
            }
        }
    }

    private void stop() throws Exception
    {
        running = false;
        final long stopNs = System.nanoTime();
        ledger.stopMeasuring(stopNs);
        final long graceNs = TimeUnit.MILLISECONDS.toNanos(args.number("grace-ms", 3000));
        final long maxDeadlineNs = TimeUnit.MILLISECONDS.toNanos(args.number("max-deadline-ms", 3000));
        for (final Thread caller : callers)
        {
            // A caller may be inside Bridge.call (back pressure) up to its call's deadline.
            caller.join(TimeUnit.NANOSECONDS.toMillis(maxDeadlineNs + graceNs));
        }
        final long drainDeadlineNs = ledger.latestOutstandingDeadlineNs(System.nanoTime()) + graceNs;
        while (!ledger.outstanding().isEmpty() && System.nanoTime() - drainDeadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        final Map<String, Object> result = counters();
        result.put("stop_ns", stopNs);
        result.put("max_gap_ms", TimeUnit.NANOSECONDS.toMillis(ledger.maxGapNs()));
        writeDetail(Path.of(args.text("detail")));
        send("result", result);

        final long closeStartNs = System.nanoTime();
        expectedExit = true;
        bridge.close();
        send("closed", Map.of("close_ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closeStartNs)));
    }

    private void callLoop(final int index, final int callerCount)
    {
        final SplittableRandom random = new SplittableRandom(args.number("seed", 1) * 31 + index);
        final UnsafeBuffer payloads = new UnsafeBuffer(source);
        final Semaphore window = new Semaphore(args.integer("window", 8));
        final double rate = Math.max(1, args.number("rate", 800)) / (double)callerCount;
        final long periodNs = (long)(TimeUnit.SECONDS.toNanos(1) / rate);
        final int minDeadlineMs = args.integer("min-deadline-ms", 1000);
        final int maxDeadlineMs = args.integer("max-deadline-ms", 3000);
        long nextNs = System.nanoTime();
        while (running)
        {
            nextNs += periodNs;
            final long waitNs = nextNs - System.nanoTime();
            if (waitNs > 0)
            {
                LockSupport.parkNanos(waitNs);
            }
            else if (waitNs < -TimeUnit.MILLISECONDS.toNanos(100))
            {
                nextNs = System.nanoTime(); // behind (a full window, a slow machine): no burst to catch up
            }
            try
            {
                if (!window.tryAcquire(100, TimeUnit.MILLISECONDS))
                {
                    continue;
                }
            }
            catch (final InterruptedException ex)
            {
                return;
            }
            final int length = payloadLength(random);
            final int offset = random.nextInt(source.length - length + 1);
            final int deadlineMs = minDeadlineMs + random.nextInt(maxDeadlineMs - minDeadlineMs + 1);
            final long startNs = System.nanoTime();
            final CallLedger.Call call = ledger.begin(offset, length, startNs, startNs + TimeUnit.MILLISECONDS.toNanos(deadlineMs));
            final CompletableFuture<byte[]> future;
            try
            {
                future = bridge.call(HANDLER, payloads, offset, length, Duration.ofMillis(deadlineMs));
            }
            catch (final Throwable ex)
            {
                ledger.complete(call, null, ex, System.nanoTime());
                window.release();
                continue;
            }
            future.whenComplete((response, error) ->
            {
                ledger.complete(call, response, error, System.nanoTime());
                window.release();
            });
        }
    }

    /** Mostly small calls, some large: 0-64 B, up to 4 KiB, up to 64 KiB, up to the maximum (256 KiB). */
    private int payloadLength(final SplittableRandom random)
    {
        final int bucket = random.nextInt(100);
        if (bucket < 40)
        {
            return random.nextInt(65);
        }
        if (bucket < 75)
        {
            return random.nextInt(4097);
        }
        if (bucket < 95)
        {
            return random.nextInt(65537);
        }
        return random.nextInt(source.length + 1);
    }

    private void statsLoop()
    {
        while (running)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
            if (running)
            {
                final Map<String, Object> stats = counters();
                stats.put("outstanding", ledger.outstanding().size());
                send("stats", stats);
            }
        }
    }

    /**
     * When callers have seen no completion for 700 ms, log every thread's stack once per such gap:
     * what the callers, the client agent and the supervisor were doing while nothing completed.
     */
    private void stallWatchdog()
    {
        long dumpedForNs = -1;
        while (running)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            final long lastNs = ledger.lastCompletionNs();
            final long silentNs = System.nanoTime() - lastNs;
            if (running && silentNs > TimeUnit.MILLISECONDS.toNanos(700) && lastNs != dumpedForNs)
            {
                dumpedForNs = lastNs;
                final StringBuilder dump = new StringBuilder("chaos host: no completion for " +
                    TimeUnit.NANOSECONDS.toMillis(silentNs) + " ms (" + ledger.outstanding().size() +
                    " calls outstanding); threads:\n");
                Thread.getAllStackTraces().forEach((thread, stack) ->
                {
                    dump.append('"').append(thread.getName()).append("\" ").append(thread.getState()).append('\n');
                    for (final StackTraceElement frame : stack)
                    {
                        dump.append("    at ").append(frame).append('\n');
                    }
                });
                System.err.print(dump);
            }
        }
    }

    /**
     * Sleeps 10 ms at a time and reports every wake-up more than 100 ms late: intervals when this
     * JVM's threads were not scheduled (an overloaded machine, a stop-the-world pause). No bridge
     * could complete a call for a caller that is not running; the harness does not count those
     * intervals as stalls.
     */
    private void schedulingProbe()
    {
        final long sleepNs = TimeUnit.MILLISECONDS.toNanos(10);
        while (running)
        {
            final long beforeNs = System.nanoTime();
            LockSupport.parkNanos(sleepNs);
            final long afterNs = System.nanoTime();
            if (afterNs - beforeNs - sleepNs > TimeUnit.MILLISECONDS.toNanos(100))
            {
                send("starved", Map.of("from", beforeNs + sleepNs, "to", afterNs));
            }
        }
    }

    private Map<String, Object> counters()
    {
        final Map<String, Object> values = new LinkedHashMap<>();
        values.put("calls", ledger.calls());
        values.put("ok", ledger.ok());
        values.put("failed", ledger.failed());
        values.put("lost", ledger.outstanding().size());
        values.put("duplicated", ledger.duplicated());
        values.put("wrong_payload", ledger.wrongPayload());
        values.put("late", ledger.late());
        values.put("restarts", restarts());
        values.put("live_pids", livePids());
        return values;
    }

    /** Pids of the workers the bridge has LIVE now: the harness only faults workers while others are healthy. */
    private String livePids()
    {
        try
        {
            final StringBuilder pids = new StringBuilder();
            for (final WorkerState state : bridge.workerStates())
            {
                if (state.status() == WorkerState.Status.LIVE)
                {
                    pids.append(pids.length() == 0 ? "" : ",").append(state.pid());
                }
            }
            return pids.toString();
        }
        catch (final RuntimeException ex)
        {
            return "";
        }
    }

    private long restarts()
    {
        long restarts = 0;
        try
        {
            for (final WorkerState state : bridge.workerStates())
            {
                restarts += state.restarts();
            }
        }
        catch (final RuntimeException ex)
        {
            System.err.println("chaos host: could not read restarts: " + ex);
        }
        return restarts;
    }

    private String workers()
    {
        final StringBuilder workers = new StringBuilder();
        try
        {
            bridge.processes().forEach((id, process) ->
                workers.append(workers.length() == 0 ? "" : ",").append(id).append(':').append(process.pid()));
        }
        catch (final RuntimeException ex)
        {
            workers.append("unknown");
        }
        return workers.toString();
    }

    private void writeDetail(final Path file)
    {
        final JsonOut json = new JsonOut().beginObject();
        json.field("pid", ProcessHandle.current().pid());
        json.beginObject("failures_by_code");
        ledger.failuresByCode().forEach(json::field);
        json.endObject();
        final long epochNs = args.number("epoch-ns", 0);
        json.beginObject("failures_first_and_last_ms");
        ledger.firstAndLastNsByCode().forEach((code, firstAndLast) -> json.field(code,
            "+" + TimeUnit.NANOSECONDS.toMillis(firstAndLast[0] - epochNs) + "..+" +
            TimeUnit.NANOSECONDS.toMillis(firstAndLast[1] - epochNs)));
        json.endObject();
        json.beginObject("failures_by_message");
        ledger.failuresByKind().forEach(json::field);
        json.endObject();
        json.beginObject("failures_by_worker_pid");
        ledger.failuresByPid().forEach((pid, count) -> json.field(Long.toString(pid), count));
        json.endObject();
        json.beginObject("failure_samples");
        ledger.samples().forEach((code, samples) ->
        {
            json.beginArray(code);
            samples.forEach(json::element);
            json.endArray();
        });
        json.endObject();
        json.field("late_completions", ledger.late());
        json.field("max_overdue_ms", TimeUnit.NANOSECONDS.toMillis(ledger.maxOverdueNs()));
        json.field("max_latency_ms", TimeUnit.NANOSECONDS.toMillis(ledger.maxLatencyNs()));
        json.field("max_gap_ms_including_driver_down", TimeUnit.NANOSECONDS.toMillis(ledger.maxGapNs()));
        json.beginArray("lost_calls_oldest");
        final long nowNs = System.nanoTime();
        for (final CallLedger.Call call : ledger.oldestOutstanding(10))
        {
            json.element("call " + call.id + ": " + call.length + " bytes, sent " +
                TimeUnit.NANOSECONDS.toMillis(nowNs - call.startNs) + " ms ago, deadline " +
                TimeUnit.NANOSECONDS.toMillis(call.deadlineNs - call.startNs) + " ms");
        }
        json.endArray();
        json.field("unmatched_responses", bridge.client().unmatchedResponses());
        json.field("links_at_end", bridge.describeWorkers().size());
        json.field("malformed_frames", bridge.client().malformedFrames());
        json.beginArray("workers_at_end");
        try
        {
            bridge.workerStates().forEach((state) -> json.element(state.toString()));
            bridge.describeWorkers().forEach((link) -> json.element("link " + link));
        }
        catch (final RuntimeException ex)
        {
            json.element("could not describe workers: " + ex);
        }
        json.endArray();
        json.endObject();
        try
        {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, json.toString());
        }
        catch (final IOException ex)
        {
            System.err.println("chaos host: could not write " + file + ": " + ex);
        }
    }

    /**
     * Shutdown hook: an exit the host did not ask for (System.exit from a library, a signal) is the
     * failure host_exits counts. Print who called exit, from the thread stacks, to the log.
     */
    private void onShutdown()
    {
        if (expectedExit)
        {
            return;
        }
        System.err.println("chaos host: UNEXPECTED EXIT; thread stacks follow");
        Thread.getAllStackTraces().forEach((thread, stack) ->
        {
            final StringBuilder trace = new StringBuilder("\"" + thread.getName() + "\"\n");
            for (final StackTraceElement frame : stack)
            {
                trace.append("    at ").append(frame).append('\n');
            }
            System.err.print(trace);
        });
        send("exiting", Map.of("expected", false));
    }

    /** Threads that die of an exception say so on stderr (System.Logger output is lost once the JVM shuts down). */
    static void reportUncaughtExceptions()
    {
        Thread.setDefaultUncaughtExceptionHandler((thread, error) ->
        {
            System.err.println("chaos: thread '" + thread.getName() + "' died of an uncaught exception:");
            error.printStackTrace();
        });
    }

    /**
     * From a shutdown hook: wait for polybridge's own shutdown hook (the threads it runs are named
     * polybridge-shutdown*), then say on stderr which child processes are still running, so a
     * report can tell whether the bridge stopped its workers before the JVM exits.
     */
    static void witnessBridgeShutdown()
    {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50)); // let the other hooks start
        System.err.println("chaos: shutting down; threads: " + Thread.getAllStackTraces().keySet().stream()
            .map(Thread::getName).sorted().toList());
        final long startNs = System.nanoTime();
        for (final Thread thread : Thread.getAllStackTraces().keySet())
        {
            if (thread.getName().startsWith("polybridge-shutdown"))
            {
                try
                {
                    thread.join(TimeUnit.SECONDS.toMillis(20));
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }
        System.err.println("chaos: at exit, after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs) +
            " ms waiting for polybridge's shutdown hook, child processes still running: " +
            ProcessHandle.current().children().filter(ProcessHandle::isAlive)
                .map((child) -> child.pid() + " " + child.info().command().orElse("?")).toList());
    }

    private synchronized void send(final String kind, final Map<String, ?> values)
    {
        protocol.println(Protocol.line(kind, values));
    }

    static String token(final String text)
    {
        final String oneLine = text.replaceAll("\\s+", "_");
        return oneLine.length() > 300 ? oneLine.substring(0, 300) : oneLine;
    }
}
