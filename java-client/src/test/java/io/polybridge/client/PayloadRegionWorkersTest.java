package io.polybridge.client;

import com.sun.net.httpserver.HttpServer;
import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.RequestEncoder;
import io.polybridge.codecs.ResponseDecoder;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Payloads by loan against the real Go and Rust workers and a real driver: the safety items of issue 14
 * (a loan is reused only after its worker answered or died, timeouts and cancels included; crafted
 * references answered BAD_REQUEST; a full region; TOO_LARGE before anything is written; files owner-only
 * and removed with their owner) and 64 MiB round trips checked against java.util.zip.CRC32C.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PayloadRegionWorkersTest
{
    private static final Duration LONG = Duration.ofSeconds(60);
    private static final int MIB = 1 << 20;

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
        go = WorkerProcess.start(NativeWorkers.binary(Language.GO), driver.aeronDirectoryName(), "go-0", 100,
            logs.resolve("payload-go-0.log"), List.of("--debug-handlers"));
        rust = WorkerProcess.start(NativeWorkers.binary(Language.RUST), driver.aeronDirectoryName(), "rust-0", 200,
            logs.resolve("payload-rust-0.log"), List.of("--debug-handlers"));
        client = connect(new PolybridgeClient.Context());
    }

    @AfterAll
    void stopEverything()
    {
        if (client != null)
        {
            client.close();
        }
        if (go != null)
        {
            go.stop();
        }
        if (rust != null)
        {
            rust.stop();
        }
        if (driver != null)
        {
            driver.close();
        }
    }

    private PolybridgeClient connect(final PolybridgeClient.Context ctx)
    {
        return PolybridgeClient.connect(ctx.aeronDirectoryName(driver.aeronDirectoryName()).defaultTimeout(LONG));
    }

    private static byte[] random(final int length, final long seed)
    {
        final byte[] bytes = new byte[length];
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < length; i += 8)
        {
            long value = random.nextLong();
            for (int j = i; j < Math.min(length, i + 8); j++)
            {
                bytes[j] = (byte)value;
                value >>>= 8;
            }
        }
        return bytes;
    }

    private static long crc32c(final byte[] bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes);
        return crc.getValue();
    }

    private static long crc32c(final ByteBuffer bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes.duplicate());
        return crc.getValue();
    }

    private static long checksumOf(final byte[] reply)
    {
        assertEquals(8, reply.length, "checksum replies 8 bytes");
        return ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static byte[] sleepMillis(final int millis)
    {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(millis).array();
    }

    private static PolybridgeException failure(final CompletableFuture<?> future)
    {
        final CompletionException ex = assertThrows(CompletionException.class, future::join);
        return assertInstanceOf(PolybridgeException.class, ex.getCause(), () -> String.valueOf(ex.getCause()));
    }

    static void awaitTrue(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadlineNs < 0, "timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    private Path regionFile(final PolybridgeClient owner)
    {
        return PayloadRegionFiles.path(driver.aeronDirectoryName(), owner.payloadRegionId());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void echoAndChecksumOf64MiBGoThroughTheRegionsAndMatchCrc32c(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, LONG);
        assertTrue(worker.info().regionId() != 0, "the worker announces a payload region");
        final byte[] payload = random(64 * MIB, 64);
        final long expected = crc32c(payload);

        assertEquals(expected, checksumOf(worker.call("checksum", payload).join()));
        final byte[] echoed = worker.call("echo", payload).join();
        assertEquals(payload.length, echoed.length);
        assertEquals(expected, crc32c(echoed));

        // Five 64 MiB responses through a 256 MiB worker region: each view's close gave its piece back.
        for (int i = 0; i < 5; i++)
        {
            try (PayloadView view = worker.callView("echo", payload, LONG).join())
            {
                assertTrue(view.isLent(), "a 64 MiB response lies in the worker's region");
                assertEquals(payload.length, view.length());
                assertTrue(view.byteBuffer().isReadOnly());
                assertEquals(expected, crc32c(view.byteBuffer()));
            }
        }
        assertEquals(0, client.lentPayloadBytes(), "every request loan given back once answered");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void typedCallsWithAKnownLengthAreEncodedIntoALoanAndDecodedInPlace(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, LONG);
        final MessageCodec<byte[]> sized = new MessageCodec<>()
        {
            private final BytesCodec bytes = new BytesCodec();

            public int encode(final byte[] value, final MutableDirectBuffer buffer, final int offset)
            {
                return bytes.encode(value, buffer, offset);
            }

            public byte[] decode(final DirectBuffer buffer, final int offset, final int length)
            {
                return bytes.decode(buffer, offset, length);
            }

            public int encodedLength(final byte[] value)
            {
                return value.length;
            }
        };
        final Method<byte[], byte[]> echo = Method.of("echo", sized, new BytesCodec());
        final byte[] payload = random(3 * MIB + 17, 3);
        final long lentBefore = client.agent().lentResponses();
        assertArrayEquals(payload, worker.call(echo, payload).join());
        assertEquals(lentBefore + 1, client.agent().lentResponses(), "the response came through the region");
        final byte[] small = { 1, 2, 3 };
        assertArrayEquals(small, worker.call(echo, small).join());
        assertEquals(0, client.lentPayloadBytes());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void aLentPayloadWhoseMetadataSpansFragmentsStillGoesByReference(final String workerId)
    {
        final WorkerStub worker = client.awaitWorker(workerId, LONG);
        final Map<String, String> metadata = new java.util.LinkedHashMap<>();
        for (int i = 0; i < PolybridgeClient.MAX_METADATA_ENTRIES; i++)
        {
            metadata.put("key-" + i, "v".repeat(PolybridgeClient.MAX_METADATA_VALUE_BYTES));
        }
        // 3 MiB cannot go inline (2 MiB channel limit): it must be the region, with the envelope offered alone.
        final byte[] payload = random(3 * MIB, 33);
        assertArrayEquals(payload, worker.call("echo", payload, LONG, metadata).join());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void lentResponsesNobodyWaitsForAnyMoreAreGivenBackToTheWorker(final String workerId) throws Exception
    {
        final WorkerStub worker = client.awaitWorker(workerId, LONG);
        final byte[] payload = random(64 * MIB, 6);
        final long unmatchedBefore = client.unmatchedResponses();
        // Six 64 MiB echoes given up at once (cancelled, or a 5 ms deadline): each is answered CANCELLED or
        // TIMEOUT, or late with its echo lent from the worker's 256 MiB region; were those not released
        // (the late ones by the region id the worker announced), its region would be full after four.
        for (int i = 0; i < 6; i++)
        {
            final CompletableFuture<byte[]> call =
                worker.call("echo", payload, i % 2 == 0 ? LONG : Duration.ofMillis(5));
            call.cancel(false);
            awaitTrue(() -> client.lentPayloadBytes() == 0, "the worker's answer to the call given up");
        }
        System.out.println(workerId + ": " + (client.unmatchedResponses() - unmatchedBefore) +
            " of 6 64 MiB echoes were answered after their deadline");
        try (PayloadView view = worker.callView("echo", payload, LONG).join())
        {
            assertTrue(view.isLent(), "the worker's region has room: late responses were given back");
            assertEquals(crc32c(payload), crc32c(view.byteBuffer()));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void aLoanStaysLentAfterItsCallTimedOutUntilTheWorkersLateResponse(final String workerId) throws Exception
    {
        // One block of region and every payload lent: a slow handler reads its 4 bytes from the region.
        try (PolybridgeClient tiny = connect(new PolybridgeClient.Context().payloadRegionSize(4096)
            .maxMessageSize(4096).payloadLoanThreshold(1).waitWhenOverloaded(false)))
        {
            final WorkerStub worker = tiny.awaitWorker(workerId, LONG);
            final CompletableFuture<byte[]> slow = worker.call("debug.sleep", sleepMillis(700), Duration.ofMillis(50));
            assertEquals(ErrorCode.TIMEOUT, failure(slow).errorCode());
            assertEquals(4096, tiny.lentPayloadBytes(), "timed out, but the worker may still read it");
            final PolybridgeException refused = failure(worker.call("echo", new byte[]{ 1 }));
            assertEquals(ErrorCode.OVERLOADED, refused.errorCode());
            assertTrue(refused.getMessage().contains("4096 of 4096 bytes are lent"), refused.getMessage());

            awaitTrue(() -> tiny.lentPayloadBytes() == 0, "the late response to give the loan back");
            assertTrue(tiny.unmatchedResponses() >= 1);
            assertArrayEquals(new byte[]{ 1 }, worker.call("echo", new byte[]{ 1 }).join());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void aLoanStaysLentAfterItsCallWasCancelledUntilTheWorkerAnswers(final String workerId) throws Exception
    {
        try (PolybridgeClient tiny = connect(new PolybridgeClient.Context().payloadRegionSize(4096)
            .maxMessageSize(4096).payloadLoanThreshold(1).waitWhenOverloaded(false)))
        {
            final WorkerStub worker = tiny.awaitWorker(workerId, LONG);
            final CompletableFuture<byte[]> slow = worker.call("debug.sleep", sleepMillis(700), LONG);
            Thread.sleep(100); // the handler is sleeping: a cancel does not stop it
            assertTrue(slow.cancel(false));
            assertEquals(4096, tiny.lentPayloadBytes(), "cancelled, but the worker may still read it");
            assertEquals(ErrorCode.OVERLOADED, failure(worker.call("echo", new byte[]{ 1 })).errorCode());

            awaitTrue(() -> tiny.lentPayloadBytes() == 0, "the worker's answer to give the loan back");
            assertArrayEquals(new byte[]{ 2 }, worker.call("echo", new byte[]{ 2 }).join());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go", "rust" })
    void aWorkerKilledWithLoansOutstandingGivesThemBackAndItsRegionFilesAreRemoved(final String language)
        throws Exception
    {
        final WorkerSpec spec = ("go".equals(language) ? NativeWorkers.go() : NativeWorkers.rust())
            .options("--debug-handlers");
        final Bridge.Context ctx = new Bridge.Context().worker(spec);
        ctx.client().payloadLoanThreshold(1);
        try (Bridge bridge = Bridge.launch(ctx))
        {
            final PolybridgeClient bridgeClient = bridge.client();
            final ProcessHandle victim = bridge.processes().get(language + "-0");
            final CompletableFuture<byte[]> slow = bridge.call("debug.sleep", sleepMillis(30_000), LONG);
            final PayloadLoan held = bridge.loan(8192); // not sent: stays the caller's
            awaitTrue(() -> bridgeClient.lentPayloadBytes() == 4096 + 8192, "the sleep's loan");
            // A lent response of the worker's (its region file), as a 1 MiB echo read in place leaves it.
            final Path workerFile = Files.createFile(PayloadRegionFiles.path(bridge.aeronDirectoryName(),
                (victim.pid() << 32) | 0x7777L));

            victim.destroyForcibly(); // SIGKILL with the loan outstanding
            assertEquals(ErrorCode.WORKER_UNAVAILABLE, failure(slow).errorCode());
            awaitTrue(() -> bridgeClient.lentPayloadBytes() == 8192, "the dead worker's loan given back");
            awaitTrue(() -> !Files.exists(workerFile), "the supervisor to remove the dead worker's region files");
            held.close();
            assertEquals(0, bridgeClient.lentPayloadBytes());
            assertThrows(IllegalStateException.class, () -> bridge.call("echo", held, 1));
        }
    }

    @Test
    void aBridgeRoutesLoansAndInPlaceResponsesToItsWorkers() throws Exception
    {
        final Bridge.Context ctx = new Bridge.Context().worker(NativeWorkers.rust()).worker(NativeWorkers.go());
        try (Bridge bridge = Bridge.launch(ctx))
        {
            final byte[] payload = random(2 * MIB, 22);
            final PayloadLoan loan = bridge.loan(payload.length, LONG);
            loan.buffer().putBytes(0, payload);
            try (PayloadView view = bridge.callView("echo", loan, payload.length, LONG, Map.of()).join())
            {
                assertTrue(view.isLent());
                assertEquals(crc32c(payload), crc32c(view.byteBuffer()));
            }
            try (PayloadView view = bridge.callView("echo", new UnsafeBuffer(payload), 0, 100, LONG, Map.of()).join())
            {
                assertFalse(view.isLent(), "a small response is inline");
                assertEquals(100, view.length());
            }
            assertEquals(crc32c(payload), checksumOf(bridge.call("checksum", payload).join()));
            awaitTrue(() -> bridge.client().lentPayloadBytes() == 0, "every loan back");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(ints = { 100, 200 })
    void craftedReferencesOutsideTheRegionOrToMissingFilesAreAnsweredBadRequest(final int requestStreamId)
        throws Exception
    {
        final String workerId = requestStreamId == 100 ? "go-0" : "rust-0";
        final WorkerStub worker = client.awaitWorker(workerId, LONG);
        try (PayloadLoan loan = client.loan(4096))
        {
            loan.buffer().putInt(0, 42);
        }
        final long ownRegion = client.payloadRegionId();
        final int dataLength = (int)client.context().payloadRegionSize();
        final long missing = (ProcessHandle.current().pid() << 32) | 0x1234_5678L;
        final long badMagic = (ProcessHandle.current().pid() << 32) | 0x0BAD_0BADL;
        final Path badMagicFile = PayloadRegionFiles.path(driver.aeronDirectoryName(), badMagic);
        Files.write(badMagicFile, new byte[8192]);

        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            Publication requests = aeron.addPublication("aeron:ipc", requestStreamId);
            Subscription replies = aeron.addSubscription("aeron:ipc", 4242))
        {
            awaitTrue(requests::isConnected, "the worker's request stream");
            final Object[][] cases = {
                { ownRegion, (long)dataLength, 1L, 0, "beyond the data" },
                { ownRegion, 0L, (long)dataLength + 1, 0, "longer than the data" },
                { ownRegion, -4096L, 10L, 0, "a negative offset" },
                { ownRegion, 0L, -1L, 0, "a negative length" },
                { ownRegion, Long.MAX_VALUE - 2, 10L, 0, "an offset near 2^63" },
                { missing, 0L, 10L, 0, "a missing file" },
                { badMagic, 0L, 10L, 0, "a bad magic" },
                { ownRegion, 0L, 4L, 3, "a reference and an inline payload" },
            };
            long correlationId = 1_000_000;
            for (final Object[] bad : cases)
            {
                correlationId++;
                send(requests, correlationId, (long)bad[0], (long)bad[1], (long)bad[2], (int)bad[3]);
                final ResponseDecoder response = awaitResponse(replies, correlationId);
                assertEquals(ErrorCode.BAD_REQUEST, response.errorCode(), () -> bad[4] + ": " + response);
            }
            correlationId++;
            send(requests, correlationId, ownRegion, 0, 4, 0); // a good reference, for contrast
            assertEquals(ErrorCode.OK, awaitResponse(replies, correlationId).errorCode());
        }
        finally
        {
            Files.deleteIfExists(badMagicFile);
        }
        assertArrayEquals(new byte[]{ 5 }, worker.call("echo", new byte[]{ 5 }).join(), "still serving");
    }

    private static void send(
        final Publication requests,
        final long correlationId,
        final long regionId,
        final long regionOffset,
        final long regionLength,
        final int inlineLength) throws InterruptedException
    {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
        final RequestEncoder request = new RequestEncoder().wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .correlationId(correlationId)
            .timeoutNs(TimeUnit.SECONDS.toNanos(10))
            .replyStreamId(4242)
            .regionId(regionId)
            .regionOffset(regionOffset)
            .regionLength(regionLength);
        request.metadataCount(0);
        request.putReplyChannel(new byte[0], 0, 0);
        request.putHandler(new UnsafeBuffer("echo".getBytes()), 0, 4);
        request.putPayload(new byte[inlineLength], 0, inlineLength);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + request.encodedLength();
        while (requests.offer(buffer, 0, length) < 0)
        {
            Thread.sleep(1);
        }
    }

    private static ResponseDecoder awaitResponse(final Subscription replies, final long correlationId)
        throws InterruptedException
    {
        final ResponseDecoder[] found = new ResponseDecoder[1];
        final FragmentHandler handler = (buffer, offset, length, header) ->
        {
            final byte[] copy = new byte[length];
            buffer.getBytes(offset, copy);
            final ResponseDecoder decoder =
                new ResponseDecoder().wrapAndApplyHeader(new UnsafeBuffer(copy), 0, new MessageHeaderDecoder());
            if (decoder.correlationId() == correlationId)
            {
                found[0] = decoder;
            }
        };
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (found[0] == null)
        {
            assertTrue(System.nanoTime() - deadlineNs < 0, "no response to " + correlationId);
            if (replies.poll(handler, 10) == 0)
            {
                Thread.sleep(1);
            }
        }
        return found[0];
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void aFullRegionFailsOverloadedAtOnceOrWaitsForALoanToComeBack(final String workerId) throws Exception
    {
        try (PolybridgeClient impatient = connect(new PolybridgeClient.Context().payloadRegionSize(64 << 10)
            .maxMessageSize(64 << 10).payloadLoanThreshold(4096).waitWhenOverloaded(false));
            PolybridgeClient patient = connect(new PolybridgeClient.Context().payloadRegionSize(64 << 10)
                .maxMessageSize(64 << 10).payloadLoanThreshold(4096)))
        {
            final byte[] payload = random(8192, 8);
            final WorkerStub now = impatient.awaitWorker(workerId, LONG);
            final PayloadLoan all = impatient.loan(64 << 10);
            final PolybridgeException full = failure(now.call("echo", payload));
            assertEquals(ErrorCode.OVERLOADED, full.errorCode());
            assertTrue(full.getMessage().contains("65536 of 65536 bytes are lent") &&
                full.getMessage().contains("payloadRegionSize"), full.getMessage());
            assertEquals(ErrorCode.OVERLOADED, assertThrows(PolybridgeException.class,
                () -> impatient.loan(1)).errorCode());
            all.close();
            assertArrayEquals(payload, now.call("echo", payload).join());

            final WorkerStub waiting = patient.awaitWorker(workerId, LONG);
            final PayloadLoan held = patient.loan(64 << 10);
            final CompletableFuture<CompletableFuture<byte[]>> call =
                CompletableFuture.supplyAsync(() -> waiting.call("echo", payload, LONG));
            Thread.sleep(100);
            assertFalse(call.isDone(), "waits for room");
            held.close();
            assertArrayEquals(payload, call.join().join());
            final PayloadLoan again = patient.loan(64 << 10);
            final PolybridgeException timedOut = failure(waiting.call("echo", payload, Duration.ofMillis(50)));
            assertEquals(ErrorCode.OVERLOADED, timedOut.errorCode());
            assertTrue(timedOut.getMessage().contains("until the deadline"), timedOut.getMessage());
            again.close();
        }
    }

    @Test
    void aPayloadBeyondMaxMessageSizeFailsTooLargeBeforeAnythingIsWritten()
    {
        try (PolybridgeClient limited = connect(new PolybridgeClient.Context().maxMessageSize(MIB)))
        {
            final WorkerStub worker = limited.awaitWorker("go-0", LONG);
            final PolybridgeException tooLarge = failure(worker.call("echo", new byte[MIB + 1]));
            assertEquals(ErrorCode.TOO_LARGE, tooLarge.errorCode());
            assertTrue(tooLarge.getMessage().contains("maxMessageSize"), tooLarge.getMessage());
            assertEquals(0, limited.lentPayloadBytes());
            assertFalse(Files.exists(regionFile(limited)), "not even the region file was created");
            assertThrows(IllegalArgumentException.class, () -> limited.loan(MIB + 1));
        }
        try (PolybridgeClient inlineOnly = connect(new PolybridgeClient.Context().payloadRegionSize(0)))
        {
            final WorkerStub worker = inlineOnly.awaitWorker("rust-0", LONG);
            final PolybridgeException tooLarge = failure(worker.call("echo", new byte[8 * MIB]));
            assertEquals(ErrorCode.TOO_LARGE, tooLarge.errorCode());
            assertTrue(tooLarge.getMessage().contains("maximum message"), tooLarge.getMessage());
            assertThrows(IllegalStateException.class, () -> inlineOnly.loan(1));
        }
    }

    @Test
    void theRegionFileIsOwnerOnlyAndNothingIsLeftAfterClose() throws Exception
    {
        final Path file;
        try (PolybridgeClient own = connect(new PolybridgeClient.Context()))
        {
            final WorkerStub worker = own.awaitWorker("rust-0", LONG);
            file = regionFile(own);
            assertFalse(Files.exists(file), "created at the first loan, not at connect");
            final byte[] payload = random(200_000, 2);
            assertArrayEquals(payload, worker.call("echo", payload).join());
            assertTrue(Files.exists(file));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            assertEquals(0, own.lentPayloadBytes());
        }
        assertFalse(Files.exists(file), "removed at close");
    }

    @Test
    void connectingSweepsTheRegionFilesOfDeadOwners() throws Exception
    {
        final long deadPid = PayloadRegionTest.deadPid();
        final Path stale = Files.createFile(PayloadRegionFiles.path(driver.aeronDirectoryName(), (deadPid << 32) | 9));
        try (PolybridgeClient fresh = connect(new PolybridgeClient.Context()))
        {
            assertFalse(Files.exists(stale), "a SIGKILLed owner's file is swept at connect");
            assertTrue(fresh.payloadRegionId() != 0);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void aPageReadFromAFileStraightIntoALoanIsCalledWithNoFurtherCopy(final String workerId) throws Exception
    {
        final Path page = corpusPage();
        final byte[] expected = Files.readAllBytes(page);
        final WorkerStub worker = client.awaitWorker(workerId, LONG);
        final PayloadLoan loan = client.loan((int)Files.size(page));
        try (FileChannel file = FileChannel.open(page, StandardOpenOption.READ))
        {
            while (loan.byteBuffer().hasRemaining() && file.read(loan.byteBuffer()) >= 0)
            {
                // FileChannel.read writes into the shared memory the worker reads
            }
        }
        final int length = loan.byteBuffer().position();
        assertEquals(expected.length, length);
        assertEquals(crc32c(expected), checksumOf(worker.call("checksum", loan, length).join()));
        assertThrows(IllegalStateException.class, () -> worker.call("checksum", loan, length), "sent at most once");

        final PayloadLoan echoLoan = client.loan(expected.length);
        echoLoan.buffer().putBytes(0, expected);
        try (PayloadView view = worker.callView("echo", echoLoan, expected.length, LONG, Map.of()).join())
        {
            assertTrue(view.isLent());
            assertArrayEquals(expected, view.toByteArray());
        }
        awaitTrue(() -> client.lentPayloadBytes() == 0, "both loans back");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = { "go-0", "rust-0" })
    void anHttpBodyWrittenIntoALoanIsCalledWithNoFurtherCopy(final String workerId) throws Exception
    {
        final Path page = corpusPage();
        final byte[] expected = Files.readAllBytes(page);
        final HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/page.html", (exchange) ->
        {
            exchange.getResponseHeaders().add("Content-Type", "text/html");
            exchange.sendResponseHeaders(200, expected.length);
            try (var body = exchange.getResponseBody())
            {
                Files.copy(page, body);
            }
        });
        server.start();
        try
        {
            final WorkerStub worker = client.awaitWorker(workerId, LONG);
            final HttpClient http = HttpClient.newHttpClient();
            final HttpRequest request = HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/page.html")).build();
            final HttpResponse<PayloadLoan> response = http.send(request, PayloadLoans.bodyHandler(client, 4 * MIB));
            final PayloadLoan loan = response.body();
            final int length = loan.byteBuffer().position();
            assertEquals(expected.length, length);
            assertEquals(crc32c(expected), checksumOf(worker.call("checksum", loan, length).join()));

            final CompletionException tooLong = assertThrows(CompletionException.class, () -> http.sendAsync(request,
                PayloadLoans.bodyHandler(client, 1000)).join());
            assertTrue(String.valueOf(tooLong.getCause()).contains("longer than"), String.valueOf(tooLong.getCause()));
            awaitTrue(() -> client.lentPayloadBytes() == 0, "the loans back");
        }
        finally
        {
            server.stop(0);
        }
    }

    /** A real page of the shared corpus larger than the loan threshold (manifest.tsv: name, bytes, sha256). */
    private static Path corpusPage() throws Exception
    {
        final Path corpus = Path.of(System.getProperty("polybridge.root", "..")).resolve("../shared/corpus");
        Assumptions.assumeTrue(Files.isDirectory(corpus), "no corpus at " + corpus + " (../shared/corpus)");
        for (final String line : Files.readAllLines(corpus.resolve("manifest.tsv")))
        {
            final String[] fields = line.split("\t");
            if (fields.length == 3 && fields[1].matches("\\d+") && Long.parseLong(fields[1]) > 128 * 1024)
            {
                return corpus.resolve("html").resolve(fields[0] + ".html");
            }
        }
        throw new AssertionError("no page over 128 KiB in " + corpus);
    }
}
