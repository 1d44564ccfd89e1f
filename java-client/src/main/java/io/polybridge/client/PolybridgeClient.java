package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.CommonContext;
import io.aeron.Publication;
import io.aeron.exceptions.AeronException;
import io.aeron.exceptions.DriverTimeoutException;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.RequestEncoder;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Calls handlers in worker processes (Go, Rust or any language that speaks the protocol) over Aeron and completes a
 * {@link CompletableFuture} per call by correlation id.
 * <pre>{@code
 * try (PolybridgeClient client = PolybridgeClient.connect(new PolybridgeClient.Context().aeronDirectoryName(dir)))
 * {
 *     WorkerStub go = client.awaitWorker("go-0", Duration.ofSeconds(10));
 *     byte[] echoed = go.call("echo", "hello".getBytes()).join();
 * }
 * }</pre>
 * Callers may be on any thread; futures complete on {@link Context#completionExecutor()}. Payloads of at
 * least {@link Context#payloadLoanThreshold()} bytes to workers on this host go by the client's payload
 * region, read in place by the worker ({@link #loan(int)}, {@link PayloadLoan}, {@link PayloadView};
 * docs/payloads.md).
 * <p>
 * A facade, in the shape of Aeron's client: the {@link RequestProxy} encodes and publishes requests on
 * the caller's thread, the {@link ClientAgent} (the conductor, on its own thread) owns the reply and
 * control subscriptions through a {@link ResponseAdapter} and an {@link AnnouncementAdapter}, the
 * {@link InFlightWindow} (slots, hand-offs, correlation map, deadlines) and the {@link WorkerDirectory}.
 * <p>
 * Over 400 lines because {@link Context}, like Aeron's contexts, lives inside the class it configures;
 * the client itself is ~420, most of it javadoc of its public methods.
 */
public final class PolybridgeClient implements AutoCloseable
{
    /** Handler names are short identifiers such as "hello.greet". */
    public static final int MAX_HANDLER_NAME_LENGTH = 256;

    /**
     * Longer deadlines are shortened to this: a deadline must fit in nanoseconds (about 292 years) on
     * this side and in the worker, and a year is "never" for a call.
     */
    public static final Duration MAX_TIMEOUT = Duration.ofDays(365);

    /** Metadata entries a call may carry (the protocol's limit, the same in every language). */
    public static final int MAX_METADATA_ENTRIES = 32;

    /** UTF-8 bytes of a metadata key: 1 to this. */
    public static final int MAX_METADATA_KEY_BYTES = 128;

    /** UTF-8 bytes of a metadata value: 0 to this. */
    public static final int MAX_METADATA_VALUE_BYTES = 4096;

    private static final System.Logger LOGGER = System.getLogger("polybridge.client");

    private final Context ctx;
    private final Aeron aeron;
    private final boolean ownsAeron;
    private final DriverWatch driverWatch;
    private final ClientAgent agent;
    private final AgentRunner agentRunner;
    private final InFlightWindow window;
    private final WorkerDirectory directory;
    private final RequestProxy proxy;
    private final Doorbells doorbells;
    private final RequestRegion requestRegion; // null: payloadRegionSize 0
    private final Map<Integer, Publication> publicationsByStreamId = new ConcurrentHashMap<>();

    private PolybridgeClient(final Context ctx)
    {
        this.ctx = ctx;
        driverWatch = new DriverWatch(ctx.aeronDirectoryName());
        ownsAeron = ctx.aeron() == null || ctx.ownsAeronClient();
        aeron = ctx.aeron() != null ? ctx.aeron() : AeronConnector.connect(ctx, driverWatch);
        try
        {
            // A driver's exit is noticed within ~100 ms this way; the driver timeout is then only for a
            // driver alive but silent, or one whose process cannot be seen from here (another container).
            PolybridgeMediaDriver.driverProcess(ctx.aeronDirectoryName()).ifPresent(driverWatch::watchProcess);
            agent = new ClientAgent(ctx, aeron, driverWatch);
        }
        catch (final AeronException ex)
        {
            closeAeron();
            throw AeronConnector.unavailable(
                "could not subscribe on the media driver in " + ctx.aeronDirectoryName(), ex);
        }
        catch (final RuntimeException ex)
        {
            closeAeron();
            throw ex;
        }
        window = agent.window();
        directory = agent.directory();
        doorbells = new Doorbells(ctx.aeronDirectoryName());
        // Region files of JVMs and workers killed before they could remove them (tmpfs: memory).
        PayloadRegionFiles.sweepDeadOwners(ctx.aeronDirectoryName());
        requestRegion = ctx.payloadRegionSize() > 0 ?
            new RequestRegion(ctx.aeronDirectoryName(), (int)ctx.payloadRegionSize()) : null;
        agent.payloads(requestRegion, new RegionReader(ctx.aeronDirectoryName()), publicationsByStreamId::get);
        proxy = new RequestProxy(ctx, agent, driverWatch, doorbells, requestRegion);
        final IdleStrategy idleStrategy = ctx.idleStrategy().get();
        if (idleStrategy instanceof BackoffSleepIdleStrategy sleeping)
        {
            sleeping.gate(agent); // sleeps only with nothing pending; callers wake it
        }
        agentRunner = new AgentRunner(idleStrategy, ctx.errorHandler(), null, agent);
        AgentRunner.startOnThread(agentRunner);
    }

    private void closeAeron()
    {
        if (ownsAeron)
        {
            CloseHelper.close(ctx.errorHandler(), aeron);
        }
    }

    static void logError(final Throwable error)
    {
        LOGGER.log(System.Logger.Level.ERROR, "polybridge client error: " + error, error);
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
    public WorkerStub awaitWorker(final String workerId, final Duration timeout)
    {
        Objects.requireNonNull(workerId, "workerId");
        final long deadlineNs = System.nanoTime() + timeoutNs(timeout, "timeout");
        ensureOpen(); // a lost driver leaves the Aeron client open (see DriverWatch): its worker looks connected
        WorkerInfo info;
        while ((info = directory.worker(workerId)) == null)
        {
            ensureOpen();
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE,
                    "worker '" + workerId + "' did not announce itself within " + timeout + " on " +
                    String.join(", ", ctx.announceChannels()) + " stream " + ctx.controlStreamId() +
                    "; is it running with --aeron-dir " +
                    ctx.aeronDirectoryName() + "? announced so far: " + directory.workerIds());
            }
            poll();
        }
        if (info.schemaId() != RequestEncoder.SCHEMA_ID || info.schemaVersion() != RequestEncoder.SCHEMA_VERSION)
        {
            throw new PolybridgeException(ErrorCode.VERSION_MISMATCH,
                "worker '" + workerId + "' speaks schema " + info.schemaId() + " version " + info.schemaVersion() +
                "; this client speaks schema " + RequestEncoder.SCHEMA_ID + " version " + RequestEncoder.SCHEMA_VERSION);
        }
        final Publication publication = publication(info.requestStreamId(), info.requestChannel());
        while (!publication.isConnected())
        {
            ensureOpen();
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE,
                    "worker '" + workerId + "' is not subscribed to its request stream " + info.requestStreamId() +
                    " on " + info.requestChannel() + " (or it cannot be reached from here)");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return new WorkerStub(this, info, publication, link(info.requestStreamId()));
    }

    /**
     * A thread waiting for the agent's news (announcements): run a duty cycle if nobody is, else wait
     * 1 ms. The agent thread may be asleep (up to 100 ms) with no call pending.
     */
    void poll()
    {
        if (agent.invoke() == 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
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
        while (!directory.offerDeath(death))
        {
            ensureOpen();
            Thread.onSpinWait();
        }
        agent.unpark(); // at once, not after its sleep
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
        return directory.links();
    }

    /** The worker behind a request stream, or null before anything has announced itself there. */
    WorkerLink link(final int requestStreamId)
    {
        return directory.link(requestStreamId);
    }

    /**
     * The request stream's publication on the request channel its worker announced (the client's channel
     * before any worker has announced itself there), added on first use (which waits for the driver, at
     * most the driver timeout).
     *
     * @throws PolybridgeException WORKER_UNAVAILABLE when the client is closed or the driver is gone.
     */
    Publication publication(final int requestStreamId)
    {
        final WorkerLink link = directory.link(requestStreamId);
        final WorkerInfo info = link == null ? null : link.info;
        return publication(requestStreamId, info == null ? ctx.channel() : info.requestChannel());
    }

    /**
     * One publication per request stream, on its worker's request channel: replaced (the old one closed)
     * when a worker announces the stream on another channel.
     */
    Publication publication(final int requestStreamId, final String requestChannel)
    {
        final Publication existing = publicationsByStreamId.get(requestStreamId);
        if (existing != null && existing.channel().equals(requestChannel))
        {
            return existing;
        }
        ensureOpen();
        try
        {
            return publicationsByStreamId.compute(requestStreamId, (streamId, current) ->
            {
                if (current != null)
                {
                    if (current.channel().equals(requestChannel))
                    {
                        return current;
                    }
                    CloseHelper.close(ctx.errorHandler(), current);
                }
                return aeron.addPublication(requestChannel, streamId);
            });
        }
        catch (final AeronException ex)
        {
            if (ex instanceof DriverTimeoutException)
            {
                driverWatch.report(ex.getMessage());
            }
            ensureOpen();
            throw AeronConnector.unavailable("could not open request stream " + requestStreamId + " on " +
                requestChannel + " on the media driver in " + ctx.aeronDirectoryName() + ": " + ex.getMessage(), ex);
        }
    }

    /**
     * Close the publication to a request stream no worker will read again (a replaced worker
     * incarnation's, see Bridge): a caller still offering to it fails at once (CLOSED) instead of
     * waiting on the dead subscriber, and the driver can free its log.
     */
    void closePublication(final int requestStreamId)
    {
        final Publication publication = publicationsByStreamId.remove(requestStreamId);
        doorbells.remove(requestStreamId);
        if (publication != null && !aeron.isClosed())
        {
            CloseHelper.close(ctx.errorHandler(), publication);
        }
    }

    /**
     * @return the workers that have announced themselves so far.
     */
    public Collection<WorkerInfo> workers()
    {
        return directory.workers();
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
        return agent.replyStreamId();
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
        if (proxy.isClosed())
        {
            return;
        }
        proxy.close();
        agent.closing(); // not asleep while its runner stops
        final ErrorHandler errorHandler = ctx.errorHandler();
        CloseHelper.close(errorHandler, agentRunner); // the agent fails what it holds as it closes
        CloseHelper.close(errorHandler, doorbells);
        CloseHelper.close(errorHandler, requestRegion); // loans were given back by the agent as it closed
        window.drainHandOffs((call) ->
        {
            if (!call.registered) // the agent has stopped (joined): its writes are visible
            {
                window.release();
                call.completeExceptionally(closedException());
            }
        }, Integer.MAX_VALUE);
        if (!aeron.isClosed())
        {
            for (final Publication publication : publicationsByStreamId.values())
            {
                CloseHelper.close(errorHandler, publication);
            }
        }
        closeAeron();
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return proxy.call(publication, link, handler, payload, offset, length, timeout, metadata);
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final byte[] payload,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return proxy.call(publication, link, handler, payload, timeout, metadata);
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        return proxy.call(publication, link, handler, payload, offset, length, timeout, metadata, inPlace);
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final byte[] payload,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        return proxy.call(publication, link, handler, payload, timeout, metadata, inPlace);
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final PayloadLoan loan,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        return proxy.call(publication, link, handler, loan, length, timeout, metadata, inPlace);
    }

    /** A loan for a typed request of length bytes to this publication's worker, or null: encode inline. */
    PayloadLoan loanFor(final Publication publication, final int length, final Duration timeout)
    {
        return proxy.loanFor(ReplyChannel.isIpc(publication.channel()), length, timeoutNs(timeout, "timeout"));
    }

    /** A loan for a typed request routed later (Bridge): lent when the client's channel is IPC. */
    PayloadLoan loanFor(final int length, final Duration timeout)
    {
        return proxy.loanFor(ReplyChannel.isIpc(ctx.channel()), length, timeoutNs(timeout, "timeout"));
    }

    /**
     * Borrow a piece of the client's payload region for one request, failing at once when the region is
     * full. Write the payload into it (e.g. {@code fileChannel.read(loan.byteBuffer())}) and pass it to
     * {@code call(handler, loan, length, ...)} on a {@link WorkerStub} or {@link Bridge}: the worker reads
     * it in place. Close it to give it back unsent.
     *
     * @param length the bytes to borrow, 1 to {@link Context#maxMessageSize()}.
     * @return the loan.
     * @throws PolybridgeException   OVERLOADED when the region has no room (the message says how much is
     *                               lent), or its file cannot be created.
     * @throws IllegalStateException when the client has no payload region (payloadRegionSize 0).
     */
    public PayloadLoan loan(final int length)
    {
        return loan(length, Duration.ZERO);
    }

    /**
     * Borrow a piece of the client's payload region, waiting for room up to wait.
     *
     * @param length the bytes to borrow, 1 to {@link Context#maxMessageSize()}.
     * @param wait   how long to wait for other loans to be given back; zero: not at all.
     * @return the loan.
     * @throws PolybridgeException OVERLOADED when no room came in time.
     */
    public PayloadLoan loan(final int length, final Duration wait)
    {
        Objects.requireNonNull(wait, "wait");
        ensureOpen();
        return proxy.loan(length, wait.isNegative() ? 0 : Math.min(wait.toNanos(), MAX_TIMEOUT.toNanos()));
    }

    /**
     * @return bytes of the payload region lent now (to calls in flight or unsent loans), in whole
     *     4096-byte blocks; 0 without a region.
     */
    public long lentPayloadBytes()
    {
        return requestRegion == null ? 0 : requestRegion.lentBytes();
    }

    /**
     * @return the id of the client's payload region (its file is
     *     {@code <aeron dir>/polybridge-payloads-<id as 16 hex digits>} once a payload was lent), 0 without one.
     */
    public long payloadRegionId()
    {
        return requestRegion == null ? 0 : requestRegion.regionId();
    }

    RequestRegion requestRegion()
    {
        return requestRegion;
    }

    ClientAgent agent()
    {
        return agent;
    }

    Doorbells doorbells()
    {
        return doorbells;
    }

    /**
     * @return calls published and not yet completed by a response, a deadline or the close.
     */
    public int inFlight()
    {
        return window.inFlight();
    }

    private void ensureOpen()
    {
        if (proxy.isClosed())
        {
            throw closedException();
        }
        final String lost = driverWatch.lostReason();
        if (lost != null)
        {
            throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, lost);
        }
    }

    /**
     * @return whether the client has found its media driver gone (or its Aeron client closed): every
     * call fails at once with WORKER_UNAVAILABLE; close this client and connect a new one.
     */
    public boolean isDriverLost()
    {
        return driverWatch.lostReason() != null;
    }

    /**
     * @return why the driver was taken for lost, e.g. "media driver in /dev/shm/... is gone: ...", or
     * null while it is not.
     */
    public String driverLostReason()
    {
        return driverWatch.lostReason();
    }

    private static PolybridgeException closedException()
    {
        return new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "the client was closed");
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
     * A call's timeout in nanoseconds: positive, and at most {@link #MAX_TIMEOUT} (longer ones, up to
     * {@code Duration.ofSeconds(Long.MAX_VALUE)}, are shortened to it rather than overflow).
     */
    static long timeoutNs(final Duration timeout, final String name)
    {
        requirePositive(timeout, name);
        return (timeout.compareTo(MAX_TIMEOUT) > 0 ? MAX_TIMEOUT : timeout).toNanos();
    }

    /**
     * Client settings with defaults; {@link #conclude()} validates them once, at connect.
     */
    public static final class Context
    {
        /**
         * System property giving the default of {@link #callerInvokesAgent(boolean)}: {@code false} turns the
         * invoker off (e.g. to compare), anything else or unset leaves it on.
         */
        public static final String CALLER_INVOKES_AGENT_PROP_NAME = "polybridge.client.callerInvokesAgent";

        /** System property for {@link #payloadRegionSize(long)}, in bytes. */
        public static final String PAYLOAD_REGION_SIZE_PROP_NAME = "polybridge.client.payloadRegionSize";

        /** System property for {@link #maxMessageSize(long)}, in bytes. */
        public static final String MAX_MESSAGE_SIZE_PROP_NAME = "polybridge.client.maxMessageSize";

        /** System property for {@link #payloadLoanThreshold(long)}, in bytes. */
        public static final String PAYLOAD_LOAN_THRESHOLD_PROP_NAME = "polybridge.client.payloadLoanThreshold";

        /** 256 MiB: four 64 MiB payloads in flight at once; the file's pages are touched only as used. */
        public static final long DEFAULT_PAYLOAD_REGION_SIZE = 256L << 20;

        /** 64 MiB: the largest payload a call sends by default. */
        public static final long DEFAULT_MAX_MESSAGE_SIZE = 64L << 20;

        /** 64 KiB: below this a copy into Aeron's log costs less than a loan and its release. */
        public static final long DEFAULT_PAYLOAD_LOAN_THRESHOLD = 64L << 10;

        /** The largest payload region (the readers' limit, the same in every language). */
        public static final long MAX_PAYLOAD_REGION_SIZE = 1L << 30;

        /** Reply streams chosen automatically start here, offset by the Aeron client id. */
        public static final int AUTO_REPLY_STREAM_BASE = 1000;

        /**
         * Default of {@link #driverTimeout(Duration)}: 10 s, Aeron's own. A driver whose process exits is
         * noticed within ~100 ms without it; this is for a driver alive but silent (SIGSTOPped, starved
         * on a loaded machine, in a long GC pause), which must not be taken for dead too soon.
         */
        public static final long DEFAULT_DRIVER_TIMEOUT_MS = 10_000;

        static final Duration MIN_DRIVER_TIMEOUT = Duration.ofMillis(10);
        static final Duration MAX_DRIVER_TIMEOUT = Duration.ofHours(1);

        private String aeronDirectoryName = CommonContext.getAeronDirectoryName();
        private String channel = "aeron:ipc";
        private String replyChannel; // null: channel
        private List<String> announceChannels; // null: [channel]
        private int controlStreamId = 10;
        private int replyStreamId = 0;
        private Duration defaultTimeout = Duration.ofSeconds(5);
        private Supplier<IdleStrategy> idleStrategy = BackoffSleepIdleStrategy::new;
        private boolean callerInvokesAgent = !"false".equals(System.getProperty(CALLER_INVOKES_AGENT_PROP_NAME));
        private Executor completionExecutor = ForkJoinPool.commonPool();
        private int registrationQueueCapacity = 64 * 1024;
        private int maxInFlight = 16 * 1024;
        private long payloadRegionSize = Long.getLong(PAYLOAD_REGION_SIZE_PROP_NAME, DEFAULT_PAYLOAD_REGION_SIZE);
        private long maxMessageSize = Long.getLong(MAX_MESSAGE_SIZE_PROP_NAME, DEFAULT_MAX_MESSAGE_SIZE);
        private long payloadLoanThreshold =
            Long.getLong(PAYLOAD_LOAN_THRESHOLD_PROP_NAME, DEFAULT_PAYLOAD_LOAN_THRESHOLD);
        private boolean waitWhenOverloaded = true;
        private Duration workerLivenessTimeout = Duration.ZERO;
        private Duration driverTimeout = Duration.ofMillis(DEFAULT_DRIVER_TIMEOUT_MS);
        private ErrorHandler errorHandler;
        private Consumer<String> driverLostHandler;
        private Aeron aeron;
        private boolean ownsAeronClient;
        Consumer<WorkerLink> deathListener; // Bridge's supervisor: runs in the agent's duty cycle, must not block

        Context conclude()
        {
            if (null == errorHandler)
            {
                errorHandler = PolybridgeClient::logError;
            }
            if (null != aeron)
            {
                aeronDirectoryName = aeron.context().aeronDirectoryName();
            }
            Objects.requireNonNull(driverTimeout, "driverTimeout");
            if (driverTimeout.compareTo(MIN_DRIVER_TIMEOUT) < 0 || driverTimeout.compareTo(MAX_DRIVER_TIMEOUT) > 0)
            {
                throw new IllegalArgumentException("driverTimeout must be between " + MIN_DRIVER_TIMEOUT + " and " +
                    MAX_DRIVER_TIMEOUT + ", was " + driverTimeout + "; above the driver's heartbeat interval (100 ms " +
                    "for drivers polybridge starts, aeron.timer.interval = 1 s for a stock Aeron driver)");
            }
            Objects.requireNonNull(workerLivenessTimeout, "workerLivenessTimeout");
            if (workerLivenessTimeout.isNegative())
            {
                throw new IllegalArgumentException("workerLivenessTimeout must be zero (off) or positive, was " +
                    workerLivenessTimeout);
            }
            if (workerLivenessTimeout.compareTo(MAX_TIMEOUT) > 0)
            {
                throw new IllegalArgumentException("workerLivenessTimeout must be at most " + MAX_TIMEOUT +
                    ", was " + workerLivenessTimeout + "; use Duration.ZERO to turn liveness off");
            }
            requireText(aeronDirectoryName, "aeronDirectoryName");
            requireText(channel, "channel");
            if (!channel.startsWith("aeron:"))
            {
                throw new IllegalArgumentException("channel must be an Aeron URI such as aeron:ipc, was " + channel);
            }
            if (replyChannel != null)
            {
                ReplyChannel.validate(replyChannel, channel);
            }
            if (announceChannels != null)
            {
                validateAnnounceChannels(announceChannels);
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
            concludePayloads();
            return this;
        }

        private void concludePayloads()
        {
            if (payloadRegionSize < 0 || payloadRegionSize > MAX_PAYLOAD_REGION_SIZE)
            {
                throw new IllegalArgumentException("payloadRegionSize (" + PAYLOAD_REGION_SIZE_PROP_NAME +
                    ") must be 0 (no region: every payload inline) to " + MAX_PAYLOAD_REGION_SIZE + " bytes, was " +
                    payloadRegionSize);
            }
            final long block = PayloadRegionFiles.BLOCK_LENGTH;
            payloadRegionSize = (payloadRegionSize + block - 1) / block * block;
            if (maxMessageSize < 1 || maxMessageSize > MAX_PAYLOAD_REGION_SIZE)
            {
                throw new IllegalArgumentException("maxMessageSize (" + MAX_MESSAGE_SIZE_PROP_NAME + ") must be 1 to " +
                    MAX_PAYLOAD_REGION_SIZE + " bytes, was " + maxMessageSize);
            }
            if (payloadRegionSize > 0 && maxMessageSize > payloadRegionSize)
            {
                throw new IllegalArgumentException("maxMessageSize " + maxMessageSize + " must be at most " +
                    "payloadRegionSize " + payloadRegionSize + ": a payload that large could never be lent; raise " +
                    PAYLOAD_REGION_SIZE_PROP_NAME + " or lower " + MAX_MESSAGE_SIZE_PROP_NAME);
            }
            if (payloadLoanThreshold < 0)
            {
                throw new IllegalArgumentException("payloadLoanThreshold (" + PAYLOAD_LOAN_THRESHOLD_PROP_NAME +
                    ") must be 0 (never lend automatically) or more bytes, was " + payloadLoanThreshold);
            }
        }

        /**
         * The size of the client's payload region, where payloads of at least {@link #payloadLoanThreshold()}
         * bytes and explicit loans ({@link PolybridgeClient#loan(int)}) lie for IPC workers to read in place.
         * Rounded up to 4096-byte blocks. The file is created at the first loan; on tmpfs its pages cost
         * memory once touched, until the client closes. Default {@link #DEFAULT_PAYLOAD_REGION_SIZE}, system
         * property {@link #PAYLOAD_REGION_SIZE_PROP_NAME}.
         *
         * @param payloadRegionSize bytes, 0 (no region: payloads inline, up to the channel's limit) to
         *                          {@link #MAX_PAYLOAD_REGION_SIZE}.
         * @return this for a fluent API.
         */
        public Context payloadRegionSize(final long payloadRegionSize)
        {
            this.payloadRegionSize = payloadRegionSize;
            return this;
        }

        /**
         * @return the payload region's size in bytes, 0 for none.
         */
        public long payloadRegionSize()
        {
            return payloadRegionSize;
        }

        /**
         * The largest request payload a call sends: a longer one fails TOO_LARGE before anything is
         * copied. At most {@link #payloadRegionSize()} when a region is on. Default
         * {@link #DEFAULT_MAX_MESSAGE_SIZE}, system property {@link #MAX_MESSAGE_SIZE_PROP_NAME}.
         *
         * @param maxMessageSize bytes, 1 to {@link #MAX_PAYLOAD_REGION_SIZE}.
         * @return this for a fluent API.
         */
        public Context maxMessageSize(final long maxMessageSize)
        {
            this.maxMessageSize = maxMessageSize;
            return this;
        }

        /**
         * @return the largest request payload in bytes.
         */
        public long maxMessageSize()
        {
            return maxMessageSize;
        }

        /**
         * Payloads of byte[], DirectBuffer and typed calls to IPC workers of at least this many bytes are
         * copied once into the payload region and sent by reference. Default
         * {@link #DEFAULT_PAYLOAD_LOAN_THRESHOLD}, system property {@link #PAYLOAD_LOAN_THRESHOLD_PROP_NAME}.
         *
         * @param payloadLoanThreshold bytes; 0: never lend automatically (explicit loans still work).
         * @return this for a fluent API.
         */
        public Context payloadLoanThreshold(final long payloadLoanThreshold)
        {
            this.payloadLoanThreshold = payloadLoanThreshold;
            return this;
        }

        /**
         * @return the automatic loan threshold in bytes, 0 for never.
         */
        public long payloadLoanThreshold()
        {
            return payloadLoanThreshold;
        }

        private static void validateAnnounceChannels(final List<String> channels)
        {
            if (channels.isEmpty())
            {
                throw new IllegalArgumentException("announceChannels must name at least one channel, e.g. " +
                    "aeron:ipc or aeron:udp?control=WORKERHOST:40102 for a worker host");
            }
            final Set<String> seen = new HashSet<>();
            for (final String announceChannel : channels)
            {
                if (announceChannel == null || !announceChannel.startsWith("aeron:"))
                {
                    throw new IllegalArgumentException("announceChannels must be Aeron URIs such as aeron:ipc or " +
                        "aeron:udp?control=WORKERHOST:40102, was " + announceChannel);
                }
                if (!seen.add(announceChannel))
                {
                    throw new IllegalArgumentException("announceChannels names " + announceChannel + " twice");
                }
            }
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
         * @param channel the Aeron channel of this host's workers (default aeron:ipc): where they take
         *                requests, reply and announce themselves unless {@link #replyChannel(String)} and
         *                {@link #announceChannels(List)} say otherwise.
         * @return this.
         */
        public Context channel(final String channel)
        {
            this.channel = channel;
            return this;
        }

        /**
         * @return the Aeron channel of this host's workers.
         */
        public String channel()
        {
            return channel;
        }

        /**
         * Where workers reply to this client. The default, {@link #channel()} (IPC), puts an empty
         * replyChannel in each Request: a worker replies on its own channel, which only works on this
         * host. For workers on other hosts give an address of this host they can reach,
         * {@code aeron:udp?endpoint=HOST:PORT} exactly (HOST an IP literal or a host name, not a wildcard
         * such as 0.0.0.0; PORT 1-65535; no other parameters, the worker adds its own, e.g.
         * {@code term-length=16m}): the client subscribes there (on its reply stream) and names it in every
         * Request and Cancel it sends to a worker whose request channel is not IPC. Workers reached over IPC
         * still reply over IPC. Clients on one host may share one port: each has its own reply stream.
         *
         * @param replyChannel {@code aeron:udp?endpoint=HOST:PORT}, or null (the default) for {@link #channel()}.
         * @return this.
         */
        public Context replyChannel(final String replyChannel)
        {
            this.replyChannel = replyChannel;
            return this;
        }

        /**
         * @return where workers reply: the one set, or {@link #channel()}.
         */
        public String replyChannel()
        {
            return replyChannel != null ? replyChannel : channel;
        }

        /**
         * Where the client listens for workers' announcements (on {@link #controlStreamId()}), one entry per
         * worker host: e.g. {@code aeron:udp?control=10.0.0.2:40102} for the workers on 10.0.0.2 announcing
         * on {@code aeron:udp?control=10.0.0.2:40102|control-mode=dynamic}, plus {@link #channel()} to also
         * hear the workers on this host. A worker's requests then go to the request channel its
         * announcement names, or to the channel it was heard on when it names none (IPC workers).
         * Request stream ids and worker ids must be unique across all of them: give each host its own
         * range of request streams.
         *
         * @param announceChannels Aeron URIs, at least one; null (the default) for {@code [channel()]}.
         * @return this.
         */
        public Context announceChannels(final List<String> announceChannels)
        {
            this.announceChannels = announceChannels == null ? null : new ArrayList<>(announceChannels);
            return this;
        }

        /**
         * @return where the client listens for announcements: those set, or {@code [channel()]}.
         */
        public List<String> announceChannels()
        {
            return announceChannels != null ? List.copyOf(announceChannels) : List.of(channel);
        }

        /** Bridge: workers it spawns announce on {@link #channel()}, which the client must hear too. */
        void includeAnnounceChannel(final String announceChannel)
        {
            if (announceChannels != null && !announceChannels.contains(announceChannel))
            {
                announceChannels.add(announceChannel);
            }
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
         * The client agent thread's idle strategy. The default, {@link BackoffSleepIdleStrategy}, spins 100
         * times, yields 50 times, parks from 1 µs doubling to 100 µs, and after 50 ms without work sleeps
         * (100 ms parks) while no call is pending or handed off; a caller handing off a call unparks it, so
         * an idle client costs ~10 wake-ups/s and the next call is not delayed. Driver-loss checks run
         * every 100 ms, also while it sleeps. Any other strategy is used as given, without the sleep
         * phase, e.g. BusySpinIdleStrategy with a spare core. A thread waiting on its own call polls for
         * it too ({@link #callerInvokesAgent(boolean)}).
         *
         * @param idleStrategy a supplier of a new strategy for the agent thread.
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
         * Invoker mode: a thread waiting on a raw call's future ({@code join()}, {@code get()},
         * {@code get(timeout, unit)}) runs the client agent's duty cycle itself while the agent thread is
         * not (a try-lock they share), spinning, yielding, then parking at most 1 ms in between, and
         * completes its own future on its own thread: no park/unpark hand-over and no executor hop on the
         * way back. Other calls it completes go to {@link #completionExecutor()} as usual; callers that do
         * not wait (callbacks) are served by the agent thread alone. Default true, or the system property
         * {@value #CALLER_INVOKES_AGENT_PROP_NAME}; false makes a waiting thread only wait (as before).
         *
         * @param callerInvokesAgent whether a waiting caller polls for its own response.
         * @return this.
         */
        public Context callerInvokesAgent(final boolean callerInvokesAgent)
        {
            this.callerInvokesAgent = callerInvokesAgent;
            return this;
        }

        /**
         * @return whether a thread waiting on its call polls for its response itself.
         */
        public boolean callerInvokesAgent()
        {
            return callerInvokesAgent;
        }

        /**
         * @param completionExecutor where futures complete (default the common fork-join pool), never
         *                           the agent thread, so slow callbacks cannot stall replies; except a
         *                           raw call's future that a thread waits on, which that thread completes
         *                           (see {@link #callerInvokesAgent(boolean)}).
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

        /**
         * Errors that have no call to fail: the Aeron client's (driver timeouts, a client timed out by
         * the driver) and the client agent's. The default logs them through {@link System.Logger}
         * {@code polybridge.client} at ERROR; it never exits the JVM (Aeron's own default handler
         * calls {@code System.exit} on a driver timeout, which is why the client always installs one).
         *
         * @param errorHandler called on the Aeron conductor or the client agent's duty cycle (its thread, or
         *                     a thread waiting on its call); must not block.
         * @return this.
         */
        public Context errorHandler(final ErrorHandler errorHandler)
        {
            this.errorHandler = errorHandler;
            return this;
        }

        /**
         * @return where errors with no call to fail go; set at {@link #conclude()} when not given.
         */
        public ErrorHandler errorHandler()
        {
            return errorHandler;
        }

        /**
         * How long the media driver may go without a heartbeat before the client takes it for dead,
         * fails every call with WORKER_UNAVAILABLE and reports it to {@link #driverLostHandler(Consumer)}
         * (default 10 s, {@link #DEFAULT_DRIVER_TIMEOUT_MS}). A driver whose process exits (crash,
         * SIGKILL) is noticed sooner, whatever this is: the client reads the driver's pid from its
         * cnc.dat and checks the process every 100 ms. This timeout is for a driver alive but silent
         * (SIGSTOPped, starved on a loaded machine) or one whose process cannot be seen from here
         * (another pid namespace); a short one takes a live driver for dead under load. Drivers
         * polybridge starts heartbeat every 100 ms, a stock Aeron driver every {@code aeron.timer.interval}
         * (1 s). Also bounds how long connecting and opening a request stream wait for the driver. Only
         * for the Aeron client the client creates; one passed with {@link #aeron(Aeron)} keeps its own
         * settings (its driver's process is watched all the same).
         *
         * @param driverTimeout between 10 ms and 1 hour.
         * @return this.
         */
        public Context driverTimeout(final Duration driverTimeout)
        {
            this.driverTimeout = driverTimeout;
            return this;
        }

        /**
         * @return how long the driver may be silent before the client takes it for dead.
         */
        public Duration driverTimeout()
        {
            return driverTimeout;
        }

        /**
         * Called exactly once when the client finds its media driver gone (or its Aeron client closed
         * under it), after every pending call has been failed; from then on {@link #isDriverLost()} is
         * true and every call fails at once. The client cannot recover: close it, and connect a new
         * one when a driver is back.
         *
         * @param driverLostHandler given the reason, e.g. "media driver in /dev/shm/... is gone: ...";
         *                          runs in the client agent's duty cycle (its thread, or a thread waiting
         *                          on its call), so it must hand off anything slow.
         * @return this.
         */
        public Context driverLostHandler(final Consumer<String> driverLostHandler)
        {
            this.driverLostHandler = driverLostHandler;
            return this;
        }

        /**
         * @return what is told when the driver is lost, or null.
         */
        public Consumer<String> driverLostHandler()
        {
            return driverLostHandler;
        }

        /**
         * Use this Aeron client instead of creating one (as {@code AeronArchive.Context.aeron} does):
         * its directory replaces {@link #aeronDirectoryName()}, and its own error handler and timeouts
         * apply. Whether the client closes it is {@link #ownsAeronClient(boolean)}.
         *
         * @param aeron a connected client, or null (the default) to create one.
         * @return this.
         */
        public Context aeron(final Aeron aeron)
        {
            this.aeron = aeron;
            return this;
        }

        /**
         * @return the Aeron client given with {@link #aeron(Aeron)}, or null.
         */
        public Aeron aeron()
        {
            return aeron;
        }

        /**
         * @param ownsAeronClient whether closing the client also closes the Aeron client given with
         *                        {@link #aeron(Aeron)} (default false); one the client creates is always
         *                        closed with it.
         * @return this.
         */
        public Context ownsAeronClient(final boolean ownsAeronClient)
        {
            this.ownsAeronClient = ownsAeronClient;
            return this;
        }

        /**
         * @return whether closing the client closes the Aeron client given to it.
         */
        public boolean ownsAeronClient()
        {
            return ownsAeronClient;
        }
    }
}
