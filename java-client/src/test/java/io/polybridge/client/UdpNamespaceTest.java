package io.polybridge.client;

import io.aeron.AeronCounters;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The same API across hosts (issue 16): the Go and Rust test workers in network namespace B, the
 * Java client on the driver of namespace A, everything between them Aeron UDP over a veth pair
 * ({@link NamespaceHosts}). Cases: echo up to the cross-host limit, 10,000 concurrent calls exactly once,
 * deadline, cancel, a worker SIGKILL, a partition (the veth down, then up). Each runs against both workers, once without loss and once with
 * 5 % of datagrams dropped by Aeron's debug receive channel endpoint on both drivers. Needs root and
 * iproute2 ({@code ip netns}); skipped otherwise. Setting two hosts up costs seconds, so one class
 * holds every case for one set of hosts (hence its length).
 */
class UdpNamespaceTest
{
    /** Loss-free hosts: fast, and the baseline for the lossy run. */
    @Nested
    class WithoutLoss extends Cases
    {
        WithoutLoss()
        {
            super("noloss", 0);
        }
    }

    /** Every datagram and status message dropped with probability 5 %, on both drivers. */
    @Nested
    class WithFivePercentLoss extends Cases
    {
        WithFivePercentLoss()
        {
            super("loss", 0.05);
        }
    }

    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    abstract static class Cases
    {
        private static final int REQUEST_PORT = 40100;
        private static final int ANNOUNCE_PORT = 40102;
        private static final int REPLY_PORT = 41000;
        private static final int CONCURRENT_CALLS = 10_000;
        private static final int MAX_IN_FLIGHT = 1024;
        /** Long enough for loss recovery under CI load: a call that should succeed never times out. */
        private static final Duration SAFE_DEADLINE = Duration.ofSeconds(60);
        private static final Duration LIVENESS = Duration.ofSeconds(3);

        private final String tag;
        private final double lossRate;
        private final Map<String, WorkerUnderTest> workers = new ConcurrentHashMap<>();
        private final Map<String, Boolean> cancelled = new ConcurrentHashMap<>();
        private NamespaceHosts hosts;
        private PolybridgeClient client;

        Cases(final String tag, final double lossRate)
        {
            this.tag = tag;
            this.lossRate = lossRate;
        }

        private record WorkerUnderTest(String id, Process process, Path log)
        {
        }

        @BeforeAll
        void startHostsWorkersAndClient() throws Exception
        {
            final String unavailable = NamespaceHosts.unavailableReason();
            assumeTrue(unavailable == null, () -> "UdpNamespaceTest skipped: " + unavailable +
                "; it needs root and iproute2 to make two network namespaces joined by a veth pair");
            NativeWorkers.build();
            final List<String> driverProperties = new ArrayList<>();
            if (lossRate > 0)
            {
                // Both directions, data and status messages/NAKs: every datagram a driver receives
                // may be dropped, and so may every one its receivers send back.
                driverProperties.addAll(List.of(
                    "aeron.ReceiveChannelEndpoint.supplier=io.aeron.driver.ext.DebugReceiveChannelEndpointSupplier",
                    "aeron.debug.receive.data.loss.rate=" + lossRate,
                    "aeron.debug.receive.data.loss.seed=16",
                    "aeron.debug.receive.control.loss.rate=" + lossRate,
                    "aeron.debug.receive.control.loss.seed=61"));
            }
            final Path logs = Path.of("target", "udp-namespace", tag).toAbsolutePath();
            hosts = NamespaceHosts.start(tag, driverProperties, logs);
            startWorker(Language.GO, "go-0", 100);
            startWorker(Language.RUST, "rust-0", 200);
            client = PolybridgeClient.connect(new PolybridgeClient.Context()
                .aeronDirectoryName(hosts.dirA.toString())
                .replyChannel("aeron:udp?endpoint=" + hosts.addressA + ":" + REPLY_PORT)
                .announceChannels(List.of("aeron:udp?control=" + hosts.addressB + ":" + ANNOUNCE_PORT))
                .maxInFlight(MAX_IN_FLIGHT)
                .workerLivenessTimeout(LIVENESS)
                .defaultTimeout(SAFE_DEADLINE));
        }

        private WorkerUnderTest startWorker(final Language language, final String id, final int stream)
            throws Exception
        {
            final Path log = hosts.logs.resolve(id + ".log");
            final Process process = hosts.startInB(List.of(
                NativeWorkers.binary(language).toAbsolutePath().toString(),
                "--aeron-dir", hosts.dirB.toString(),
                "--worker-id", id,
                "--request-stream", Integer.toString(stream),
                "--request-channel", "aeron:udp?endpoint=" + hosts.addressB + ":" + REQUEST_PORT,
                "--announce-channel",
                "aeron:udp?control=" + hosts.addressB + ":" + ANNOUNCE_PORT + "|control-mode=dynamic|term-length=64k",
                "--announce-interval-ms", "200",
                "--pool-size", "4",
                "--debug-handlers"), log);
            final WorkerUnderTest worker = new WorkerUnderTest(id, process, log);
            workers.put(id, worker);
            return worker;
        }

        @AfterAll
        void stopEverythingAndLeaveNothingBehind() throws Exception
        {
            if (hosts == null)
            {
                return;
            }
            final List<String> problems = new ArrayList<>();
            try
            {
                if (client != null)
                {
                    if (client.inFlight() != 0)
                    {
                        problems.add(client.inFlight() + " calls still in flight");
                    }
                    if (client.malformedFrames() != 0)
                    {
                        problems.add(client.malformedFrames() + " malformed frames reached the client");
                    }
                    client.close();
                }
                for (final WorkerUnderTest worker : workers.values())
                {
                    if (!worker.process.isAlive() && worker.id.contains("victim"))
                    {
                        continue; // SIGKILLed on purpose
                    }
                    worker.process.destroy();
                    if (!worker.process.waitFor(30, TimeUnit.SECONDS))
                    {
                        problems.add(worker.id + " did not exit on SIGTERM; see " + worker.log);
                    }
                    else if (worker.process.exitValue() != 0)
                    {
                        problems.add(worker.id + " exited " + worker.process.exitValue() + "; see " + worker.log);
                    }
                    else if (cancelled.containsKey(worker.id) && cancelledCount(worker.log) < 1)
                    {
                        problems.add(worker.id + " never saw the Cancel sent across hosts (no cancelled=N>0 in " +
                            worker.log + ")");
                    }
                }
            }
            finally
            {
                hosts.close();
            }
            for (final WorkerUnderTest worker : workers.values())
            {
                assertFalse(worker.process.isAlive(), worker.id + " still runs");
            }
            final List<String> namespaces = NamespaceHosts.namespaces();
            assertFalse(namespaces.contains(hosts.nsA) || namespaces.contains(hosts.nsB), "namespaces left: " + namespaces);
            assertFalse(Files.exists(hosts.dirA), "driver directory left: " + hosts.dirA);
            assertFalse(Files.exists(hosts.dirB), "driver directory left: " + hosts.dirB);
            assertEquals(List.of(), problems);
        }

        /** The worker's last log line counts requests a Cancel reached (Go: slog, Rust: key=value). */
        private static long cancelledCount(final Path log)
        {
            final Matcher m = Pattern.compile("\\bcancelled=(\\d+)").matcher(NamespaceHosts.read(log));
            long last = -1;
            while (m.find())
            {
                last = Long.parseLong(m.group(1));
            }
            return last;
        }

        private WorkerStub await(final String workerId)
        {
            return client.awaitWorker(workerId, Duration.ofSeconds(60));
        }

        /** The client's agent frees a window slot after the future completes: shortly after, not at once. */
        private void awaitNoCallInFlight() throws InterruptedException
        {
            final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (client.inFlight() != 0)
            {
                assertTrue(System.nanoTime() < deadlineNs, () -> client.inFlight() + " calls still in flight");
                Thread.sleep(10);
            }
        }

        private static ErrorCode errorCodeOf(final CompletableFuture<?> call)
        {
            final ExecutionException thrown = assertThrows(ExecutionException.class, () -> call.get(2, TimeUnit.MINUTES));
            return assertInstanceOf(PolybridgeException.class, thrown.getCause()).errorCode();
        }

        @Order(1)
        @ParameterizedTest(name = "{0}")
        @ValueSource(strings = { "go-0", "rust-0" })
        void echoesEverySizeUpToTheCrossHostLimitAcrossTheVethAndRefusesOneByteMore(final String workerId)
            throws Exception
        {
            final WorkerStub worker = await(workerId);
            assertEquals("aeron:udp?endpoint=" + hosts.addressB + ":" + REQUEST_PORT, worker.info().requestChannel(),
                "the request channel the worker advertised (its --request-channel)");
            final byte[] block = new byte[2 * 1024 * 1024 + 1];
            new SplittableRandom(workerId.hashCode()).nextBytes(block);
            final UnsafeBuffer buffer = new UnsafeBuffer(block);
            final long[] before = hosts.vethBytes();

            // The limit is the request publication's maxMessageLength (term-length/8: 2 MiB at 16m) less
            // this call's envelope: the first size that is not TOO_LARGE, found without sending anything.
            int limit = 2 * 1024 * 1024 + 1;
            CompletableFuture<byte[]> atLimit;
            while (true)
            {
                atLimit = worker.call("echo", buffer, 0, limit, SAFE_DEADLINE);
                if (!atLimit.isCompletedExceptionally())
                {
                    break;
                }
                assertEquals(ErrorCode.TOO_LARGE, errorCodeOf(atLimit), "size " + limit);
                limit--;
                assertTrue(limit > 2 * 1024 * 1024 - 4096, "no size near 2 MiB fits: " + limit);
            }
            assertArrayEquals(Arrays.copyOf(block, limit), atLimit.get(2, TimeUnit.MINUTES), "echo at the limit");
            assertEquals(ErrorCode.TOO_LARGE, errorCodeOf(worker.call("echo", buffer, 0, limit + 1, SAFE_DEADLINE)));

            long echoed = limit;
            for (final int size : new int[]{ 0, 1, 1407, 1409, 65_536, 1024 * 1024 })
            {
                final byte[] response = worker.call("echo", buffer, 7, size, SAFE_DEADLINE).get(2, TimeUnit.MINUTES);
                assertArrayEquals(Arrays.copyOfRange(block, 7, 7 + size), response, "echo of " + size + " bytes");
                echoed += size;
            }
            final long[] after = hosts.vethBytes();
            System.out.printf("%s (%s): limit %d bytes; veth A sent %d, received %d bytes for %d echoed%n",
                workerId, tag, limit, after[0] - before[0], after[1] - before[1], echoed);
            assertTrue(after[0] - before[0] >= echoed, "requests did not cross the veth: " + (after[0] - before[0]));
            assertTrue(after[1] - before[1] >= echoed, "replies did not cross the veth: " + (after[1] - before[1]));
        }

        @Order(2)
        @ParameterizedTest(name = "{0}")
        @ValueSource(strings = { "go-0", "rust-0" })
        void tenThousandConcurrentCallsThroughTheInFlightWindowCompleteExactlyOnce(final String workerId)
            throws Exception
        {
            final WorkerStub worker = await(workerId);
            final long unmatchedBefore = client.unmatchedResponses();
            final long naksBefore = hosts.driverCounter(AeronCounters.SYSTEM_COUNTER_ID_NAK_MESSAGES_SENT);
            final AtomicIntegerArray completions = new AtomicIntegerArray(CONCURRENT_CALLS);
            final AtomicLong wrong = new AtomicLong();
            final CountDownLatch allDone = new CountDownLatch(CONCURRENT_CALLS);
            final List<Thread> callers = new ArrayList<>();
            final long startNs = System.nanoTime();
            for (int t = 0; t < 2; t++)
            {
                final int first = t;
                final Thread caller = new Thread(() ->
                {
                    final UnsafeBuffer payload = new UnsafeBuffer(new byte[32]);
                    for (int i = first; i < CONCURRENT_CALLS; i += 2)
                    {
                        final int index = i;
                        payload.putInt(0, index);
                        payload.putInt(28, ~index);
                        worker.call("echo", payload, 0, 32, SAFE_DEADLINE).whenComplete((response, error) ->
                        {
                            completions.incrementAndGet(index);
                            if (error != null || response.length != 32 ||
                                new UnsafeBuffer(response).getInt(0) != index ||
                                new UnsafeBuffer(response).getInt(28) != ~index)
                            {
                                wrong.incrementAndGet();
                            }
                            allDone.countDown();
                        });
                    }
                }, "udp-caller-" + t);
                caller.start();
                callers.add(caller);
            }
            for (final Thread caller : callers)
            {
                caller.join();
            }
            assertTrue(allDone.await(3, TimeUnit.MINUTES), () -> allDone.getCount() + " calls never completed");
            final long naks = hosts.driverCounter(AeronCounters.SYSTEM_COUNTER_ID_NAK_MESSAGES_SENT) - naksBefore;
            System.out.printf("%s (%s): %d concurrent calls in %d ms, %d NAKs sent by the drivers%n", workerId, tag,
                CONCURRENT_CALLS, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs), naks);
            if (lossRate > 0)
            {
                assertTrue(naks > 0, "no NAKs: the debug endpoint dropped nothing, so loss was not tested");
            }
            assertEquals(0, wrong.get(), "calls failed or came back with another call's payload");
            for (int i = 0; i < CONCURRENT_CALLS; i++)
            {
                if (completions.get(i) != 1)
                {
                    assertEquals(1, completions.get(i), "call " + i + " completed " + completions.get(i) + " times");
                }
            }
            assertEquals(unmatchedBefore, client.unmatchedResponses(), "responses arrived twice or after their deadline");
            awaitNoCallInFlight();
        }

