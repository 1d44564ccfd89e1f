package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Bridge}: embedded launch and close, fail-fast on a killed or hung worker, supervision,
 * routing across several instances. Real worker processes, a real driver.
 * <p>
 * Timing: the design declares a dead worker within one second (process exit: at once; silence:
 * {@link Bridge.Context#livenessTimeout()} = 800 ms). The tests assert a generous 2 s, on a
 * shared 2-core machine, against calls whose deadline is 30 s or more.
 */
class BridgeLifecycleTest
{
    private static final Duration FAIL_FAST_BOUND = Duration.ofSeconds(2);
    private static final Duration LONG_DEADLINE = Duration.ofSeconds(60);

    @BeforeAll
    static void buildWorkers() throws Exception
    {
        NativeWorkers.build();
    }

    @Test
    void launchWithNoArgumentsServesBothLanguagesAndCloseLeavesNoProcessOrSharedMemory()
    {
        final Path aeronDir;
        final List<ProcessHandle> processes;
        try (Bridge bridge = Bridge.launch(NativeWorkers.context(1, 1)))
        {
            aeronDir = Path.of(bridge.aeronDirectoryName());
            processes = List.copyOf(bridge.processes().values());
            assertEquals(2, processes.size());
            assertTrue(Files.isDirectory(aeronDir));

            final Set<Language> served = new HashSet<>();
            for (int i = 0; i < 8; i++) // the router alternates between the two least-loaded workers
            {
                assertArrayEquals(new byte[]{ 1, 2 }, bridge.call("echo", new byte[]{ 1, 2 }, LONG_DEADLINE).join());
            }
            for (final WorkerInfo info : bridge.liveWorkers())
            {
                served.add(info.language());
            }
            assertEquals(Set.of(Language.GO, Language.RUST), served);

            final PolybridgeException notFound = failure(bridge.call("no.such.handler", new byte[0]));
            assertEquals(ErrorCode.NOT_FOUND, notFound.errorCode());
            assertTrue(notFound.getMessage().contains("echo"), notFound.getMessage());
        }
        for (final ProcessHandle process : processes)
        {
            assertFalse(process.isAlive(), "worker " + process.pid() + " outlived the bridge");
        }
        assertFalse(Files.exists(aeronDir), "shared-memory directory left behind: " + aeronDir);
        assertFalse(Files.exists(aeronDir.getParent()), "private directory left behind: " + aeronDir.getParent());
    }

    @Test
    void killNineOfOneInstanceUnderLoadFailsItsCallsFastAndTheOthersTakeOverWithNothingLostOrDuplicated()
        throws Exception
    {
        final Bridge.Context ctx = new Bridge.Context()
            .worker(NativeWorkers.go().instances(2).options("--debug-handlers", "--pool-size", "32"));
        final List<ProcessHandle> seen = new ArrayList<>();
        try (Bridge bridge = Bridge.launch(ctx))
        {
            final ProcessHandle victim = bridge.processes().get("go-0");
            seen.addAll(bridge.processes().values());

            // Slow calls keep requests in flight on both instances (routing alternates between them).
            final byte[] sleep6s = littleEndian(6_000);
            final List<CompletableFuture<byte[]>> slow = new ArrayList<>();
            for (int i = 0; i < 8; i++)
            {
                slow.add(bridge.call("debug.sleep", sleep6s, LONG_DEADLINE));
            }
            final List<CompletableFuture<Long>> slowDoneNs = new ArrayList<>();
            for (final CompletableFuture<byte[]> call : slow)
            {
                slowDoneNs.add(call.handle((r, e) -> System.nanoTime()));
            }
            final java.util.concurrent.atomic.AtomicLong killNs = new java.util.concurrent.atomic.AtomicLong();
            awaitTrue(() -> bridge.client().inFlight() >= 8, "slow calls in flight");

            // And a stream of echoes from two threads across the kill.
            final int echoes = 20_000;
            final AtomicIntegerArray completions = new AtomicIntegerArray(echoes);
            final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            final CountDownLatch allDone = new CountDownLatch(echoes);
            final AtomicBoolean killed = new AtomicBoolean();
            final List<Thread> callers = new ArrayList<>();
            for (int t = 0; t < 2; t++)
            {
                final int first = t;
                final Thread caller = new Thread(() ->
                {
                    for (int i = first; i < echoes; i += 2)
                    {
                        final int index = i;
                        final byte[] payload = littleEndian(index);
                        bridge.call("echo", payload, LONG_DEADLINE).whenComplete((response, error) ->
                        {
                            completions.incrementAndGet(index);
                            if (error != null)
                            {
                                final Throwable cause = error instanceof CompletionException ? error.getCause() : error;
                                if (!(cause instanceof PolybridgeException pe &&
                                    pe.errorCode() == ErrorCode.WORKER_UNAVAILABLE))
                                {
                                    problems.add("echo " + index + ": " + error);
                                }
                            }
                            else if (!java.util.Arrays.equals(payload, response))
                            {
                                problems.add("echo " + index + " came back with another payload");
                            }
                            allDone.countDown();
                        });
                        if (index == echoes / 4 && killed.compareAndSet(false, true))
                        {
                            killNs.set(System.nanoTime());
                            victim.destroyForcibly(); // SIGKILL
                        }
                    }
                }, "caller-" + t);
                caller.start();
                callers.add(caller);
            }
            for (final Thread caller : callers)
            {
                caller.join();
            }
            assertTrue(allDone.await(2, TimeUnit.MINUTES), () -> allDone.getCount() + " echoes never completed");
            assertEquals(List.of(), problems.stream().limit(10).toList());
            for (int i = 0; i < echoes; i++)
            {
                if (completions.get(i) != 1)
                {
                    assertEquals(1, completions.get(i), "echo " + i + " completed " + completions.get(i) + " times");
                }
            }

            int failedFast = 0;
            for (int i = 0; i < slow.size(); i++)
            {
                final CompletableFuture<byte[]> call = slow.get(i);
                try
                {
                    call.get(30, TimeUnit.SECONDS);
                }
                catch (final java.util.concurrent.ExecutionException ex)
                {
                    final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, ex.getCause());
                    assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode(), cause.getMessage());
                    assertTrue(cause.getMessage().contains("go-0"), cause.getMessage());
                    failedFast++;
                }
            }
            assertTrue(failedFast >= 1 && failedFast < slow.size(),
                failedFast + " of " + slow.size() + " slow calls failed; the ones on go-1 must succeed");
            // The slow calls on go-0 failed long before their 6 s sleep or 60 s deadline.
            for (int i = 0; i < slow.size(); i++)
            {
                if (slow.get(i).isCompletedExceptionally())
                {
                    final long sinceKillMs = TimeUnit.NANOSECONDS.toMillis(slowDoneNs.get(i).get() - killNs.get());
                    assertTrue(sinceKillMs < FAIL_FAST_BOUND.toMillis(), "a call to the killed worker took " +
                        sinceKillMs + " ms after the kill to fail");
                }
            }

            // Supervision: go-0 comes back on its own, and new calls reach it.
            awaitTrue(() -> bridge.restarts("go-0") >= 1 && bridge.isReady("go-0"), "go-0 restarted");
            final ProcessHandle replacement = bridge.processes().get("go-0");
            seen.add(replacement);
            assertNotEquals(victim.pid(), replacement.pid());
            for (int i = 0; i < 20; i++)
            {
                assertArrayEquals(littleEndian(i), bridge.call("echo", littleEndian(i)).join());
            }
            final WorkerStub restarted = bridge.client().awaitWorker("go-0", Duration.ofSeconds(30));
            assertEquals(replacement.pid(), restarted.info().pid());
            assertArrayEquals(new byte[]{ 7 }, restarted.call("echo", new byte[]{ 7 }).join());
        }
        for (final ProcessHandle process : seen)
        {
            assertFalse(process.isAlive(), "worker " + process.pid() + " outlived the bridge");
        }
    }

    @Test
    void hungWorkerIsDetectedByItsMissingHeartbeatsItsCallsFailFastAndItIsReplaced() throws Exception
    {
        final Bridge.Context ctx = NativeWorkers.context(0, 1);
        ProcessHandle hung = null;
        try (Bridge bridge = Bridge.launch(ctx))
        {
            hung = bridge.processes().get("rust-0");
            assertArrayEquals(new byte[]{ 1 }, bridge.call("echo", new byte[]{ 1 }).join());
            signal("STOP", hung.pid());

            final long sentNs = System.nanoTime();
            final CompletableFuture<byte[]> stuck = bridge.call("echo", new byte[]{ 2 }, LONG_DEADLINE);
            final PolybridgeException failure = failure(stuck);
            final long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentNs);
            assertEquals(ErrorCode.WORKER_UNAVAILABLE, failure.errorCode(), failure.getMessage());
            assertTrue(tookMs < FAIL_FAST_BOUND.toMillis(), "a call to the hung worker took " + tookMs + " ms to fail");

            // The supervisor kills the hung process and starts another.
            awaitTrue(() -> bridge.restarts("rust-0") >= 1 && bridge.isReady("rust-0"), "rust-0 replaced");
            assertNotEquals(hung.pid(), bridge.processes().get("rust-0").pid());
            assertArrayEquals(new byte[]{ 3 }, bridge.call("echo", new byte[]{ 3 }).join());
        }
        finally
        {
            if (hung != null && hung.isAlive())
            {
                signal("CONT", hung.pid());
                hung.destroyForcibly();
            }
        }
        assertFalse(hung.isAlive());
    }

    @Test
    void aWorkerOfAnotherSchemaVersionIsNeverCalledAndItsHandlersFailWithVersionMismatch()
    {
        final Bridge.Context ctx = new Bridge.Context();
        try (Bridge bridge = Bridge.launch(ctx);
            JavaEchoWorker future = new JavaEchoWorker(bridge.aeronDirectoryName(), "future-0", 401, 99))
        {
            awaitTrue(() -> bridge.describeWorkers().toString().contains("future-0"), "future-0 announced");
            final PolybridgeException mismatch = failure(bridge.call("echo", new byte[]{ 1 }));
            assertEquals(ErrorCode.VERSION_MISMATCH, mismatch.errorCode());
            assertTrue(mismatch.getMessage().contains("version 99") && mismatch.getMessage().contains("version " + io.polybridge.codecs.RequestEncoder.SCHEMA_VERSION),
                mismatch.getMessage());

            try (JavaEchoWorker current = new JavaEchoWorker(bridge.aeronDirectoryName(), "current-0", 402,
                io.polybridge.codecs.RequestEncoder.SCHEMA_VERSION))
            {
                awaitTrue(() -> bridge.liveWorkers().stream().anyMatch((w) -> w.workerId().equals("current-0")),
                    "current-0 announced");
                for (int i = 0; i < 10; i++)
                {
                    assertArrayEquals(new byte[]{ (byte)i }, bridge.call("echo", new byte[]{ (byte)i }).join());
                }
            }
        }
    }

    @Test
    void closeDrainsCallsInFlightThenRefusesNewOnes() throws Exception
    {
        final Bridge.Context ctx = new Bridge.Context()
            .worker(NativeWorkers.rust().options("--debug-handlers"));
        final CompletableFuture<byte[]> slow;
        final Bridge bridge = Bridge.launch(ctx);
        try
        {
            slow = bridge.call("debug.sleep", littleEndian(300), LONG_DEADLINE);
            awaitTrue(() -> bridge.client().inFlight() == 1, "the slow call in flight");
        }
        finally
        {
            bridge.close();
        }
        assertArrayEquals(littleEndian(300), slow.get(0, TimeUnit.SECONDS), "close waited for the call in flight");
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, failure(bridge.call("echo", new byte[0])).errorCode());
    }

    @Test
    void aSecondCloseWaitsForTheFirstSoNeitherReturnsWhileTheWorkerRuns() throws Exception
    {
        // The shutdown hook's close while the application's is running: it used to return at once and
        // let the JVM halt mid-close, leaving the workers running.
        final Bridge.Context ctx = new Bridge.Context()
            .worker(NativeWorkers.rust().options("--debug-handlers")).shutdownHook(false);
        final Bridge bridge = Bridge.launch(ctx);
        final ProcessHandle worker;
        final Thread[] closers = new Thread[2];
        final boolean[] workerAliveAtReturn = new boolean[2];
        try
        {
            worker = bridge.processes().values().iterator().next();
            final CompletableFuture<byte[]> slow = bridge.call("debug.sleep", littleEndian(500), LONG_DEADLINE);
            awaitTrue(() -> bridge.client().inFlight() == 1, "the slow call in flight");
            for (int i = 0; i < closers.length; i++)
            {
                final int index = i;
                closers[i] = new Thread(() ->
                {
                    bridge.close();
                    workerAliveAtReturn[index] = worker.isAlive();
                }, "closer-" + i);
            }
            closers[0].start();
            awaitTrue(() -> bridge.call("echo", new byte[0]).isCompletedExceptionally(), "the first close running");
            closers[1].start(); // while the first drains the slow call
            for (final Thread closer : closers)
            {
                closer.join(TimeUnit.SECONDS.toMillis(60));
                assertFalse(closer.isAlive(), closer.getName() + " returned within 60 s");
            }
            assertArrayEquals(littleEndian(500), slow.get(0, TimeUnit.SECONDS), "the first close drained the call");
        }
        finally
        {
            bridge.close();
        }
        assertFalse(workerAliveAtReturn[0], "the worker was stopped when the first close returned");
        assertFalse(workerAliveAtReturn[1], "the worker was stopped when the second close returned");
    }

    static PolybridgeException failure(final CompletableFuture<?> call)
    {
        try
        {
            call.get(30, TimeUnit.SECONDS);
        }
        catch (final java.util.concurrent.ExecutionException ex)
        {
            return assertInstanceOf(PolybridgeException.class, ex.getCause());
        }
        catch (final Exception ex)
        {
            throw new AssertionError("call did not fail within 30 s", ex);
        }
        throw new AssertionError("call succeeded; expected a failure");
    }

    static byte[] littleEndian(final int value)
    {
        return new byte[]{ (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24) };
    }

    static void awaitTrue(final BooleanSupplier condition, final String what)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() < deadline, what + ": not within 60 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    private static void signal(final String signal, final long pid) throws IOException, InterruptedException
    {
        final Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertTrue(kill.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue(), "kill -" + signal + " " + pid);
    }
}
