package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.polybridge.codecs.CancelDecoder;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.RequestDecoder;
import io.polybridge.codecs.ResponseEncoder;
import io.polybridge.codecs.WorkerAnnouncementEncoder;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against a scripted worker in this JVM, so each behaviour can be provoked exactly:
 * the worker holds requests until the test tells it to answer, and can answer anything.
 */
class PolybridgeClientTest
{
    private static final int REQUEST_STREAM = 300;

    /** A typed method whose request and response are UTF-8 text: enough to prove the typed path. */
    private static final Method<String, String> TEXT = Method.of("text.upper", new Utf8Codec(), new Utf8Codec());

    private static final class Utf8Codec implements MessageCodec<String>
    {
        public int encode(final String value, final MutableDirectBuffer buffer, final int offset)
        {
            final byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            buffer.putBytes(offset, bytes);
            return bytes.length;
        }

        public String decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            try
            {
                return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            }
            catch (final java.nio.charset.CharacterCodingException ex)
            {
                throw new IllegalArgumentException("not UTF-8: " + ex);
            }
        }
    }

    private EmbeddedMediaDriver driver;
    private Aeron workerAeron;
    private ScriptedWorker worker;
    private PolybridgeClient client;

    @BeforeEach
    void start()
    {
        driver = EmbeddedMediaDriver.launch();
        workerAeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        worker = new ScriptedWorker(workerAeron);
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .payloadLoanThreshold(1 << 20) // the scripted worker reads inline payloads (regions: PayloadRegionWorkersTest)
            .completionExecutor(Runnable::run));
    }

    @AfterEach
    void stop()
    {
        CloseHelper.closeAll(client, worker, workerAeron, driver);
    }

    @Test
    void contextRejectsBadSettingsWithMessagesThatSayWhatToDo()
    {
        final IllegalArgumentException channel = assertThrows(IllegalArgumentException.class,
            () -> PolybridgeClient.connect(new PolybridgeClient.Context().channel("ipc")));
        assertTrue(channel.getMessage().contains("aeron:ipc"), channel.getMessage());
        final IllegalArgumentException timeout = assertThrows(IllegalArgumentException.class,
            () -> PolybridgeClient.connect(new PolybridgeClient.Context().defaultTimeout(Duration.ZERO)));
        assertTrue(timeout.getMessage().contains("defaultTimeout must be positive"), timeout.getMessage());
        assertThrows(IllegalArgumentException.class,
            () -> PolybridgeClient.connect(new PolybridgeClient.Context().replyStreamId(10)));
    }

    @Test
    void awaitingAWorkerThatNeverAnnouncesFailsWithWorkerUnavailable()
    {
        final PolybridgeException thrown = assertThrows(PolybridgeException.class,
            () -> client.awaitWorker("nobody", Duration.ofMillis(200)));
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, thrown.errorCode());
        assertTrue(thrown.getMessage().contains("--aeron-dir " + driver.aeronDirectoryName()), thrown.getMessage());
    }

    @Test
    void workerSpeakingAnotherSchemaVersionIsRefused()
    {
        final int future = WorkerAnnouncementEncoder.SCHEMA_VERSION + 1;
        worker.announce("future-0", future);
        final PolybridgeException thrown = assertThrows(PolybridgeException.class,
            () -> client.awaitWorker("future-0", Duration.ofSeconds(10)));
        assertEquals(ErrorCode.VERSION_MISMATCH, thrown.errorCode());
        assertTrue(thrown.getMessage().contains("version " + future), thrown.getMessage());
    }

    @Test
    void callCompletesWithTheResponseMatchingItsCorrelationIdWhateverTheOrder()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> first = handle.call("echo", new byte[]{ 1 });
        final CompletableFuture<byte[]> second = handle.call("echo", new byte[]{ 2 });
        final List<Long> ids = worker.awaitRequests(2);

        worker.reply(ids.get(1), ErrorCode.OK, "", new byte[]{ 20 });
        worker.reply(ids.get(0), ErrorCode.OK, "", new byte[]{ 10 });

        assertArrayEquals(new byte[]{ 10 }, first.join());
        assertArrayEquals(new byte[]{ 20 }, second.join());
    }

    @Test
    void workerErrorsArriveAsPolybridgeExceptionWithCodeAndMessage()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("explode", new byte[0]);
        worker.reply(worker.awaitRequests(1).get(0), ErrorCode.PANIC, "handler panicked: boom", new byte[0]);

        final CompletionException thrown = assertThrows(CompletionException.class, call::join);
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, thrown.getCause());
        assertEquals(ErrorCode.PANIC, cause.errorCode());
        assertTrue(cause.getMessage().endsWith("handler panicked: boom"), cause.getMessage());
    }

    @Test
    void deadlinePassingGivesTimeoutAndTheLateReplyIsCountedNotDelivered()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("slow", new byte[0], Duration.ofMillis(50));
        final long correlationId = worker.awaitRequests(1).get(0);

        final CompletionException thrown = assertThrows(CompletionException.class, call::join);
        assertEquals(ErrorCode.TIMEOUT, ((PolybridgeException)thrown.getCause()).errorCode());

        worker.reply(correlationId, ErrorCode.OK, "", new byte[]{ 1 });
        awaitTrue(() -> client.unmatchedResponses() == 1);
    }

    @Test
    void closingTheClientFailsPendingCallsWithWorkerUnavailable()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("echo", new byte[0]);
        worker.awaitRequests(1);
        client.close();

        final CompletionException thrown = assertThrows(CompletionException.class, call::join);
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, ((PolybridgeException)thrown.getCause()).errorCode());
        final CompletionException afterClose = assertThrows(
            CompletionException.class, () -> handle.call("echo", new byte[0]).join());
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, ((PolybridgeException)afterClose.getCause()).errorCode());
    }

    @Test
    void malformedResponsesAreDroppedAndCountedAndLaterResponsesStillArrive()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("echo", new byte[0]);
        final long correlationId = worker.awaitRequests(1).get(0);

        worker.replyRaw(new byte[]{ 1, 2, 3 });
        final ExpandableArrayBuffer lying = new ExpandableArrayBuffer();
        final int length = encodeResponse(lying, correlationId, ErrorCode.OK, "", new byte[8]);
        lying.putInt(length - 12, 1_000_000, java.nio.ByteOrder.LITTLE_ENDIAN); // payload length runs past the frame
        worker.replyRaw(java.util.Arrays.copyOf(lying.byteArray(), length));
        awaitTrue(() -> client.malformedFrames() == 2);
        assertTrue(!call.isDone());

        worker.reply(correlationId, ErrorCode.OK, "", new byte[]{ 7 });
        assertArrayEquals(new byte[]{ 7 }, call.join());
    }

    @Test
    void argumentsAreValidatedWithMessagesThatSayWhatToDo()
    {
        final WorkerStub handle = announcedWorker();
        final IllegalArgumentException emptyHandler = assertThrows(
            IllegalArgumentException.class, () -> handle.call("", new byte[0]));
        assertTrue(emptyHandler.getMessage().contains("\"echo\""), emptyHandler.getMessage());
        final NullPointerException nullPayload = assertThrows(
            NullPointerException.class, () -> handle.call("echo", (byte[])null));
        assertTrue(nullPayload.getMessage().contains("new byte[0]"), nullPayload.getMessage());
        assertThrows(IndexOutOfBoundsException.class,
            () -> handle.call("echo", new UnsafeBuffer(new byte[4]), 2, 3, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class,
            () -> handle.call("echo", new byte[0], Duration.ofMillis(-1)));
    }

    @Test
    void fullWindowFailsFastWithOverloadedWhenConfiguredNotToWait()
    {
        client.close();
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .completionExecutor(Runnable::run)
            .maxInFlight(1)
            .waitWhenOverloaded(false));
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> first = handle.call("echo", new byte[]{ 1 });
        final CompletionException thrown = assertThrows(
            CompletionException.class, () -> handle.call("echo", new byte[]{ 2 }).join());
        assertEquals(ErrorCode.OVERLOADED, ((PolybridgeException)thrown.getCause()).errorCode());

        worker.reply(worker.awaitRequests(1).get(0), ErrorCode.OK, "", new byte[]{ 1 });
        assertArrayEquals(new byte[]{ 1 }, first.join());
        awaitTrue(() -> client.inFlight() == 0);
        final CompletableFuture<byte[]> third = handle.call("echo", new byte[]{ 3 });
        worker.reply(worker.awaitRequests(2).get(1), ErrorCode.OK, "", new byte[]{ 3 });
        assertArrayEquals(new byte[]{ 3 }, third.join());
    }

    @Test
    void fullWindowWaitsUntilTheDeadlineThenFailsWithOverloaded()
    {
        client.close();
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .completionExecutor(Runnable::run)
            .maxInFlight(1));
        final WorkerStub handle = announcedWorker();
        handle.call("echo", new byte[]{ 1 }, Duration.ofSeconds(30));
        final CompletionException thrown = assertThrows(CompletionException.class,
            () -> handle.call("echo", new byte[]{ 2 }, Duration.ofMillis(50)).join());
        assertEquals(ErrorCode.OVERLOADED, ((PolybridgeException)thrown.getCause()).errorCode());
        assertTrue(thrown.getCause().getMessage().contains("until the deadline"), thrown.getCause().getMessage());
    }

    @Test
    void cancellingACallCompletesItAsCancelledAndTellsTheWorker()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("slow", new byte[0]);
        final long correlationId = worker.awaitRequests(1).get(0);

        assertTrue(call.cancel(true));
        assertTrue(call.isCancelled());
        awaitTrue(() -> worker.poll() && worker.cancelledIds.contains(correlationId));
        assertEquals(List.of(""), worker.replyChannels, "IPC: the worker replies on its own channel");
        assertEquals(List.of(""), worker.cancelReplyChannels);

        worker.reply(correlationId, ErrorCode.CANCELLED, "cancelled by the client", new byte[0]);
        awaitTrue(() -> client.inFlight() == 0);
        assertEquals(0, client.unmatchedResponses());
    }

    @Test
    void cancellingATypedCallCancelsTheCallItself()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<String> call = handle.call(TEXT, "hi", Duration.ofSeconds(10));
        final long correlationId = worker.awaitRequests(1).get(0);

        assertTrue(call.cancel(true));
        awaitTrue(() -> worker.poll() && worker.cancelledIds.contains(correlationId));
    }

    @Test
    void typedCallEncodesTheRequestWithItsCodecAndDecodesTheResponse()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<String> call = handle.call(TEXT, "h\u00e9llo");
        final long correlationId = worker.awaitRequests(1).get(0);
        assertArrayEquals("h\u00e9llo".getBytes(StandardCharsets.UTF_8), worker.payloads.get(0));
        assertEquals("text.upper", worker.handlers.get(0));
        worker.reply(correlationId, ErrorCode.OK, "", "H\u00c9LLO".getBytes(StandardCharsets.UTF_8));
        assertEquals("H\u00c9LLO", call.join());
    }

    @Test
    void smallAndLargePayloadsBothArriveIntact()
    {
        final WorkerStub handle = announcedWorker();
        final byte[] small = new byte[100];
        final byte[] large = new byte[100_000]; // spans many fragments: vectored offer, not tryClaim
        java.util.Arrays.fill(small, (byte)7);
        java.util.Arrays.fill(large, (byte)9);
        handle.call("echo", small);
        handle.call("echo", large);
        worker.awaitRequests(2);
        assertArrayEquals(small, worker.payloads.get(0));
        assertArrayEquals(large, worker.payloads.get(1));
    }

    @Test
    void typedResponseThatDoesNotDecodeFailsWithUnknownAndSaysWhy()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<String> call = handle.call(TEXT, "x", Duration.ofSeconds(10));
        worker.reply(worker.awaitRequests(1).get(0), ErrorCode.OK, "", new byte[]{ (byte)0xFF });
        final CompletionException thrown = assertThrows(CompletionException.class, call::join);
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, thrown.getCause());
        assertEquals(ErrorCode.UNKNOWN, cause.errorCode());
        assertTrue(cause.getMessage().contains("the response of 'text.upper' (1 bytes) could not be decoded") &&
            cause.getMessage().contains("not UTF-8"), cause.getMessage());
    }

    @Test
    void metadataArrivesOnTheWireAsSentOnTheClaimedAndTheVectoredPath()
    {
        final WorkerStub handle = announcedWorker();
        final Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        metadata.put("k\u00e9y-\uD83D\uDE00", "v\u00e4lue \u20ac");
        metadata.put("empty", "");
        metadata.put("k".repeat(PolybridgeClient.MAX_METADATA_KEY_BYTES), "v".repeat(PolybridgeClient.MAX_METADATA_VALUE_BYTES));
        final byte[] small = { 1, 2, 3 };
        final byte[] large = new byte[100_000]; // many fragments: envelope + payload in one vectored offer
        java.util.Arrays.fill(large, (byte)5);
        handle.call("echo", small, Duration.ofSeconds(10), metadata);
        handle.call("echo", large, Duration.ofSeconds(10), metadata);
        handle.call("echo", small, Duration.ofSeconds(10));
        worker.awaitRequests(3);
        assertEquals(metadata, worker.metadata.get(0));
        assertEquals(metadata, worker.metadata.get(1));
        assertEquals(Map.of(), worker.metadata.get(2));
        assertArrayEquals(small, worker.payloads.get(0));
        assertArrayEquals(large, worker.payloads.get(1));
        assertEquals(List.of("echo", "echo", "echo"), worker.handlers);
    }

    @Test
    void metadataOverTheProtocolLimitsIsRefusedBeforeAnythingIsSentSayingWhatToDo()
    {
        final WorkerStub handle = announcedWorker();
        final Map<String, String> tooMany = new HashMap<>();
        for (int i = 0; i <= PolybridgeClient.MAX_METADATA_ENTRIES; i++)
        {
            tooMany.put("k" + i, "v");
        }
        final Map<String, String> nullValue = new HashMap<>();
        nullValue.put("k", null);
        final List<Map<String, String>> bad = List.of(
            tooMany,
            Map.of("", "v"),
            Map.of("k".repeat(PolybridgeClient.MAX_METADATA_KEY_BYTES + 1), "v"),
            Map.of("\u00e9".repeat(65), "v"),
            Map.of("k", "v".repeat(PolybridgeClient.MAX_METADATA_VALUE_BYTES + 1)),
            Map.of("k\uD800", "v"),
            nullValue);
        final List<String> expected = List.of("at most 32 metadata entries per call, were 33",
            "metadata keys are 1 to 128 bytes of UTF-8", "metadata keys are 1 to 128 bytes of UTF-8, 'kkk",
            "has 130", "metadata values are at most 4096 bytes of UTF-8, the value of 'k' has 4097",
            "unpaired surrogate", "must not be null");
        for (int i = 0; i < bad.size(); i++)
        {
            final Map<String, String> metadata = bad.get(i);
            final IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class,
                () -> handle.call("echo", new byte[0], Duration.ofSeconds(5), metadata));
            assertTrue(thrown.getMessage().contains(expected.get(i)), thrown.getMessage());
            assertThrows(IllegalArgumentException.class,
                () -> handle.call(TEXT, "x", Duration.ofSeconds(5), metadata));
        }

        assertEquals(0, client.inFlight());
        for (int i = 0; i < 50; i++)
        {
            worker.poll();
        }
        assertTrue(worker.correlationIds.isEmpty(), "a refused call reached the worker");
    }

    @Test
    void timeoutsTooLongForNanosecondsAreShortenedToAYearInsteadOfOverflowing()
    {
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("echo", new byte[]{ 7 }, Duration.ofSeconds(Long.MAX_VALUE));
        final long correlationId = worker.awaitRequests(1).get(0);
        assertEquals(PolybridgeClient.MAX_TIMEOUT.toNanos(), worker.timeoutsNs.get(0));
        worker.reply(correlationId, ErrorCode.OK, "", new byte[]{ 7 });
        assertArrayEquals(new byte[]{ 7 }, call.join());
        assertEquals("scripted-0",
            client.awaitWorker("scripted-0", Duration.ofSeconds(Long.MAX_VALUE)).info().workerId());
    }

    @Test
    void callerSpinningOnABackPressuredStreamStopsOnceItsWorkerIsDeclaredDead() throws Exception
    {
        final WorkerStub handle = announcedWorker(); // the scripted worker reads nothing until told
        final byte[] megabyte = new byte[1024 * 1024];
        final AtomicInteger published = new AtomicInteger();
        final AtomicReference<CompletableFuture<byte[]>> stuck = new AtomicReference<>();
        final Thread caller = new Thread(() ->
        {
            while (true)
            {
                final CompletableFuture<byte[]> call = handle.call("echo", megabyte, Duration.ofSeconds(60));
                if (call.isDone())
                {
                    stuck.set(call);
                    return;
                }
                published.incrementAndGet();
            }
        });
        caller.start();
        // Once the request stream's window is full the caller stays inside call(), backing off.
        int seen = -1;
        while (seen != published.get())
        {
            seen = published.get();
            Thread.sleep(500);
        }
        assertTrue(caller.isAlive(), "the caller should be held by back pressure, not failed");

        final long reportedNs = System.nanoTime();
        client.reportWorkerExit(REQUEST_STREAM, ProcessHandle.current().pid(), "killed by the test");
        caller.join(TimeUnit.SECONDS.toMillis(30));
        final long stoppedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - reportedNs);
        assertFalse(caller.isAlive(), "the caller still spins for a call that has failed");
        assertTrue(stoppedMs < 2_000, "the caller stopped " + stoppedMs + " ms after its call failed");
        final CompletionException failed = assertThrows(CompletionException.class, () -> stuck.get().join());
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, failed.getCause());
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode());
        assertTrue(cause.getMessage().contains("killed by the test"), cause.getMessage());
    }

    @Test
    void callThatFailsBeforeItIsPublishedFreesItsWindowSlotAtOnceNotAtItsDeadline()
    {
        final WorkerStub handle = announcedWorker();
        worker.requests.close(); // the worker's subscription goes: the request stream is NOT_CONNECTED
        awaitTrue(() -> !client.publication(REQUEST_STREAM).isConnected());
        final CompletableFuture<byte[]> call = handle.call("echo", new byte[]{ 1 }, Duration.ofDays(300));
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class,
            assertThrows(CompletionException.class, call::join).getCause());
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode());
        assertTrue(cause.getMessage().contains("NOT_CONNECTED"), cause.getMessage());
        awaitTrue(() -> client.inFlight() == 0);
    }

    @Test
    void clientOnTheCallersAeronLeavesItOpenUnlessTold()
    {
        client.close();
        try (Aeron own = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName())))
        {
            client = PolybridgeClient.connect(new PolybridgeClient.Context().aeron(own).completionExecutor(Runnable::run));
            assertEquals(driver.aeronDirectoryName(), client.context().aeronDirectoryName());
            final WorkerStub handle = announcedWorker();
            final CompletableFuture<byte[]> call = handle.call("echo", new byte[]{ 1 });
            worker.reply(worker.awaitRequests(1).get(0), ErrorCode.OK, "", new byte[]{ 1 });
            assertArrayEquals(new byte[]{ 1 }, call.join());
            client.close();
            assertFalse(own.isClosed(), "the caller's Aeron client was closed");

            client = PolybridgeClient.connect(new PolybridgeClient.Context().aeron(own).ownsAeronClient(true));
            client.close();
            assertTrue(own.isClosed(), "ownsAeronClient(true): closing the client closes it");
            assertFalse(client.isDriverLost(), "a deliberate close is not a lost driver");
        }
    }

    @Test
    void agentErrorsGoToTheErrorHandlerAndTheCallStillCompletes()
    {
        client.close();
        final java.util.concurrent.ConcurrentLinkedQueue<Throwable> errors = new java.util.concurrent.ConcurrentLinkedQueue<>();
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .errorHandler(errors::add)
            .callerInvokesAgent(false) // else join() completes the call itself and the executor is never asked
            .completionExecutor((task) ->
            {
                throw new java.util.concurrent.RejectedExecutionException("the test's executor is shut down");
            }));
        final WorkerStub handle = announcedWorker();
        final CompletableFuture<byte[]> call = handle.call("echo", new byte[]{ 3 });
        worker.reply(worker.awaitRequests(1).get(0), ErrorCode.OK, "", new byte[]{ 3 });
        assertArrayEquals(new byte[]{ 3 }, call.join());
        assertTrue(errors.stream().anyMatch((error) -> error.getMessage().contains("the test's executor")), "" + errors);
    }

    @Test
    void driverTimeoutIsValidated()
    {
        final IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class,
            () -> PolybridgeClient.connect(new PolybridgeClient.Context()
                .aeronDirectoryName(driver.aeronDirectoryName()).driverTimeout(Duration.ofSeconds(Long.MAX_VALUE))));
        assertTrue(thrown.getMessage().contains("driverTimeout must be between"), thrown.getMessage());
    }

    @Test
    void handlerNamesLongerThanTheLimitAreRejected()
    {
        final WorkerStub handle = announcedWorker();
        final String name = "h".repeat(PolybridgeClient.MAX_HANDLER_NAME_LENGTH + 1);
        final IllegalArgumentException thrown = assertThrows(
            IllegalArgumentException.class, () -> handle.call(name, new byte[0]));
        assertTrue(thrown.getMessage().contains("at most 256"), thrown.getMessage());
    }

    @Test
    void streamSendsOnlyWhatTheSubscriberDemandsAndPublishesInRequestOrder()
    {
        final WorkerStub handle = announcedWorker();
        final List<byte[]> requests = List.of(new byte[]{ 1 }, new byte[]{ 2 }, new byte[]{ 3 });
        final List<byte[]> received = new java.util.concurrent.CopyOnWriteArrayList<>();
        final java.util.concurrent.atomic.AtomicReference<java.util.concurrent.Flow.Subscription> subscription =
            new java.util.concurrent.atomic.AtomicReference<>();
        final java.util.concurrent.atomic.AtomicBoolean completed = new java.util.concurrent.atomic.AtomicBoolean();
        handle.stream("echo", requests, Duration.ofSeconds(10), 16).subscribe(new java.util.concurrent.Flow.Subscriber<>()
        {
            public void onSubscribe(final java.util.concurrent.Flow.Subscription s)
            {
                subscription.set(s);
            }

            public void onNext(final byte[] item)
            {
                received.add(item);
            }

            public void onError(final Throwable throwable)
            {
                throw new AssertionError(throwable);
            }

            public void onComplete()
            {
                completed.set(true);
            }
        });

        subscription.get().request(2);
        final List<Long> ids = worker.awaitRequests(2);
        for (int i = 0; i < 20; i++)
        {
            worker.poll();
        }
        assertEquals(2, worker.payloads.size(), "sent more requests than the subscriber asked for");

        worker.reply(ids.get(1), ErrorCode.OK, "", new byte[]{ 20 });
        worker.reply(ids.get(0), ErrorCode.OK, "", new byte[]{ 10 });
        awaitTrue(() -> received.size() == 2);
        assertArrayEquals(new byte[]{ 10 }, received.get(0));
        assertArrayEquals(new byte[]{ 20 }, received.get(1));

        subscription.get().request(1);
        worker.reply(worker.awaitRequests(3).get(2), ErrorCode.OK, "", new byte[]{ 30 });
        awaitTrue(completed::get);
        assertArrayEquals(new byte[]{ 30 }, received.get(2));
    }

    private WorkerStub announcedWorker()
    {
        worker.announce("scripted-0", WorkerAnnouncementEncoder.SCHEMA_VERSION);
        return client.awaitWorker("scripted-0", Duration.ofSeconds(10));
    }

    private static void awaitTrue(final BooleanSupplier condition)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() < deadline, "condition not met within 10 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    static int encodeResponse(
        final ExpandableArrayBuffer buffer,
        final long correlationId,
        final ErrorCode code,
        final String message,
        final byte[] payload)
    {
        final ResponseEncoder encoder = new ResponseEncoder()
            .wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
            .correlationId(correlationId).errorCode(code).regionId(0).regionOffset(0).regionLength(0)
            .errorMessage(message).putPayload(payload, 0, payload.length);
        return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
    }

    /** A worker in the test's hands: announces on demand, records requests, answers when told. */
    private final class ScriptedWorker implements AutoCloseable
    {
        private final Aeron aeron;
        private final Subscription requests;
        private final ExclusivePublication control;
        private final List<Long> correlationIds = new ArrayList<>();
        private final List<Long> timeoutsNs = new ArrayList<>();
        private final List<byte[]> payloads = new ArrayList<>();
        private final List<String> handlers = new ArrayList<>();
        private final List<Map<String, String>> metadata = new ArrayList<>();
        private final java.util.Set<Long> cancelledIds = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private final List<String> replyChannels = new ArrayList<>();
        private final List<String> cancelReplyChannels = new ArrayList<>();
        private final CancelDecoder cancelDecoder = new CancelDecoder();
        private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
        private final RequestDecoder requestDecoder = new RequestDecoder();
        private Publication replies;
        private int replyStreamId;

        ScriptedWorker(final Aeron aeron)
        {
            this.aeron = aeron;
            requests = aeron.addSubscription("aeron:ipc", REQUEST_STREAM);
            control = aeron.addExclusivePublication("aeron:ipc", 10);
        }

        void announce(final String workerId, final int schemaVersion)
        {
            final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer();
            final WorkerAnnouncementEncoder encoder = new WorkerAnnouncementEncoder()
                .wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
                .schemaId(WorkerAnnouncementEncoder.SCHEMA_ID).schemaVersion(schemaVersion)
                .language(Language.JAVA).pid(ProcessHandle.current().pid()).requestStreamId(REQUEST_STREAM);
            encoder.handlersCount(1).next().name("echo");
            encoder.workerId(workerId);
            encoder.requestChannel("");
            final int length = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            awaitTrue(() -> control.offer(buffer, 0, length) > 0);
        }

        private final FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) ->
        {
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.templateId() == CancelDecoder.TEMPLATE_ID)
            {
                cancelDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
                final long cancelled = cancelDecoder.correlationId();
                cancelReplyChannels.add(cancelDecoder.replyChannel());
                cancelledIds.add(cancelled);
                return;
            }
            requestDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
            correlationIds.add(requestDecoder.correlationId());
            timeoutsNs.add(requestDecoder.timeoutNs());
            replyStreamId = requestDecoder.replyStreamId();
            final Map<String, String> entries = new LinkedHashMap<>();
            for (final RequestDecoder.MetadataDecoder entry : requestDecoder.metadata())
            {
                entries.put(entry.key(), entry.value());
            }
            metadata.add(entries);
            replyChannels.add(requestDecoder.replyChannel());
            handlers.add(requestDecoder.handler());
            final byte[] payload = new byte[requestDecoder.payloadLength()];
            requestDecoder.getPayload(payload, 0, payload.length);
            payloads.add(payload);
        });

        boolean poll()
        {
            requests.poll(assembler, 10);
            return true;
        }

        List<Long> awaitRequests(final int count)
        {
            awaitTrue(() -> poll() && correlationIds.size() >= count);
            return List.copyOf(correlationIds);
        }

        void reply(final long correlationId, final ErrorCode code, final String message, final byte[] payload)
        {
            final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer();
            final int length = encodeResponse(buffer, correlationId, code, message, payload);
            replyRaw(java.util.Arrays.copyOf(buffer.byteArray(), length));
        }

        void replyRaw(final byte[] frame)
        {
            if (replies == null)
            {
                replies = aeron.addPublication("aeron:ipc", replyStreamId);
            }
            final UnsafeBuffer buffer = new UnsafeBuffer(frame);
            awaitTrue(() -> replies.offer(buffer) > 0);
        }

        public void close()
        {
            CloseHelper.closeAll(replies, control, requests);
        }
    }
}
