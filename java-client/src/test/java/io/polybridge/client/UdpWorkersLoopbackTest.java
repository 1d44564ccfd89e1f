package io.polybridge.client;

import io.polybridge.codecs.Language;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
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
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Go and Rust test workers as they run on a worker host, but on loopback UDP within one embedded
 * driver: both take requests on one UDP endpoint (told apart by request stream, as on a real host),
 * announce themselves on one dynamic multi-destination-cast control channel, and reply to the UDP
 * endpoint each Request names; the client hears them only through UDP. Between two network namespaces
 * with two drivers: {@code UdpNamespaceTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UdpWorkersLoopbackTest
{
    private static final int CONCURRENT_CALLS = 10_000;

    private EmbeddedMediaDriver driver;
    private final List<WorkerProcess> workers = new ArrayList<>();
    private PolybridgeClient client;
    private String requestChannel;
    private String announceChannel;

    @BeforeAll
    void startDriverWorkersAndClient() throws Exception
    {
        NativeWorkers.build();
        driver = EmbeddedMediaDriver.launch();
        final int[] ports = UdpLoopbackTest.freeUdpPorts(3);
        requestChannel = "aeron:udp?endpoint=127.0.0.1:" + ports[0];
        announceChannel = "aeron:udp?control=127.0.0.1:" + ports[1];
        workers.add(start(Language.GO, "go-udp-0", 100, announceChannel));
        workers.add(start(Language.RUST, "rust-udp-0", 200, announceChannel));
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .replyChannel("aeron:udp?endpoint=127.0.0.1:" + ports[2])
            .announceChannels(List.of(announceChannel))
            .defaultTimeout(Duration.ofMinutes(2)));
    }

    private WorkerProcess start(final Language language, final String workerId, final int stream, final String announce)
    {
        return WorkerProcess.start(NativeWorkers.binary(language), driver.aeronDirectoryName(), workerId, stream,
            Path.of("target", "worker-logs", workerId + ".log"), List.of("--debug-handlers", "--pool-size", "2",
                "--announce-interval-ms", "200", "--request-channel", requestChannel,
                "--announce-channel", announce + "|control-mode=dynamic|term-length=64k"));
    }

    @AfterAll
    void stopEverything()
    {
        try
        {
            if (client != null)
            {
                client.close();
            }
            for (final WorkerProcess worker : workers)
            {
                assertEquals(0, worker.stop(), "worker did not exit cleanly on SIGTERM; see " + worker.log());
            }
        }
        finally
        {
            if (driver != null)
            {
                driver.close();
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-udp-0", "rust-udp-0" })
    void echoesOfUpToOneMegabyteComeBackOverUdp(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        assertEquals(requestChannel, worker.info().requestChannel(), "the channel it announced");
        final SplittableRandom random = new SplittableRandom(workerId.hashCode());
        for (final int size : new int[]{ 0, 1, 32, 1400, 64 * 1024, 1024 * 1024 })
        {
            final byte[] payload = new byte[size];
            random.nextBytes(payload);
            assertArrayEquals(payload, worker.call("echo", payload).join(), size + " bytes");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-udp-0", "rust-udp-0" })
    void tenThousandConcurrentCallsCompleteExactlyOnceWithTheirOwnBytes(final String workerId) throws Exception
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final long unmatchedBefore = client.unmatchedResponses();
        final AtomicIntegerArray completions = new AtomicIntegerArray(CONCURRENT_CALLS);
        final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        final List<CompletableFuture<Void>> checks = new ArrayList<>(CONCURRENT_CALLS);
        for (int i = 0; i < CONCURRENT_CALLS; i++)
        {
            final int index = i;
            final byte[] payload = Integer.toString(index).getBytes();
            checks.add(worker.call("echo", payload).handle((response, error) ->
            {
                completions.incrementAndGet(index);
                if (error != null || !Arrays.equals(payload, response))
                {
                    problems.add("call " + index + ": " + (error != null ? error : new String(response)));
                }
                return null;
            }));
        }
        CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
        assertTrue(problems.isEmpty(), problems.size() + " problems, first " + problems.peek());
        for (int i = 0; i < CONCURRENT_CALLS; i++)
        {
            assertEquals(1, completions.get(i), "call " + i + " completions");
        }
        assertEquals(unmatchedBefore, client.unmatchedResponses(), "no duplicate or stray responses");
        assertEquals(0, client.inFlight());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-udp-0", "rust-udp-0" })
    void aDeadlineThatPassesOnTheWorkerIsATimeout(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(60));
        final long unmatchedBefore = client.unmatchedResponses();
        final CompletionException thrown = assertThrows(CompletionException.class,
            () -> worker.call("debug.sleep", millis(1000), Duration.ofMillis(200)).join());
        assertEquals(io.polybridge.codecs.ErrorCode.TIMEOUT,
            assertInstanceOf(PolybridgeException.class, thrown.getCause()).errorCode());
        // The worker's late answer (debug.sleep ignores deadlines) is counted, not delivered.
        awaitTrue(() -> client.unmatchedResponses() == unmatchedBefore + 1, Duration.ofSeconds(30));
    }

    /**
     * The Cancel names the call's reply channel, so the worker finds the call by (channel, stream, id):
     * its log counts the call as cancelled. A worker of its own, whose counters count only this.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "GO", "RUST" })
    void aCancelOverUdpReachesTheRunningCall(final String languageName) throws IOException
    {
        final Language language = Language.valueOf(languageName);
        final String workerId = language.name().toLowerCase() + "-cancel-0";
        final int[] port = UdpLoopbackTest.freeUdpPorts(1);
        final WorkerProcess worker = start(language, workerId, language == Language.GO ? 150 : 250,
            "aeron:udp?control=127.0.0.1:" + port[0]);
        try (PolybridgeClient canceller = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .replyChannel(client.context().replyChannel()) // a second client on the same port: its own stream
            .announceChannels(List.of("aeron:udp?control=127.0.0.1:" + port[0]))))
        {
            final WorkerStub stub = canceller.awaitWorker(workerId, Duration.ofSeconds(60));
            final long unmatchedBefore = canceller.unmatchedResponses();
            final CompletableFuture<byte[]> sleeping = stub.call("debug.sleep", millis(3000), Duration.ofSeconds(60));
            // Requests are read in order: once this echo is answered, the sleep has been taken in.
            assertArrayEquals(new byte[]{ 7 }, stub.call("echo", new byte[]{ 7 }).join());
            assertTrue(sleeping.cancel(true));
            assertTrue(sleeping.isCancelled());
            // The worker's answer to the cancelled call comes back over UDP and frees its window slot.
            awaitTrue(() -> canceller.inFlight() == 0, Duration.ofSeconds(30));
            assertEquals(unmatchedBefore, canceller.unmatchedResponses());
        }
        finally
        {
            assertEquals(0, worker.stop(), "see " + worker.log());
        }
        final String log = Files.readString(worker.log());
        assertTrue(log.contains("cancelled=1"), "the worker never matched the Cancel to its call: " + log);
        assertFalse(worker.process().isAlive());
    }

    private static byte[] millis(final int millis)
    {
        return new byte[]{ (byte)millis, (byte)(millis >> 8), (byte)(millis >> 16), (byte)(millis >> 24) };
    }

    private static void awaitTrue(final BooleanSupplier condition, final Duration timeout)
    {
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadlineNs < 0, "condition not met within " + timeout);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }
}
