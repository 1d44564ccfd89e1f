package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static io.polybridge.client.BridgeLifecycleTest.awaitTrue;
import static io.polybridge.client.BridgeLifecycleTest.failure;
import static io.polybridge.client.BridgeLifecycleTest.littleEndian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Supervision through {@link Bridge}: a SIGKILLed worker under load stays a local event, a worker
 * that keeps crashing is retried after a cool-down, and routing bookkeeping never leaks.
 * Bounds are generous for a shared 2-core machine; each is far below what the defects they guard
 * against cost (completions stopped for ~10 s; a worker down forever).
 */
class BridgeSupervisionTest
{
    private static final Duration LONG_DEADLINE = Duration.ofSeconds(20);
    /** No caller may wait this long between two completions while healthy workers remain. */
    private static final long MAX_GAP_MS = 500;
    private static final long PENDING_FAIL_MS = 1_000;
    private static final long REPLACEMENT_MS = 2_000;
    /** Held: java.util.logging keeps loggers weakly, and a collected one would lose the test's handler. */
    private static final Logger BRIDGE_LOG = Logger.getLogger("polybridge.bridge");

    @BeforeAll
    static void buildWorkers() throws Exception
    {
        NativeWorkers.build();
    }

    @Test
    void killNineOfOneWorkerUnderLoadFailsOnlyItsCallsOthersNeverStallAndItsReplacementServesQuickly()
        throws Exception
    {
        final Bridge.Context ctx = new Bridge.Context()
            .worker(NativeWorkers.go().instances(2).options("--debug-handlers", "--pool-size", "32"))
            .worker(NativeWorkers.rust());
        try (Bridge bridge = Bridge.launch(ctx))
        {
            final WorkerState before = state(bridge, "go-0");
            final ProcessHandle victim = bridge.processes().get("go-0");

            // Slow calls on every Go instance, some of them pending on go-0 when it dies.
            final List<CompletableFuture<byte[]>> slow = new ArrayList<>();
            final List<CompletableFuture<Long>> slowDoneNs = new ArrayList<>();
            for (int i = 0; i < 8; i++)
            {
                final CompletableFuture<byte[]> call = bridge.call("debug.sleep", littleEndian(6_000), LONG_DEADLINE);
                slow.add(call);
                slowDoneNs.add(call.handle((r, e) -> System.nanoTime()));
            }

            final int capacity = 2_000_000;
            final AtomicIntegerArray completions = new AtomicIntegerArray(capacity);
            final AtomicLongArray okAtNs = new AtomicLongArray(capacity);
            final AtomicInteger issued = new AtomicInteger();
            final AtomicInteger okCount = new AtomicInteger();
            final AtomicInteger failedCount = new AtomicInteger();
            final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            final AtomicBoolean stop = new AtomicBoolean();
            final String victimStream = Integer.toString(before.requestStreamId());
            final List<Thread> callers = new ArrayList<>();
            for (int t = 0; t < 4; t++)
            {
                final Semaphore window = new Semaphore(64);
                final Thread caller = new Thread(() ->
                {
                    while (!stop.get())
                    {
                        window.acquireUninterruptibly();
                        final int index = issued.getAndIncrement();
                        if (index >= capacity)
                        {
                            window.release();
                            return;
                        }
                        final byte[] payload = littleEndian(index);
                        final CompletableFuture<byte[]> call = bridge.call("echo", payload, LONG_DEADLINE);
                        final String routedTo = call instanceof CallFuture cf && cf.link != null ?
                            cf.link.toString() : "-";
                        call.whenComplete((response, error) ->
                        {
                            completions.incrementAndGet(index);
                            if (error == null)
                            {
                                okAtNs.set(okCount.getAndIncrement(), System.nanoTime());
                                if (!Arrays.equals(payload, response))
                                {
                                    problems.add("echo " + index + " came back with another payload");
                                }
                            }
                            else
                            {
                                failedCount.incrementAndGet();
                                final Throwable cause = error instanceof CompletionException ? error.getCause() : error;
                                if (!(cause instanceof PolybridgeException pe &&
                                    pe.errorCode() == ErrorCode.WORKER_UNAVAILABLE &&
                                    (pe.getMessage().contains("go-0") || pe.getMessage().contains(victimStream))))
                                {
                                    problems.add("echo " + index + " to " + routedTo + ": " + error);
                                }
                            }
                            window.release();
                        });
                    }
                }, "caller-" + t);
                caller.start();
                callers.add(caller);
            }

            TimeUnit.MILLISECONDS.sleep(1_000);
            final long killNs = System.nanoTime();
            victim.destroyForcibly(); // SIGKILL
            long replacedNs = 0;
            while (System.nanoTime() - killNs < TimeUnit.SECONDS.toNanos(3))
            {
                final WorkerState now = state(bridge, "go-0");
                if (replacedNs == 0 && now.status() == WorkerState.Status.LIVE && now.pid() != victim.pid())
                {
                    replacedNs = System.nanoTime();
                }
                TimeUnit.MILLISECONDS.sleep(2);
            }
            final long loadEndNs = System.nanoTime();
            stop.set(true);
            for (final Thread caller : callers)
            {
                caller.join();
            }
            awaitTrue(() -> okCount.get() + failedCount.get() == Math.min(issued.get(), capacity), "every echo done");


            // Others never stalled: no gap between successful completions around and after the kill.
            final long[] okNs = new long[okCount.get()];
            for (int i = 0; i < okNs.length; i++)
            {
                okNs[i] = okAtNs.get(i);
            }
            Arrays.sort(okNs);
            long maxGapNs = 0;
            long previous = killNs - TimeUnit.MILLISECONDS.toNanos(100);
            for (final long at : okNs)
            {
                if (at > previous)
                {
                    maxGapNs = Math.max(maxGapNs, at - previous);
                    previous = at;
                }
            }
            maxGapNs = Math.max(maxGapNs, loadEndNs - previous);
            final long maxGapMs = TimeUnit.NANOSECONDS.toMillis(maxGapNs);

            // Calls pending on the killed worker failed at once, those on the others succeeded.
            long slowestFailureMs = -1;
            int failedSlow = 0;
            for (int i = 0; i < slow.size(); i++)
            {
                final long doneNs = slowDoneNs.get(i).get(30, TimeUnit.SECONDS);
                if (slow.get(i).isCompletedExceptionally())
                {
                    final PolybridgeException cause = failure(slow.get(i));
                    assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode(), cause.getMessage());
                    slowestFailureMs = Math.max(slowestFailureMs, TimeUnit.NANOSECONDS.toMillis(doneNs - killNs));
                    failedSlow++;
                }
            }
            final long replacementMs = replacedNs == 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(replacedNs - killNs);
            System.out.printf("kill -9 under load: %d ok, %d failed, longest gap after the kill %d ms, pending " +
                "calls failed within %d ms, replacement live after %d ms, late responses %d%n",
                okCount.get(), failedCount.get(), maxGapMs, slowestFailureMs, replacementMs,
                bridge.client().unmatchedResponses());

            assertEquals(List.of(), problems.stream().limit(10).toList(), problems.size() + " problems");
            for (int i = 0, n = Math.min(issued.get(), capacity); i < n; i++)
            {
                if (completions.get(i) != 1)
                {
                    assertEquals(1, completions.get(i), "echo " + i + " completed " + completions.get(i) + " times");
                }
            }
            assertTrue(maxGapMs < MAX_GAP_MS, "callers stalled for " + maxGapMs + " ms after the kill");
            assertTrue(failedSlow >= 1 && failedSlow < slow.size(), failedSlow + " of " + slow.size() +
                " slow calls failed; those on go-1 and rust-0 must succeed");
            assertTrue(slowestFailureMs < PENDING_FAIL_MS, "a call pending on the killed worker took " +
                slowestFailureMs + " ms to fail");
            assertTrue(replacementMs >= 0 && replacementMs < REPLACEMENT_MS, "replacement live after " +
                replacementMs + " ms");

            final WorkerState after = state(bridge, "go-0");
            assertEquals(1, after.restarts());
            assertNotEquals(before.requestStreamId(), after.requestStreamId(), "a replacement gets a fresh stream");
            final WorkerStub replacement = bridge.client().awaitWorker("go-0", Duration.ofSeconds(30));
            assertEquals(after.pid(), replacement.info().pid());
            assertArrayEquals(new byte[]{ 7 }, replacement.call("echo", new byte[]{ 7 }).join());
        }
    }

    @Test
    void aWorkerThatKeepsCrashingIsDownUntilItsCoolDownSaysSoAndIsStartedAgainAfterIt(@TempDir final Path dir)
        throws Exception
    {
        // Starts the real worker the first time, crashes at once while the marker file exists.
        final Path marker = dir.resolve("crash");
        final Path wrapper = dir.resolve("flaky.sh");
        Files.writeString(wrapper, "#!/bin/sh\nif [ -e \"$MARKER\" ]; then echo \"flaky: crashing on purpose\"; " +
            "exit 1; fi\nexec \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwx------"));
        final WorkerSpec flaky = new WorkerSpec("flaky", List.of(wrapper.toString(),
            NativeWorkers.binary(Language.RUST).toAbsolutePath().toString())).environment(Map.of("MARKER",
            marker.toString()));
        final Bridge.Context ctx = new Bridge.Context().worker(flaky)
            .restarts(Duration.ofMillis(20), Duration.ofMillis(100), 2, Duration.ofMinutes(1))
            .restartCoolDown(Duration.ofSeconds(2));
        final List<String> log = new ArrayList<>();
        final Handler capture = capture(log);
        try (Bridge bridge = Bridge.launch(ctx))
        {
            assertEquals(WorkerState.Status.LIVE, state(bridge, "flaky-0").status());
            Files.createFile(marker);
            bridge.processes().get("flaky-0").destroyForcibly();

            awaitTrue(() -> state(bridge, "flaky-0").status() == WorkerState.Status.DOWN, "flaky-0 down");
            final WorkerState down = state(bridge, "flaky-0");
            final Instant openedAt = Instant.now();
            assertEquals(2, down.restarts());
            assertTrue(down.reason().contains("exited with code 1"), down::toString);
            assertTrue(down.until().isAfter(openedAt.plusMillis(500)) &&
                down.until().isBefore(openedAt.plusMillis(2_500)), down::toString);
            final PolybridgeException refused = failure(bridge.call("echo", new byte[]{ 1 }));
            assertEquals(ErrorCode.WORKER_UNAVAILABLE, refused.errorCode(), refused.getMessage());

            awaitTrue(() ->
            {
                synchronized (log)
                {
                    return log.stream().anyMatch((m) -> m.contains("restart budget of 2") &&
                        m.contains("stays down") && m.contains("then started again"));
                }
            }, "the log says it stays down and when it is tried again");
            synchronized (log)
            {
                assertFalse(log.stream().anyMatch((m) -> m.contains("restart 3 of 2")), log::toString);
            }

            // After the cool-down it is tried again; this time it starts.
            Files.delete(marker);
            awaitTrue(() -> state(bridge, "flaky-0").status() == WorkerState.Status.LIVE, "flaky-0 live again");
            assertTrue(Instant.now().isAfter(down.until().minusMillis(50)), "started before its cool-down ended");
            assertEquals(3, state(bridge, "flaky-0").restarts());
            assertArrayEquals(new byte[]{ 2 }, bridge.call("echo", new byte[]{ 2 }).join());
        }
        finally
        {
            BRIDGE_LOG.removeHandler(capture);
        }
    }

    @Test
    void callsThatThrowAfterRoutingDoNotLeakTheLeastLoadedCount()
    {
        final Bridge.Context ctx = NativeWorkers.context(0, 1);
        try (Bridge bridge = Bridge.launch(ctx))
        {
            for (int i = 0; i < 1_004; i++)
            {
                assertThrows(IllegalArgumentException.class,
                    () -> bridge.call("echo", new byte[]{ 1 }, Duration.ofSeconds(-1)));
            }
            assertArrayEquals(new byte[]{ 3 }, bridge.call("echo", new byte[]{ 3 }).join());
            final AtomicLong routed = new AtomicLong();
            awaitTrue(() ->
            {
                routed.set(bridge.client().links().stream().mapToLong((l) -> l.routedInFlight.get()).sum());
                return routed.get() == 0;
            }, "no call in flight, as the router counts them: " + routed);
        }
    }

    static WorkerState state(final Bridge bridge, final String workerId)
    {
        return bridge.workerStates().stream().filter((s) -> s.workerId().equals(workerId)).findFirst().orElseThrow();
    }

    static Handler capture(final List<String> messages)
    {
        final Handler handler = new Handler()
        {
            public void publish(final LogRecord record)
            {
                synchronized (messages)
                {
                    messages.add(record.getMessage());
                }
            }

            public void flush()
            {
            }

            public void close()
            {
            }
        };
        BRIDGE_LOG.addHandler(handler);
        return handler;
    }
}
