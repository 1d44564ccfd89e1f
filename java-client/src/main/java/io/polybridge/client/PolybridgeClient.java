package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.BufferClaim;
import io.polybridge.codecs.CancelEncoder;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.RequestEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
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
    private static final byte[] EMPTY = new byte[0];

    /** Handler names are short identifiers such as "wappalyzer.fingerprint". */
    public static final int MAX_HANDLER_NAME_LENGTH = 256;

    private final Context ctx;
    private final Aeron aeron;
    private final ClientAgent agent;
    private final AgentRunner agentRunner;
    private final ManyToOneConcurrentArrayQueue<CallFuture> registrations;
    private final Map<String, WorkerInfo> workers = new ConcurrentHashMap<>();
    private final Map<Integer, Publication> publicationsByStreamId = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, WorkerLink> links = new ConcurrentHashMap<>();
    private final ManyToOneConcurrentArrayQueue<WorkerDeath> deaths = new ManyToOneConcurrentArrayQueue<>(1024);
    private final AtomicLong nextCorrelationId = new AtomicLong();
    private final AtomicInteger inFlight = new AtomicInteger();
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
                replies, control, registrations, inFlight, workers, ctx.completionExecutor(),
                "workers on " + ctx.channel() + " (driver " + ctx.aeronDirectoryName() + ")",
                links, deaths, ctx.workerLivenessTimeout().toNanos(), ctx.deathListener);
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
        final Publication publication = publication(info.requestStreamId());
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
        return new Worker(this, info, publication, link(info.requestStreamId()));
    }

    /**
     * Tell the client that the process serving a request stream has exited (a supervisor's
     * {@link Process#onExit()}): every call in flight to it fails with WORKER_UNAVAILABLE at once, and
     * new calls to it fail until a new process announces itself on that stream.
     *
     * @param requestStreamId the stream the process served.
     * @param pid             its process id, so a late report cannot condemn its successor.
     * @param reason          what happened, quoted in the failed calls' messages.
     */
    public void reportWorkerExit(final int requestStreamId, final long pid, final String reason)
    {
        final WorkerDeath death = new WorkerDeath(requestStreamId, pid, reason);
        while (!deaths.offer(death))
        {
            ensureOpen();
            Thread.onSpinWait();
        }
    }

    /**
     * @param requestStreamId a worker's request stream.
     * @return whether a worker has announced itself on it and not been declared dead since.
     */
    public boolean isLive(final int requestStreamId)
    {
        final WorkerLink link = link(requestStreamId);
        return link != null && link.live;
    }

    Collection<WorkerLink> links()
    {
        return links.values();
    }

    /** The worker behind a request stream, or null before anything has announced itself there. */
    WorkerLink link(final int requestStreamId)
    {
        return links.get(requestStreamId);
    }

    Publication publication(final int requestStreamId)
    {
        return publicationsByStreamId.computeIfAbsent(
            requestStreamId, (streamId) -> aeron.addPublication(ctx.channel(), streamId));
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
        registrations.drain((call) ->
        {
            inFlight.decrementAndGet();
            call.completeExceptionally(closedException());
        });
        CloseHelper.closeAll(publicationsByStreamId.values());
        aeron.close();
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
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
        if (handler.length() > MAX_HANDLER_NAME_LENGTH)
        {
            throw new IllegalArgumentException("handler names are at most " + MAX_HANDLER_NAME_LENGTH +
                " characters, this one has " + handler.length());
        }
        Objects.requireNonNull(payload, "payload must not be null; use an empty buffer for no payload");
        if (offset < 0 || length < 0 || offset > payload.capacity() - length)
        {
            throw new IndexOutOfBoundsException(
                "payload range offset=" + offset + " length=" + length + " is outside a buffer of " + payload.capacity());
        }
        requirePositive(timeout, "timeout");

        final long correlationId = nextCorrelationId.incrementAndGet();
        final long deadlineNs = System.nanoTime() + timeout.toNanos();
        final CallFuture future = new CallFuture(this, publication, link, correlationId, deadlineNs);
        final Envelope envelope = envelopes.get();
        final int envelopeLength = envelope.length(handler);
        final long messageLength = (long)envelopeLength + length;
        if (messageLength > publication.maxMessageLength())
        {
            return failed(future, ErrorCode.TOO_LARGE, "request of " + messageLength +
                " bytes exceeds the channel's maximum message of " + publication.maxMessageLength() +
                " bytes (term length / 8); raise aeron.ipc.term.buffer.length or send less");
        }

        final IdleStrategy idle = envelope.idle;
        if (!acquireWindowSlot(deadlineNs, idle))
        {
            return failed(future, ErrorCode.OVERLOADED, ctx.maxInFlight() + " calls are already in flight" +
                (ctx.waitWhenOverloaded() ? " until the deadline" : "") + "; raise maxInFlight or slow down");
        }
        if (!registrations.offer(future))
        {
            inFlight.decrementAndGet();
            return failed(future, ErrorCode.OVERLOADED, "more than " + ctx.registrationQueueCapacity() +
                " calls are waiting for the client agent to register them");
        }
        // From here the agent owns the window slot: it frees it when the call leaves its hands.
        if (closed)
        {
            return failed(future, ErrorCode.WORKER_UNAVAILABLE, "the client is closed");
        }

        final long timeoutNs = timeout.toNanos();
        final boolean fitsOneFragment = messageLength <= publication.maxPayloadLength();
        if (!fitsOneFragment)
        {
            envelope.encode(envelope.buffer, 0, correlationId, timeoutNs, replyStreamId, handler, length);
        }
        idle.reset();
        while (true)
        {
            final long result = fitsOneFragment ?
                claimAndWrite(publication, envelope, envelopeLength, correlationId, timeoutNs, handler, payload, offset,
                    length) :
                publication.offer(envelope.buffer, 0, envelopeLength, payload, offset, length);
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
            if (!ctx.waitWhenOverloaded() || System.nanoTime() - deadlineNs > 0)
            {
                return failed(future, ErrorCode.OVERLOADED, "request stream " + publication.streamId() +
                    " is back pressured" + (ctx.waitWhenOverloaded() ? " until the deadline" : ""));
            }
            if (closed)
            {
                return failed(future, ErrorCode.WORKER_UNAVAILABLE, "the client is closed");
            }
            idle.idle();
        }
    }

    /** Zero copy for requests that fit one fragment: encode straight into the log buffer. */
    private long claimAndWrite(
        final Publication publication,
        final Envelope envelope,
        final int envelopeLength,
        final long correlationId,
        final long timeoutNs,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length)
    {
        final BufferClaim claim = envelope.claim;
        final long result = publication.tryClaim(envelopeLength + length, claim);
        if (result > 0)
        {
            final MutableDirectBuffer log = claim.buffer();
            final int at = claim.offset();
            envelope.encode(log, at, correlationId, timeoutNs, replyStreamId, handler, length);
            log.putBytes(at + envelopeLength, payload, offset, length);
            claim.commit();
        }
        return result;
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final byte[] payload,
        final Duration timeout)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        final UnsafeBuffer wrapper = envelopes.get().bytes;
        wrapper.wrap(payload);
        try
        {
            return call(publication, link, handler, wrapper, 0, payload.length, timeout);
        }
        finally
        {
            wrapper.wrap(EMPTY); // do not keep the caller's array reachable
        }
    }

    private boolean acquireWindowSlot(final long deadlineNs, final IdleStrategy idle)
    {
        final int max = ctx.maxInFlight();
        idle.reset();
        while (true)
        {
            final int current = inFlight.get();
            if (current < max)
            {
                if (inFlight.compareAndSet(current, current + 1))
                {
                    return true;
                }
                continue;
            }
            if (!ctx.waitWhenOverloaded() || System.nanoTime() - deadlineNs > 0 || closed)
            {
                return false;
            }
            idle.idle();
        }
    }

    /** Best effort: a cancel lost to back pressure only costs the worker the work. */
    void sendCancel(final Publication publication, final long correlationId)
    {
        final Envelope envelope = envelopes.get();
        final int length = envelope.encodeCancel(correlationId, replyStreamId);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            if (publication.offer(envelope.cancelBuffer, 0, length) > 0)
            {
                return;
            }
            Thread.onSpinWait();
        }
    }

    /**
     * @return calls published and not yet completed by a response, a deadline or the close.
     */
    public int inFlight()
    {
        return inFlight.get();
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
     * Per calling thread: the request up to and including the payload length, and the encoders
     * for it. Large payloads go to Aeron as the second part of a vectored offer, small ones are
     * written into a claimed log buffer; either way the payload is copied only into the log.
     */
    private static final class Envelope
    {
        final ExpandableDirectByteBuffer buffer = new ExpandableDirectByteBuffer(256);
        final UnsafeBuffer cancelBuffer = new UnsafeBuffer(new byte[64]);
        final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
        final RequestEncoder encoder = new RequestEncoder();
        final CancelEncoder cancelEncoder = new CancelEncoder();
        final BufferClaim claim = new BufferClaim();
        final IdleStrategy idle = new BackoffIdleStrategy();
        final UnsafeBuffer bytes = new UnsafeBuffer(0, 0); // wraps byte[] payloads without allocating
        private String lastHandler;
        private byte[] lastHandlerUtf8;

        /** Bytes of the request before its payload: header, block, handler name, payload length. */
        int length(final String handler)
        {
            return MessageHeaderEncoder.ENCODED_LENGTH + RequestEncoder.BLOCK_LENGTH +
                RequestEncoder.handlerHeaderLength() + handlerUtf8(handler).length + RequestEncoder.payloadHeaderLength();
        }

        void encode(
            final MutableDirectBuffer target,
            final int offset,
            final long correlationId,
            final long timeoutNs,
            final int replyStreamId,
            final String handler,
            final int payloadLength)
        {
            encoder.wrapAndApplyHeader(target, offset, headerEncoder)
                .correlationId(correlationId)
                .timeoutNs(timeoutNs)
                .replyStreamId(replyStreamId)
                .putHandler(handlerUtf8(handler), 0, lastHandlerUtf8.length);
            target.putInt(encoder.limit(), payloadLength, ByteOrder.LITTLE_ENDIAN); // varDataEncoding.length
        }

        /** Callers reuse a handler name from call to call: keep its UTF-8 rather than encode it each time. */
        private byte[] handlerUtf8(final String handler)
        {
            if (!handler.equals(lastHandler))
            {
                lastHandlerUtf8 = handler.getBytes(StandardCharsets.UTF_8);
                lastHandler = handler;
            }
            return lastHandlerUtf8;
        }

        int encodeCancel(final long correlationId, final int replyStreamId)
        {
            cancelEncoder.wrapAndApplyHeader(cancelBuffer, 0, headerEncoder)
                .correlationId(correlationId)
                .replyStreamId(replyStreamId);
            return MessageHeaderEncoder.ENCODED_LENGTH + cancelEncoder.encodedLength();
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
        private int maxInFlight = 16 * 1024;
        private boolean waitWhenOverloaded = true;
        private Duration workerLivenessTimeout = Duration.ZERO;
        Consumer<WorkerLink> deathListener; // Bridge's supervisor: runs on the agent thread, must not block

        Context conclude()
        {
            Objects.requireNonNull(workerLivenessTimeout, "workerLivenessTimeout");
            if (workerLivenessTimeout.isNegative())
            {
                throw new IllegalArgumentException("workerLivenessTimeout must be zero (off) or positive, was " +
                    workerLivenessTimeout);
            }
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
            if (maxInFlight < 1)
            {
                throw new IllegalArgumentException("maxInFlight must be at least 1, was " + maxInFlight);
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

        /**
         * @param maxInFlight calls that may be published and not yet completed (default 16384).
         * @return this.
         */
        public Context maxInFlight(final int maxInFlight)
        {
            this.maxInFlight = maxInFlight;
            return this;
        }

        /**
         * @return calls that may be published and not yet completed.
         */
        public int maxInFlight()
        {
            return maxInFlight;
        }

        /**
         * @param waitWhenOverloaded when the window is full or Aeron back pressures the request
         *                           stream: {@code true} (the default) waits up to the call's
         *                           deadline, {@code false} fails at once; both end in OVERLOADED.
         * @return this.
         */
        public Context waitWhenOverloaded(final boolean waitWhenOverloaded)
        {
            this.waitWhenOverloaded = waitWhenOverloaded;
            return this;
        }

        /**
         * @param timeout declare a worker dead when it has not announced itself for this long, and fail
         *                its calls in flight with WORKER_UNAVAILABLE at once (default zero: off, calls
         *                to a silent worker end at their deadline). Use a few announcement intervals,
         *                e.g. 1 s for workers started with {@code --announce-interval-ms 200}.
         * @return this.
         */
        public Context workerLivenessTimeout(final Duration timeout)
        {
            this.workerLivenessTimeout = timeout;
            return this;
        }

        /**
         * @return how long a worker may stay silent before it is declared dead; zero: never.
         */
        public Duration workerLivenessTimeout()
        {
            return workerLivenessTimeout;
        }

        /**
         * @return whether a call waits for room up to its deadline rather than failing at once.
         */
        public boolean waitWhenOverloaded()
        {
            return waitWhenOverloaded;
        }
    }
}
