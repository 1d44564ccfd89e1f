package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.RequestEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Calls handlers in Go and Rust worker processes over Aeron and completes a
 * {@link CompletableFuture} per call by correlation id.
 * <pre>{@code
 * try (PolybridgeClient client = PolybridgeClient.connect(new PolybridgeClient.Context().aeronDirectoryName(dir)))
 * {
 *     Worker go = client.awaitWorker("go-0", Duration.ofSeconds(10));
 *     byte[] echoed = go.call("echo", "hello".getBytes()).join();
 * }
 * }</pre>
 * Callers may be on any thread. One agent thread owns the reply and control subscriptions and the
 * pending calls (see {@link ClientAgent}); futures complete on {@link Context#completionExecutor()}.
 */
public final class PolybridgeClient implements AutoCloseable
{
    private static final int ENVELOPE_MAX_LENGTH =
        MessageHeaderEncoder.ENCODED_LENGTH + RequestEncoder.BLOCK_LENGTH + 2 + 65534 + 4;

    private final Context ctx;
    private final Aeron aeron;
    private final ClientAgent agent;
    private final AgentRunner agentRunner;
    private final ManyToOneConcurrentArrayQueue<PendingCall> registrations;
    private final Map<String, WorkerInfo> workers = new ConcurrentHashMap<>();
    private final Map<Integer, Publication> publicationsByStreamId = new ConcurrentHashMap<>();
    private final AtomicLong nextCorrelationId = new AtomicLong();
    private final ThreadLocal<Envelope> envelopes = ThreadLocal.withInitial(Envelope::new);
    private final int replyStreamId;
    private volatile boolean closed;

    private PolybridgeClient(final Context ctx)
    {
        this.ctx = ctx;
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(ctx.aeronDirectoryName()));
        try
        {
            replyStreamId = ctx.replyStreamId() != 0 ?
                ctx.replyStreamId() : Context.AUTO_REPLY_STREAM_BASE + (int)(aeron.clientId() % 1_000_000);
            final Subscription replies = aeron.addSubscription(ctx.channel(), replyStreamId);
            final Subscription control = aeron.addSubscription(ctx.channel(), ctx.controlStreamId());
            registrations = new ManyToOneConcurrentArrayQueue<>(ctx.registrationQueueCapacity());
            agent = new ClientAgent(
                replies, control, registrations, workers, ctx.completionExecutor(),
                "workers on " + ctx.channel() + " (driver " + ctx.aeronDirectoryName() + ")");
            agentRunner = new AgentRunner(ctx.idleStrategy().get(), Throwable::printStackTrace, null, agent);
            AgentRunner.startOnThread(agentRunner);
        }
        catch (final RuntimeException ex)
        {
            aeron.close();
            throw ex;
        }
    }

    /**
     * Connect to a running media driver.
     *
     * @param ctx settings; validated here.
     * @return a connected client; close it when done.
     */
    public static PolybridgeClient connect(final Context ctx)
    {
        return new PolybridgeClient(ctx.conclude());
    }

    /**
     * Wait until the named worker has announced itself, and open its request stream.
     *
     * @param workerId the worker's {@code --worker-id}.
     * @param timeout  how long to wait.
     * @return a handle to call the worker's handlers.
     * @throws PolybridgeException WORKER_UNAVAILABLE if it did not announce itself in time,
     *                             VERSION_MISMATCH if it speaks another schema.
     */
    public Worker awaitWorker(final String workerId, final Duration timeout)
    {
        Objects.requireNonNull(workerId, "workerId");
        requirePositive(timeout, "timeout");
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        WorkerInfo info;
        while ((info = workers.get(workerId)) == null)
        {
            ensureOpen();
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE,
                    "worker '" + workerId + "' did not announce itself within " + timeout + " on " + ctx.channel() +
                    " stream " + ctx.controlStreamId() + "; is it running with --aeron-dir " +
                    ctx.aeronDirectoryName() + "? announced so far: " + workers.keySet());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        if (info.schemaId() != RequestEncoder.SCHEMA_ID || info.schemaVersion() != RequestEncoder.SCHEMA_VERSION)
        {
            throw new PolybridgeException(ErrorCode.VERSION_MISMATCH,
                "worker '" + workerId + "' speaks schema " + info.schemaId() + " version " + info.schemaVersion() +
                "; this client speaks schema " + RequestEncoder.SCHEMA_ID + " version " + RequestEncoder.SCHEMA_VERSION);
        }
        final Publication publication = publicationsByStreamId.computeIfAbsent(
            info.requestStreamId(), (streamId) -> aeron.addPublication(ctx.channel(), streamId));
        while (!publication.isConnected())
        {
            ensureOpen();
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE,
                    "worker '" + workerId + "' is not subscribed to its request stream " + info.requestStreamId());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return new Worker(this, info, publication);
    }

    /**
     * @return the workers that have announced themselves so far.
     */
    public Collection<WorkerInfo> workers()
    {
        return List.copyOf(workers.values());
    }

    /**
     * @return responses that matched no pending call: late (after their deadline) or duplicated.
     */
    public long unmatchedResponses()
    {
        return agent.unmatchedResponses();
    }

    /**
     * @return frames on the reply or control stream that did not decode, dropped.
     */
    public long malformedFrames()
    {
        return agent.malformedFrames();
    }

    /**
     * @return the stream id workers reply to for this client.
     */
    public int replyStreamId()
    {
        return replyStreamId;
    }

    /**
     * @return the settings this client runs with.
     */
    public Context context()
    {
        return ctx;
    }

    /** Fail every pending call with WORKER_UNAVAILABLE, stop the agent and disconnect. */
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        CloseHelper.close(agentRunner); // the agent fails what it holds as it closes
        registrations.drain((call) -> call.future.completeExceptionally(closedException()));
        CloseHelper.closeAll(publicationsByStreamId.values());
        aeron.close();
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout)
    {
        if (handler == null || handler.isEmpty())
        {
            throw new IllegalArgumentException("handler must be a handler name such as \"echo\", not " +
                (handler == null ? "null" : "empty"));
        }
        Objects.requireNonNull(payload, "payload must not be null; use an empty buffer for no payload");
        if (offset < 0 || length < 0 || offset > payload.capacity() - length)
        {
            throw new IndexOutOfBoundsException(
                "payload range offset=" + offset + " length=" + length + " is outside a buffer of " + payload.capacity());
        }
        requirePositive(timeout, "timeout");

        final CompletableFuture<byte[]> future = new CompletableFuture<>();
        final Envelope envelope = envelopes.get();
        final long correlationId = nextCorrelationId.incrementAndGet();
        final int envelopeLength = envelope.encode(correlationId, timeout.toNanos(), replyStreamId, handler, length);
        if ((long)envelopeLength + length > publication.maxMessageLength())
        {
            return failed(future, ErrorCode.TOO_LARGE, "request of " + ((long)envelopeLength + length) +
                " bytes exceeds the channel's maximum message of " + publication.maxMessageLength() +
                " bytes (term length / 8); raise aeron.ipc.term.buffer.length or send less");
        }

        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        if (!registrations.offer(new PendingCall(correlationId, deadlineNs, future)))
        {
            return failed(future, ErrorCode.OVERLOADED, "more than " + ctx.registrationQueueCapacity() +
                " calls are waiting for the client agent to register them");
        }
        if (closed)
        {
            return failed(future, ErrorCode.WORKER_UNAVAILABLE, "the client is closed");
        }

        final IdleStrategy idle = envelope.idle;
        idle.reset();
        while (true)
        {
            final long result = publication.offer(envelope.buffer, 0, envelopeLength, payload, offset, length);
            if (result > 0)
            {
                return future;
            }
            if (result == Publication.NOT_CONNECTED || result == Publication.CLOSED ||
                result == Publication.MAX_POSITION_EXCEEDED)
            {
                return failed(future, ErrorCode.WORKER_UNAVAILABLE,
                    "request stream " + publication.streamId() + " is " + Publication.errorString(result));
            }
            if (System.nanoTime() - deadlineNs > 0)
            {
                return failed(future, ErrorCode.TIMEOUT,
                    "request stream " + publication.streamId() + " stayed back pressured until the deadline");
            }
            if (closed)
            {
                return failed(future, ErrorCode.WORKER_UNAVAILABLE, "the client is closed");
            }
            idle.idle();
        }
    }

    private void ensureOpen()
    {
        if (closed)
        {
            throw closedException();
        }
    }

    private static PolybridgeException closedException()
    {
        return new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "the client was closed");
    }

    private static CompletableFuture<byte[]> failed(
        final CompletableFuture<byte[]> future, final ErrorCode code, final String message)
    {
        future.completeExceptionally(new PolybridgeException(code, message));
        return future;
    }

    static void requirePositive(final Duration duration, final String name)
    {
        Objects.requireNonNull(duration, name);
        if (duration.isNegative() || duration.isZero())
        {
            throw new IllegalArgumentException(name + " must be positive, was " + duration);
        }
    }

    /**
     * The request up to and including the payload length, encoded per calling thread; the payload
     * itself is handed to Aeron as the second part of a vectored offer, so it is copied only into
     * the log buffer.
     */
    private static final class Envelope
    {
        final ExpandableDirectByteBuffer buffer = new ExpandableDirectByteBuffer(256);
        final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        final RequestEncoder encoder = new RequestEncoder();
        final IdleStrategy idle = new BackoffIdleStrategy();

        int encode(
            final long correlationId, final long timeoutNs, final int replyStreamId, final String handler, final int length)
        {
            encoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                .correlationId(correlationId)
                .timeoutNs(timeoutNs)
                .replyStreamId(replyStreamId)
                .handler(handler);
            final int payloadLengthAt = encoder.limit();
            if (payloadLengthAt > ENVELOPE_MAX_LENGTH - 4)
            {
                throw new IllegalArgumentException("handler name is longer than 65534 bytes");
            }
            buffer.putInt(payloadLengthAt, length, ByteOrder.LITTLE_ENDIAN); // varDataEncoding.length, uint32
            return payloadLengthAt + 4;
        }
    }

    /**
     * Client settings with defaults; {@link #conclude()} validates them once, at connect.
     */
    public static final class Context
    {
        /** Reply streams chosen automatically start here, offset by the Aeron client id. */
        public static final int AUTO_REPLY_STREAM_BASE = 1000;

        private String aeronDirectoryName = CommonContext.getAeronDirectoryName();
        private String channel = "aeron:ipc";
        private int controlStreamId = 10;
        private int replyStreamId = 0;
        private Duration defaultTimeout = Duration.ofSeconds(5);
        private Supplier<IdleStrategy> idleStrategy = () -> new BackoffIdleStrategy(
            100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(100));
        private Executor completionExecutor = ForkJoinPool.commonPool();
        private int registrationQueueCapacity = 64 * 1024;

        Context conclude()
        {
            requireText(aeronDirectoryName, "aeronDirectoryName");
            requireText(channel, "channel");
            if (!channel.startsWith("aeron:"))
            {
                throw new IllegalArgumentException("channel must be an Aeron URI such as aeron:ipc, was " + channel);
            }
            if (controlStreamId == replyStreamId)
            {
                throw new IllegalArgumentException("replyStreamId must differ from controlStreamId " + controlStreamId);
            }
            requirePositive(defaultTimeout, "defaultTimeout");
            Objects.requireNonNull(idleStrategy, "idleStrategy");
            Objects.requireNonNull(completionExecutor, "completionExecutor");
            if (registrationQueueCapacity < 2)
            {
                throw new IllegalArgumentException("registrationQueueCapacity must be at least 2");
            }
            return this;
        }

        private static void requireText(final String value, final String name)
        {
            if (value == null || value.isBlank())
            {
                throw new IllegalArgumentException(name + " must be set");
            }
        }

        /**
         * @param aeronDirectoryName the media driver's directory (default: Aeron's, from aeron.dir).
         * @return this.
         */
        public Context aeronDirectoryName(final String aeronDirectoryName)
        {
            this.aeronDirectoryName = aeronDirectoryName;
            return this;
        }

        /**
         * @return the media driver's directory.
         */
        public String aeronDirectoryName()
        {
            return aeronDirectoryName;
        }

        /**
         * @param channel the Aeron channel of all streams (default aeron:ipc).
         * @return this.
         */
        public Context channel(final String channel)
        {
            this.channel = channel;
            return this;
        }

        /**
         * @return the Aeron channel of all streams.
         */
        public String channel()
        {
            return channel;
        }

        /**
         * @param controlStreamId where workers announce themselves (default 10).
         * @return this.
         */
        public Context controlStreamId(final int controlStreamId)
        {
            this.controlStreamId = controlStreamId;
            return this;
        }

        /**
         * @return where workers announce themselves.
         */
        public int controlStreamId()
        {
            return controlStreamId;
        }

        /**
         * @param replyStreamId this client's reply stream; 0 (the default) picks
         *                      {@link #AUTO_REPLY_STREAM_BASE} plus the Aeron client id, unique per driver.
         * @return this.
         */
        public Context replyStreamId(final int replyStreamId)
        {
            this.replyStreamId = replyStreamId;
            return this;
        }

        /**
         * @return the configured reply stream, 0 for automatic.
         */
        public int replyStreamId()
        {
            return replyStreamId;
        }

        /**
         * @param defaultTimeout deadline of a call that names none (default 5 s).
         * @return this.
         */
        public Context defaultTimeout(final Duration defaultTimeout)
        {
            this.defaultTimeout = defaultTimeout;
            return this;
        }

        /**
         * @return deadline of a call that names none.
         */
        public Duration defaultTimeout()
        {
            return defaultTimeout;
        }

        /**
         * @param idleStrategy idle strategy of the client agent (default: back off to 100 µs parks, a
         *                     balance for small machines; use BusySpinIdleStrategy with a spare core).
         * @return this.
         */
        public Context idleStrategy(final Supplier<IdleStrategy> idleStrategy)
        {
            this.idleStrategy = idleStrategy;
            return this;
        }

        /**
         * @return idle strategy supplier of the client agent.
         */
        public Supplier<IdleStrategy> idleStrategy()
        {
            return idleStrategy;
        }

        /**
         * @param completionExecutor where futures complete (default the common fork-join pool), never
         *                           the agent thread, so slow callbacks cannot stall replies.
         * @return this.
         */
        public Context completionExecutor(final Executor completionExecutor)
        {
            this.completionExecutor = completionExecutor;
            return this;
        }

        /**
         * @return where futures complete.
         */
        public Executor completionExecutor()
        {
            return completionExecutor;
        }

        /**
         * @param capacity calls that may wait for the agent to register them (default 65536); beyond it
         *                 calls fail with OVERLOADED.
         * @return this.
         */
        public Context registrationQueueCapacity(final int capacity)
        {
            this.registrationQueueCapacity = capacity;
            return this;
        }

        /**
         * @return calls that may wait for the agent to register them.
         */
        public int registrationQueueCapacity()
        {
            return registrationQueueCapacity;
        }
    }
}