        @Order(3)
        @ParameterizedTest(name = "{0}")
        @ValueSource(strings = { "go-0", "rust-0" })
        void aHandlerSleepingPastTheDeadlineFailsWithTimeoutAndItsLateReplyIsIgnored(final String workerId)
            throws Exception
        {
            final WorkerStub worker = await(workerId);
            final long unmatchedBefore = client.unmatchedResponses();
            final byte[] sleep2Seconds = { (byte)2000, (byte)(2000 >> 8), 0, 0 }; // debug.sleep ignores deadlines

            assertEquals(ErrorCode.TIMEOUT, errorCodeOf(worker.call("debug.sleep", sleep2Seconds, Duration.ofSeconds(1))));
            final long lateReplyBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (client.unmatchedResponses() == unmatchedBefore)
            {
                assertTrue(System.nanoTime() < lateReplyBy, "the late reply never crossed back");
                Thread.sleep(10);
            }
            awaitNoCallInFlight();
            assertArrayEquals(new byte[]{ 5 }, worker.call("echo", new byte[]{ 5 }, SAFE_DEADLINE).get(1, TimeUnit.MINUTES));
        }

        @Order(4)
        @ParameterizedTest(name = "{0}")
        @ValueSource(strings = { "go-0", "rust-0" })
        void cancellingACallCompletesItAsCancelledAndTheCancelReachesTheWorker(final String workerId)
            throws Exception
        {
            final WorkerStub worker = await(workerId);
            final byte[] sleep3Seconds = { (byte)3000, (byte)(3000 >> 8), 0, 0 };
            final CompletableFuture<byte[]> call = worker.call("debug.sleep", sleep3Seconds, SAFE_DEADLINE);
            Thread.sleep(300); // the Request is on its way: the Cancel follows it on the same publication

            assertTrue(call.cancel(true));
            assertTrue(call.isCancelled());
            assertThrows(CancellationException.class, call::join);
            cancelled.put(workerId, true); // the worker's counters say at exit whether the Cancel arrived
            awaitNoCallInFlight();
            assertArrayEquals(new byte[]{ 6 }, worker.call("echo", new byte[]{ 6 }, SAFE_DEADLINE).get(1, TimeUnit.MINUTES));
        }

