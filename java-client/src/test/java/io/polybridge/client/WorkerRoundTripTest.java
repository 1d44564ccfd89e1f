package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.Subscription;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Java → Go → Java and Java → Rust → Java through a real media driver and real worker processes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WorkerRoundTripTest
{
    private static final int REQUESTS = 10_000;
    private static final int CALLER_THREADS = 4;
    private static final int MAX_PAYLOAD = 1024 * 1024;

    private EmbeddedMediaDriver driver;
    private WorkerProcess go;
    private WorkerProcess rust;
    private PolybridgeClient client;
    private Path aeronDir;

    @BeforeAll
    void startDriverWorkersAndClient() throws Exception
    {
        NativeWorkers.build();
        driver = EmbeddedMediaDriver.launch();
        aeronDir = Path.of(driver.aeronDirectoryName());
        final Path logs = Path.of("target", "worker-logs");
        final List<String> debugHandlers = List.of("--debug-handlers");
        go = WorkerProcess.start(NativeWorkers.binary(Language.GO), driver.aeronDirectoryName(), "go-0", 100,
            logs.resolve("go-0.log"), debugHandlers);
        rust = WorkerProcess.start(NativeWorkers.binary(Language.RUST), driver.aeronDirectoryName(), "rust-0", 200,
            logs.resolve("rust-0.log"), debugHandlers);
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .defaultTimeout(Duration.ofMinutes(5)));
    }

    @AfterAll
    void stopEverythingAndLeaveNothingBehind()
    {
        if (client != null)
        {
            client.close();
        }
        final int goExit = go == null ? 0 : go.stop();
        final int rustExit = rust == null ? 0 : rust.stop();
        if (driver != null)
        {
            driver.close();
        }
        assertEquals(0, goExit, "go worker did not exit cleanly on SIGTERM; see " + go.log());
        assertEquals(0, rustExit, "rust worker did not exit cleanly on SIGTERM; see " + rust.log());
        assertFalse(go.process().isAlive());
        assertFalse(rust.process().isAlive());
        assertFalse(Files.exists(aeronDir), "shared-memory directory left behind: " + aeronDir);
        assertFalse(Files.exists(aeronDir.getParent()), "private directory left behind: " + aeronDir.getParent());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void callsCarryingMetadataAtTheProtocolLimitsAreAnsweredByBothLanguagesTypedAndRaw(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final java.util.Map<String, String> metadata = new java.util.LinkedHashMap<>();
        metadata.put("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        metadata.put("k\u00e9y", "v\u00e4lue \u20ac");
        for (int i = metadata.size(); i < PolybridgeClient.MAX_METADATA_ENTRIES; i++)
        {
            metadata.put(("k" + i + "-").repeat(50).substring(0, PolybridgeClient.MAX_METADATA_KEY_BYTES),
                "v".repeat(i == 2 ? PolybridgeClient.MAX_METADATA_VALUE_BYTES : i));
        }
        final byte[] small = { 1, 2, 3 };
        assertArrayEquals(small, worker.call("echo", small, Duration.ofSeconds(60), metadata).join());
        final byte[] large = new byte[200_000]; // the vectored path
        large[199_999] = 9;
        assertArrayEquals(large, worker.call("echo", large, Duration.ofSeconds(60), metadata).join());

        final Method<byte[], byte[]> echo = Method.of("echo", new BytesCodec(), new BytesCodec());
        assertArrayEquals(small, worker.call(echo, small, Duration.ofSeconds(60), metadata).join());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void tenThousandConcurrentEchoesOfUpToOneMegabyteReturnEveryByteExactlyOnce(final String workerId) throws Exception
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final long unmatchedBefore = client.unmatchedResponses();

        // Payload i is a slice of one random block: nothing per request is kept but its offset and size.
        final SplittableRandom random = new SplittableRandom(workerId.hashCode());
        final byte[] block = new byte[2 * MAX_PAYLOAD];
        for (int i = 0; i < block.length; i++)
        {
            block[i] = (byte)random.nextInt(256);
        }
        final UnsafeBuffer blockBuffer = new UnsafeBuffer(block);
        final int[] offsets = new int[REQUESTS];
        final int[] sizes = new int[REQUESTS];
        for (int i = 0; i < REQUESTS; i++)
        {
            sizes[i] = i == 0 ? 0 : i == 1 ? MAX_PAYLOAD : random.nextInt(MAX_PAYLOAD + 1);
            offsets[i] = random.nextInt(block.length - sizes[i] + 1);
        }

        final AtomicIntegerArray completions = new AtomicIntegerArray(REQUESTS);
        final AtomicLong bytesEchoed = new AtomicLong();
        final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        final List<CompletableFuture<Void>> checks = new ArrayList<>(REQUESTS);
        final List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < CALLER_THREADS; t++)
        {
            final int first = t;
            final List<CompletableFuture<Void>> mine = new ArrayList<>();
            final Thread caller = new Thread(() ->
            {
                for (int i = first; i < REQUESTS; i += CALLER_THREADS)
                {
                    final int index = i;
                    // Keep only the verification stage: the response bytes become garbage once checked.
                    mine.add(worker.call("echo", blockBuffer, offsets[i], sizes[i], Duration.ofMinutes(5))
                        .handle((response, error) ->
                        {
                            completions.incrementAndGet(index);
                            if (error != null)
                            {
                                problems.add("request " + index + " failed: " + error);
                            }
                            else if (bytesEchoed.addAndGet(response.length) < 0 || !Arrays.equals(
                                response, 0, response.length, block, offsets[index], offsets[index] + sizes[index]))
                            {
                                problems.add("request " + index + " of " + sizes[index] + " bytes came back as " +
                                    response.length + " different bytes");
                            }
                            return null;
                        }));
                }
                synchronized (checks)
                {
                    checks.addAll(mine);
                }
            }, "caller-" + t);
            caller.start();
            callers.add(caller);
        }
        for (final Thread caller : callers)
        {
            caller.join();
        }
        CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
        System.out.printf("%s: %d echoes, %d MiB each way%n", workerId, REQUESTS, bytesEchoed.get() >> 20);

        assertEquals(REQUESTS, checks.size());
        assertEquals(Arrays.stream(sizes).asLongStream().sum(), bytesEchoed.get());
        assertEquals(List.of(), problems.stream().limit(10).toList());
        for (int i = 0; i < REQUESTS; i++)
        {
            assertEquals(1, completions.get(i), "request " + i + " completed " + completions.get(i) + " times");
        }
        assertEquals(unmatchedBefore, client.unmatchedResponses(), "responses arrived twice or after their deadline");
        assertEquals(0, client.malformedFrames());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void aMillionSmallEchoesFromEightThreadsEachCompleteExactlyOnce(final String workerId) throws Exception
    {
        final int calls = 1_000_000;
        final int threads = 8;
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final long unmatchedBefore = client.unmatchedResponses();
        final AtomicIntegerArray completions = new AtomicIntegerArray(calls);
        final AtomicLong wrong = new AtomicLong();
        final java.util.concurrent.CountDownLatch allDone = new java.util.concurrent.CountDownLatch(calls);
        final List<Thread> callers = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final int first = t;
            final Thread caller = new Thread(() ->
            {
                final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
                for (int i = first; i < calls; i += threads)
                {
                    final int index = i;
                    payload.putInt(0, index);
                    payload.putInt(4, ~index);
                    worker.call("echo", payload, 0, 8, Duration.ofMinutes(2)).whenComplete((response, error) ->
                    {
                        completions.incrementAndGet(index);
                        if (error != null || response.length != 8 ||
                            new UnsafeBuffer(response).getInt(0) != index || new UnsafeBuffer(response).getInt(4) != ~index)
                        {
                            wrong.incrementAndGet();
                        }
                        allDone.countDown();
                    });
                }
            }, "caller-" + t);
            caller.start();
            callers.add(caller);
        }
        for (final Thread caller : callers)
        {
            caller.join();
        }
        assertTrue(allDone.await(5, TimeUnit.MINUTES), () -> allDone.getCount() + " calls never completed");
        assertEquals(0, wrong.get(), "calls failed or came back with someone else's payload");
        for (int i = 0; i < calls; i++)
        {
            if (completions.get(i) != 1)
            {
                assertEquals(1, completions.get(i), "call " + i + " completed " + completions.get(i) + " times");
            }
        }
        assertEquals(unmatchedBefore, client.unmatchedResponses(), "responses arrived twice or after their deadline");
        assertEquals(0, client.inFlight());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void deadlineShorterThanASlowHandlerGivesTimeoutAndTheLateReplyIsIgnoredAndCounted(final String workerId)
        throws InterruptedException
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final long unmatchedBefore = client.unmatchedResponses();
        final byte[] sleep300Millis = { (byte)300, (byte)(300 >> 8), 0, 0 }; // debug.sleep ignores deadlines

        final CompletionException thrown = assertThrows(CompletionException.class,
            () -> worker.call("debug.sleep", sleep300Millis, Duration.ofMillis(50)).join());
        assertEquals(ErrorCode.TIMEOUT, ((PolybridgeException)thrown.getCause()).errorCode());

        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (client.unmatchedResponses() == unmatchedBefore)
        {
            assertTrue(System.nanoTime() < deadline, "the late reply never arrived");
            Thread.sleep(1);
        }
        assertEquals(unmatchedBefore + 1, client.unmatchedResponses());
        assertEquals(0, client.inFlight());
        assertArrayEquals(new byte[]{ 5 }, worker.call("echo", new byte[]{ 5 }).join());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void unknownHandlerFailsWithNotFoundAndTheWorkersMessage(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final CompletionException thrown = assertThrows(
            CompletionException.class, () -> worker.call("no.such.handler", new byte[]{ 1 }).join());
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, thrown.getCause());
        assertEquals(ErrorCode.NOT_FOUND, cause.errorCode());
        assertTrue(cause.getMessage().contains("no.such.handler"), cause.getMessage());
    }

    @Test
    void workersAnnounceTheirLanguageHandlersAndSchema()
    {
        final WorkerInfo goInfo = client.awaitWorker("go-0", Duration.ofSeconds(60)).info();
        final WorkerInfo rustInfo = client.awaitWorker("rust-0", Duration.ofSeconds(60)).info();
        assertEquals(Language.GO, goInfo.language());
        assertEquals(Language.RUST, rustInfo.language());
        assertEquals(go.process().pid(), goInfo.pid());
        assertEquals(rust.process().pid(), rustInfo.pid());
        assertEquals(100, goInfo.requestStreamId());
        assertEquals(200, rustInfo.requestStreamId());
        assertTrue(goInfo.handlers().contains("echo"), goInfo::toString);
        assertTrue(rustInfo.handlers().contains("echo"), rustInfo::toString);
        assertEquals(7101, goInfo.schemaId());
        assertEquals(io.polybridge.codecs.RequestEncoder.SCHEMA_VERSION, rustInfo.schemaVersion());
        assertEquals(io.polybridge.codecs.RequestEncoder.SCHEMA_VERSION, goInfo.schemaVersion());
    }

    /**
     * aeron-go (pinned, dormant) exits on driver responses added after Aeron 1.44, and the driver
     * broadcasts every response to every client. Provoke all three kinds from another Java client.
     */
    @Test
    void workersSurviveDriverBroadcastsThatNewerAeronClientsTrigger()
    {
        client.awaitWorker("go-0", Duration.ofSeconds(60));
        client.awaitWorker("rust-0", Duration.ofSeconds(60));
        try (Aeron other = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            Subscription control = other.addSubscription("aeron:ipc", client.context().controlStreamId()))
        {
            other.nextSessionId(4242);                                              // ON_NEXT_AVAILABLE_SESSION_ID
            other.addStaticCounter(1001, "polybridge-test", 77).close();           // ON_STATIC_COUNTER
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (control.imageCount() == 0)
            {
                assertTrue(System.nanoTime() < deadline, "no worker publishes on the control stream");
                Thread.onSpinWait();
            }
            control.images().forEach((image) -> image.reject("polybridge test")); // ON_PUBLICATION_ERROR
        }

        for (final String workerId : new String[]{ "go-0", "rust-0" })
        {
            final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
            assertArrayEquals(new byte[]{ 4, 2 }, worker.call("echo", new byte[]{ 4, 2 }).join(), workerId);
        }
        assertTrue(go.process().isAlive(), "go worker died; see " + go.log());
        assertTrue(rust.process().isAlive(), "rust worker died; see " + rust.log());
    }

    @Test
    void payloadOverMaxMessageSizeFailsWithTooLargeBeforeAnythingIsSent()
    {
        final WorkerStub worker = client.awaitWorker("go-0", Duration.ofSeconds(60));
        // 64 MiB by default: larger payloads than the channel's 2 MiB go by the payload region, up to this.
        final byte[] tooLarge = new byte[(int)client.context().maxMessageSize() + 1];
        final CompletionException thrown = assertThrows(
            CompletionException.class, () -> worker.call("echo", tooLarge).join());
        assertEquals(ErrorCode.TOO_LARGE, ((PolybridgeException)thrown.getCause()).errorCode());
        assertArrayEquals(new byte[]{ 9 }, worker.call("echo", new byte[]{ 9 }).join());
    }
}
