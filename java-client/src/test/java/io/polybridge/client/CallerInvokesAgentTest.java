package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static io.polybridge.client.BridgeLifecycleTest.awaitTrue;
import static io.polybridge.client.BridgeLifecycleTest.littleEndian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invoker mode ({@link PolybridgeClient.Context#callerInvokesAgent(boolean)}) against real Go and Rust
 * workers: a thread waiting on its raw call polls for the response and completes the future itself,
 * and every guarantee of a future still holds (timeouts, cancel, interrupts, a worker dying, exactly
 * once). The completion executor can be held: then only a waiting caller can complete a call, which
 * proves it did. Bounds are seconds where the defects they catch cost a hang.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CallerInvokesAgentTest
{
    private static final Duration LONG = Duration.ofSeconds(30);

    private final HeldExecutor executor = new HeldExecutor();
    private Bridge bridge;

    @BeforeAll
    void launch() throws Exception
    {
        NativeWorkers.build();
        final Bridge.Context ctx = new Bridge.Context()
            .worker(NativeWorkers.go().options("--debug-handlers", "--pool-size", "8"))
            .worker(NativeWorkers.rust().options("--debug-handlers"))
            .awaitHandlers("debug.sleep");
        ctx.client().completionExecutor(executor);
        bridge = Bridge.launch(ctx);
    }

    @AfterEach
    void release()
    {
        executor.release();
    }

    @AfterAll
    void close()
    {
        if (bridge != null)
        {
            executor.release();
            bridge.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void joinGetAndTimedGetCompleteTheCallOnTheWaitingThreadWithoutTheExecutor(final String workerId)
        throws Exception
    {
        final WorkerStub worker = bridge.client().awaitWorker(workerId, LONG);
        executor.hold(); // from here only the waiting thread can complete a call
        for (int i = 0; i < 300; i++)
        {
            final byte[] payload = { (byte)i, 2, 3 };
            final CompletableFuture<byte[]> call = worker.call("echo", payload, LONG);
            final AtomicReference<Thread> completer = new AtomicReference<>();
            call.whenComplete((bytes, error) -> completer.set(Thread.currentThread()));
            final byte[] echoed = switch (i % 3)
            {
                case 0 -> call.join();
                case 1 -> call.get();
                default -> call.get(30, TimeUnit.SECONDS);
            };
            assertArrayEquals(payload, echoed);
            assertSame(Thread.currentThread(), completer.get(), "completed on the waiting thread");
        }
    }

    @Test
    void aTypedCallIsWaitedOnThroughItsRawCallAndCompletedOnTheWaitingThread() throws Exception
    {
        final WorkerStub worker = bridge.client().awaitWorker("rust-0", LONG);
        final Method<byte[], byte[]> echo = Method.of("echo", new BytesCodec(), new BytesCodec());
        executor.hold(); // only the waiting thread can complete the raw call, and so the typed one
        for (int i = 0; i < 100; i++)
        {
            final byte[] payload = { (byte)i };
            final CompletableFuture<byte[]> call = worker.call(echo, payload, LONG, java.util.Map.of());
            final AtomicReference<Thread> completer = new AtomicReference<>();
            call.whenComplete((bytes, error) -> completer.set(Thread.currentThread()));
            assertArrayEquals(payload, i % 2 == 0 ? call.join() : call.get(30, TimeUnit.SECONDS));
            assertSame(Thread.currentThread(), completer.get());
        }
        final CompletableFuture<byte[]> slow = bridge.client().awaitWorker("go-0", LONG)
            .call(Method.of("debug.sleep", new BytesCodec(), new BytesCodec()), littleEndian(200), LONG, java.util.Map.of());
        assertThrows(TimeoutException.class, () -> slow.get(10, TimeUnit.MILLISECONDS));
        assertEquals(4, slow.get(30, TimeUnit.SECONDS).length);
    }

    @Test
    void aWaitingCallerAllocatesOnlyTheFutureAndTheResponseBytes()
    {
        final WorkerStub worker = bridge.client().awaitWorker("rust-0", LONG);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        final byte[] payload = new byte[32];
        long perCall = Long.MAX_VALUE;
        for (int round = 0; round < 5; round++) // the JIT settles; the best round counts
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 20_000; i++)
            {
                worker.call("echo", payload, LONG).join();
            }
            perCall = Math.min(perCall, (threads.getCurrentThreadAllocatedBytes() - before) / 20_000);
        }
        System.out.println("a waiting caller allocates " + perCall + " bytes per 32-byte echo");
        // The future (~80 B with its fields) and 48 B of response bytes; a lambda, a Signaller or a boxed
        // key per call would push it well past this.
        assertTrue(perCall <= 200, perCall + " bytes per call");
    }

    @Test
    void aTimedGetThatTimesOutLosesNoCompletionAndTheCallCompletesOnce() throws Exception
    {
        final WorkerStub worker = bridge.client().awaitWorker("go-0", LONG);
        final CompletableFuture<byte[]> call = worker.call("debug.sleep", littleEndian(300), LONG);
        assertThrows(TimeoutException.class, () -> call.get(20, TimeUnit.MILLISECONDS));
        assertFalse(call.isDone());
        // The response comes after the waiter left: the agent thread hands it to the executor.
        awaitTrue(() -> executor.completions() > 0 || call.isDone(), "the late response reached the executor");
        assertEquals(4, call.get(30, TimeUnit.SECONDS).length);

        executor.hold(); // the waiter leaves, the response arrives while nobody waits and the executor holds it
        final CompletableFuture<byte[]> held = worker.call("debug.sleep", littleEndian(200), LONG);
        assertThrows(TimeoutException.class, () -> held.get(10, TimeUnit.MILLISECONDS));
        awaitTrue(() -> executor.queued() > 0, "the response was handed to the executor");
        assertFalse(held.isDone());
        assertEquals(4, held.join().length, "a later join completes it from the outcome set");
        executor.release(); // runs it again: a second completion is a no-op
        assertEquals(4, held.join().length);
    }

    @Test
    void aCallCancelledWhileItsCallerPollsEndsTheWaitAtOnce() throws Exception
    {
        final WorkerStub worker = bridge.client().awaitWorker("go-0", LONG);
        final CompletableFuture<byte[]> call = worker.call("debug.sleep", littleEndian(20_000), LONG);
        final CompletableFuture<Throwable> waiter = joinOnNewThread(call);
        Thread.sleep(50); // let it poll
        assertTrue(call.cancel(true));
        assertInstanceOf(CancellationException.class, waiter.get(5, TimeUnit.SECONDS));
    }

    @Test
    void anInterruptedGetThrowsInterruptedExceptionAndAnInterruptedJoinWaitsOnAndKeepsTheInterrupt()
        throws Exception
    {
        final WorkerStub worker = bridge.client().awaitWorker("rust-0", LONG);
        final CompletableFuture<byte[]> call = worker.call("debug.sleep", littleEndian(300), LONG);
        final CountDownLatch waiting = new CountDownLatch(1);
        final AtomicReference<Object> got = new AtomicReference<>();
        final AtomicReference<Boolean> flagAfter = new AtomicReference<>();
        final Thread getter = new Thread(() ->
        {
            waiting.countDown();
            try
            {
                got.set(call.get());
            }
            catch (final Throwable ex)
            {
                got.set(ex);
            }
            flagAfter.set(Thread.currentThread().isInterrupted());
        }, "get-waiter");
        getter.start();
        waiting.await();
        Thread.sleep(20);
        getter.interrupt();
        getter.join(5_000);
        assertFalse(getter.isAlive());
        assertInstanceOf(InterruptedException.class, got.get(), "as CompletableFuture.get()");
        assertFalse(flagAfter.get(), "the interrupt is consumed by the exception");
        assertEquals(4, call.get(30, TimeUnit.SECONDS).length, "and the call still completes");

        final CompletableFuture<byte[]> joined = worker.call("debug.sleep", littleEndian(300), LONG);
        final Thread joiner = new Thread(() ->
        {
            Thread.currentThread().interrupt();
            got.set(joined.join());
            flagAfter.set(Thread.currentThread().isInterrupted());
        }, "join-waiter");
        joiner.start();
        joiner.join(30_000);
        assertFalse(joiner.isAlive());
        assertInstanceOf(byte[].class, got.get(), "join ignores interrupts, as CompletableFuture.join()");
        assertTrue(flagAfter.get(), "and keeps the interrupt");
    }

    @Test
    void manyThreadsWaitingOnTheirOwnAndOnSharedCallsAllCompleteExactlyOnce() throws Exception
    {
        final WorkerStub go = bridge.client().awaitWorker("go-0", LONG);
        final WorkerStub rust = bridge.client().awaitWorker("rust-0", LONG);
        final List<Thread> threads = new ArrayList<>();
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        for (int t = 0; t < 4; t++)
        {
            final WorkerStub worker = t % 2 == 0 ? go : rust;
            final int id = t;
            threads.add(new Thread(() ->
            {
                try
                {
                    for (int i = 0; i < 500; i++)
                    {
                        final byte[] payload = { (byte)id, (byte)i };
                        final CompletableFuture<byte[]> call = worker.call("echo", payload, LONG);
                        final CompletableFuture<byte[]> second = CompletableFuture.supplyAsync(call::join);
                        assertArrayEquals(payload, i % 2 == 0 ? call.join() : call.get(30, TimeUnit.SECONDS));
                        assertArrayEquals(payload, second.get(30, TimeUnit.SECONDS)); // a second waiter
                    }
                }
                catch (final Throwable ex)
                {
                    errors.add(ex);
                }
            }, "caller-" + t));
        }
        threads.forEach(Thread::start);
        for (final Thread thread : threads)
        {
            thread.join(120_000);
            assertFalse(thread.isAlive());
        }
        assertTrue(errors.isEmpty(), () -> "failed: " + errors);
        awaitTrue(() -> bridge.client().inFlight() == 0, "every call left the window");
    }

    @Test
    void aCallerWaitingWhenItsWorkerIsKilledFailsAtOnceAndTheWorkerIsReplaced() throws Exception
    {
        final WorkerStub worker = bridge.client().awaitWorker("go-0", LONG);
        final long pid = worker.info().pid();
        final CompletableFuture<byte[]> call = worker.call("debug.sleep", littleEndian(20_000), LONG);
        final CompletableFuture<Throwable> waiter = joinOnNewThread(call);
        Thread.sleep(50);
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        final Throwable failure = waiter.get(10, TimeUnit.SECONDS);
        assertInstanceOf(CompletionException.class, failure);
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, failure.getCause());
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode());
        awaitTrue(() -> bridge.workerStates().stream().anyMatch((state) -> state.workerId().equals("go-0") &&
            state.status() == WorkerState.Status.LIVE && state.pid() != pid), "go-0 replaced");
    }

    /** A thread of its own joins the call (and so polls for it); what the join threw, or null. */
    private static CompletableFuture<Throwable> joinOnNewThread(final CompletableFuture<byte[]> call)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                call.join();
                return null;
            }
            catch (final Throwable ex)
            {
                return ex;
            }
        }, (task) -> new Thread(task, "waiter").start());
    }

    /** The completion executor, which a test can hold: tasks queue until it is released. */
    private static final class HeldExecutor implements Executor
    {
        private final ConcurrentLinkedQueue<Runnable> queued = new ConcurrentLinkedQueue<>();
        private volatile boolean held;
        private final AtomicLong completions = new AtomicLong();

        public void execute(final Runnable task)
        {
            if (held)
            {
                queued.add(task);
            }
            else
            {
                completions.incrementAndGet();
                ForkJoinPool.commonPool().execute(task);
            }
        }

        void hold()
        {
            held = true;
        }

        synchronized void release()
        {
            held = false;
            Runnable task;
            while ((task = queued.poll()) != null)
            {
                task.run();
            }
        }

        int queued()
        {
            return queued.size();
        }

        long completions()
        {
            return completions.get();
        }
    }
}