        @Order(5)
        @ParameterizedTest(name = "{0}")
        @ValueSource(strings = { "go", "rust" })
        void aSigkilledWorkerFailsItsCallsFastWithWorkerUnavailable(final String language) throws Exception
        {
            final String victimId = language + "-victim";
            final WorkerUnderTest victim = startWorker(
                "go".equals(language) ? Language.GO : Language.RUST, victimId, "go".equals(language) ? 150 : 250);
            final WorkerStub worker = await(victimId);
            final byte[] sleep20Seconds = { (byte)20_000, (byte)(20_000 >> 8), 0, 0 };
            final List<CompletableFuture<byte[]>> calls = new ArrayList<>();
            for (int i = 0; i < 8; i++)
            {
                calls.add(worker.call("debug.sleep", sleep20Seconds, SAFE_DEADLINE));
            }
            Thread.sleep(500);

            final long killedNs = System.nanoTime();
            victim.process.destroyForcibly(); // SIGKILL: no goodbye, its announcements just stop
            for (final CompletableFuture<byte[]> call : calls)
            {
                final CompletionException thrown = assertThrows(CompletionException.class, call::join);
                assertEquals(ErrorCode.WORKER_UNAVAILABLE,
                    assertInstanceOf(PolybridgeException.class, thrown.getCause()).errorCode());
            }
            final long failedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
            System.out.printf("%s (%s): %d calls failed WORKER_UNAVAILABLE %d ms after SIGKILL (liveness %s)%n",
                victimId, tag, calls.size(), failedAfterMs, LIVENESS);
            // Generous: the point is "long before the 60 s deadline", not a latency figure.
            assertTrue(failedAfterMs < 20_000, "calls failed only after " + failedAfterMs + " ms");
            assertTrue(victim.process.waitFor(10, TimeUnit.SECONDS));
            awaitNoCallInFlight();

            final String survivor = language + "-0";
            assertArrayEquals(new byte[]{ 7 }, await(survivor).call("echo", new byte[]{ 7 }, SAFE_DEADLINE)
                .get(1, TimeUnit.MINUTES), survivor + " answers after its neighbour's SIGKILL");
        }

        @Order(6)
        @Test
        void aPartitionFailsCallsFastAndTheWorkersAreCalledAgainOnceItHeals() throws Exception
        {
            final byte[] sleep1Second = { (byte)1000, (byte)(1000 >> 8), 0, 0 };
            final List<CompletableFuture<byte[]>> calls = new ArrayList<>();
            final Map<String, WorkerStub> stubs = Map.of("go-0", await("go-0"), "rust-0", await("rust-0"));
            for (final WorkerStub worker : stubs.values())
            {
                for (int i = 0; i < 4; i++)
                {
                    calls.add(worker.call("debug.sleep", sleep1Second, SAFE_DEADLINE));
                }
            }
            final long cutNs = System.nanoTime();
            hosts.connected(false);
            try
            {
                for (final CompletableFuture<byte[]> call : calls)
                {
                    final CompletionException thrown = assertThrows(CompletionException.class, call::join);
                    assertEquals(ErrorCode.WORKER_UNAVAILABLE,
                        assertInstanceOf(PolybridgeException.class, thrown.getCause()).errorCode());
                }
                final long failedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cutNs);
                System.out.printf("partition (%s): %d calls failed WORKER_UNAVAILABLE %d ms after the cut%n",
                    tag, calls.size(), failedAfterMs);
                assertTrue(failedAfterMs < 20_000, "calls failed only after " + failedAfterMs + " ms");
                assertEquals(ErrorCode.WORKER_UNAVAILABLE,
                    errorCodeOf(stubs.get("go-0").call("echo", new byte[]{ 1 }, SAFE_DEADLINE)), "a new call, cut off");
            }
            finally
            {
                hosts.connected(true);
            }
            final long healedNs = System.nanoTime();
            for (final String workerId : List.of("go-0", "rust-0"))
            {
                final long deadlineNs = healedNs + TimeUnit.SECONDS.toNanos(60);
                while (!client.isLive(stubs.get(workerId).info().requestStreamId()))
                {
                    assertTrue(System.nanoTime() < deadlineNs, workerId + " never announced itself again");
                    Thread.sleep(50);
                }
                assertArrayEquals(new byte[]{ 8 }, stubs.get(workerId).call("echo", new byte[]{ 8 }, SAFE_DEADLINE)
                    .get(1, TimeUnit.MINUTES), workerId + " answers after the partition healed");
            }
            System.out.printf("partition (%s): both workers answered %d ms after it healed%n", tag,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - healedNs));
            awaitNoCallInFlight();
        }
    }
}
