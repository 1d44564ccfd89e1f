package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.exceptions.ClientTimeoutException;
import io.aeron.exceptions.ConductorServiceTimeoutException;
import io.aeron.exceptions.DriverTimeoutException;
import io.aeron.logbuffer.Header;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.ResponseDecoder;
import io.polybridge.codecs.WorkerAnnouncementDecoder;
import org.agrona.CloseHelper;
import org.agrona.DeadlineTimerWheel;
import org.agrona.DirectBuffer;
import org.agrona.ErrorHandler;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The duty cycle that owns the reply and control subscriptions and every pending call.
 * <p>
 * Hand-off: a caller enqueues its {@link CallFuture} on a many-to-one queue <em>before</em> it
 * publishes the request, and this agent drains the queue into its map. A response can only exist
 * after its request was published, so if a response finds no entry in the map the registration is
 * already in the queue: the agent drains once more and looks again. No lock is taken on either side.
 */
final class ClientAgent implements Agent
{
    private static final int FRAGMENT_LIMIT = 64;
    private static final int REGISTRATION_LIMIT = 1024;
    private static final int EXPIRY_LIMIT = 1024;
    private static final int HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;
    private static final long TIMER_TICK_NS = 1L << 20; // ~1 ms; the wheel needs a power of two
    private static final long LIVENESS_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long DRIVER_PROCESS_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Subscription replySubscription;
    private final Subscription controlSubscription;
    private final ManyToOneConcurrentArrayQueue<CallFuture> registrations;
    private final AtomicInteger inFlight;
    private final Map<String, WorkerInfo> workers;
    private final Executor completionExecutor;
    private final String description;
    private final Map<Integer, WorkerLink> links;
    private final ManyToOneConcurrentArrayQueue<WorkerDeath> deaths;
    private final long livenessTimeoutNs;
    private final Consumer<WorkerLink> deathListener;
    private final Aeron aeron;
    private final DriverWatch driverWatch;
    private final Consumer<String> driverLostHandler;
    private final ErrorHandler errorHandler;
    private long nextDriverCheckNs;
    private long nextDriverProcessCheckNs;
    private final List<WorkerLink> agentLinks = new ArrayList<>();
    private final List<CallFuture> doomed = new ArrayList<>();
    private final Consumer<WorkerDeath> deathHandler = this::onDeathReport;
    private long nextLivenessCheckNs;

    private final Long2ObjectHashMap<CallFuture> pendingByCorrelationId = new Long2ObjectHashMap<>();
    private final Long2LongHashMap correlationIdByTimerId = new Long2LongHashMap(Long.MIN_VALUE);
    private final DeadlineTimerWheel timerWheel =
        new DeadlineTimerWheel(TimeUnit.NANOSECONDS, System.nanoTime(), TIMER_TICK_NS, 1024);

    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ResponseDecoder responseDecoder = new ResponseDecoder();
    private final WorkerAnnouncementDecoder announcementDecoder = new WorkerAnnouncementDecoder();
    private final FragmentAssembler replyAssembler = new FragmentAssembler(this::onResponse);
    private final FragmentHandler controlHandler = this::onControl;
    private final Consumer<CallFuture> registrar = this::register;
    private final DeadlineTimerWheel.TimerHandler expiryHandler = this::onDeadline;

    private volatile long unmatchedResponses;
    private volatile long malformedFrames;

    ClientAgent(
        final Subscription replySubscription,
        final Subscription controlSubscription,
        final ManyToOneConcurrentArrayQueue<CallFuture> registrations,
        final AtomicInteger inFlight,
        final Map<String, WorkerInfo> workers,
        final Executor completionExecutor,
        final String description,
        final ConcurrentHashMap<Integer, WorkerLink> links,
        final ManyToOneConcurrentArrayQueue<WorkerDeath> deaths,
        final long livenessTimeoutNs,
        final Consumer<WorkerLink> deathListener,
        final Aeron aeron,
        final DriverWatch driverWatch,
        final Consumer<String> driverLostHandler,
        final ErrorHandler errorHandler)
    {
        this.aeron = aeron;
        this.driverWatch = driverWatch;
        this.driverLostHandler = driverLostHandler;
        this.errorHandler = errorHandler;
        this.links = links;
        this.deaths = deaths;
        this.livenessTimeoutNs = livenessTimeoutNs;
        this.deathListener = deathListener;
        this.replySubscription = replySubscription;
        this.controlSubscription = controlSubscription;
        this.registrations = registrations;
        this.inFlight = inFlight;
        this.workers = workers;
        this.completionExecutor = completionExecutor;
        this.description = description;
    }

    public String roleName()
    {
        return "polybridge-client";
    }

    public int doWork()
    {
        int workCount = registrations.drain(registrar, REGISTRATION_LIMIT);
        workCount += replySubscription.poll(replyAssembler, FRAGMENT_LIMIT);
        workCount += controlSubscription.poll(controlHandler, FRAGMENT_LIMIT);
        final long nowNs = System.nanoTime();
        workCount += timerWheel.poll(nowNs, expiryHandler, EXPIRY_LIMIT);
        workCount += deaths.drain(deathHandler);
        if (nowNs - nextLivenessCheckNs > 0)
        {
            nextLivenessCheckNs = nowNs + LIVENESS_CHECK_INTERVAL_NS;
            workCount += checkLiveness(nowNs);
        }
        if (driverWatch.lostReason() == null)
        {
            workCount += checkDriver(nowNs);
        }
        return workCount;
    }

    /**
     * The driver's process exiting is noticed within {@link #DRIVER_PROCESS_CHECK_INTERVAL_NS}; a driver
     * alive but silent (stopped, starved) only after the Aeron client's driver timeout, which reports it
     * to its error handler and then closes itself. An Aeron client passed in by the caller has its own
     * handler, so whether it is closed is checked too.
     */
    private int checkDriver(final long nowNs)
    {
        String reason = driverWatch.report();
        if (reason == null && nowNs - nextDriverCheckNs > 0)
        {
            nextDriverCheckNs = nowNs + LIVENESS_CHECK_INTERVAL_NS;
            if (aeron.isClosed())
            {
                reason = "its Aeron client was closed (driver timeout, or closed by its owner)";
            }
        }
        if (reason == null && nowNs - nextDriverProcessCheckNs > 0)
        {
            nextDriverProcessCheckNs = nowNs + DRIVER_PROCESS_CHECK_INTERVAL_NS;
            reason = driverWatch.checkProcess();
        }
        if (reason == null)
        {
            return 0;
        }
        onDriverLost(reason);
        return 1;
    }

    /** Nothing can be sent or received any more: fail everything, now and from now on, and say so once. */
    private void onDriverLost(final String reason)
    {
        final String message = driverWatch.lost(reason);
        registrations.drain(registrar); // registered calls fail below, later ones in register()
        for (final CallFuture call : pendingByCorrelationId.values())
        {
            doomed.add(call);
        }
        pendingByCorrelationId.clear();
        for (int i = 0, size = doomed.size(); i < size; i++)
        {
            final CallFuture call = doomed.get(i);
            retire(call);
            fail(call, ErrorCode.WORKER_UNAVAILABLE, message);
        }
        doomed.clear();
        if (driverLostHandler != null)
        {
            try
            {
                driverLostHandler.accept(message);
            }
            catch (final Throwable ex)
            {
                errorHandler.onError(ex);
            }
        }
    }

    /** A worker that has not announced itself within the liveness timeout is declared dead. */
    private int checkLiveness(final long nowNs)
    {
        if (livenessTimeoutNs <= 0)
        {
            return 0;
        }
        int declared = 0;
        for (int i = 0, size = agentLinks.size(); i < size; i++)
        {
            final WorkerLink link = agentLinks.get(i);
            if (link.live && nowNs - link.lastAnnouncementNs > livenessTimeoutNs)
            {
                declareDead(link, "no announcement for " +
                    TimeUnit.NANOSECONDS.toMillis(nowNs - link.lastAnnouncementNs) + " ms (liveness timeout " +
                    TimeUnit.NANOSECONDS.toMillis(livenessTimeoutNs) + " ms): hung or gone");
                declared++;
            }
        }
        return declared;
    }

    /** A supervisor saw the process exit: certain, so its late announcements are ignored. */
    private void onDeathReport(final WorkerDeath death)
    {
        final WorkerLink link = links.get(death.requestStreamId());
        if (link == null)
        {
            return; // died before it announced itself: no call can have been routed to it
        }
        final WorkerInfo info = link.info;
        if (death.pid() > 0 && info != null && info.pid() != death.pid())
        {
            return; // its successor has already announced itself
        }
        link.deadPid = death.pid();
        if (link.live)
        {
            declareDead(link, death.reason());
        }
    }

    /** Mark the worker dead and fail every call pending on it at once, rather than at its deadline. */
    private void declareDead(final WorkerLink link, final String reason)
    {
        link.deathReason = reason;
        link.live = false;
        registrations.drain(registrar); // calls published before the death must be failed too
        for (final CallFuture call : pendingByCorrelationId.values())
        {
            if (call.link == link)
            {
                doomed.add(call);
            }
        }
        for (int i = 0, size = doomed.size(); i < size; i++)
        {
            final CallFuture call = doomed.get(i);
            pendingByCorrelationId.remove(call.correlationId);
            retire(call);
            fail(call, ErrorCode.WORKER_UNAVAILABLE, "worker " + workerName(link) + " died with this call in flight: " +
                reason);
        }
        doomed.clear();
        if (deathListener != null)
        {
            deathListener.accept(link);
        }
    }

    private static String workerName(final WorkerLink link)
    {
        final WorkerInfo info = link.info;
        return info == null ? "on stream " + link.requestStreamId :
            "'" + info.workerId() + "' (pid " + info.pid() + ", stream " + link.requestStreamId + ")";
    }

    public void onClose()
    {
        registrations.drain(registrar);
        final List<CallFuture> calls = new ArrayList<>(pendingByCorrelationId.values());
        pendingByCorrelationId.clear();
        for (final CallFuture call : calls)
        {
            inFlight.decrementAndGet();
            fail(call, ErrorCode.WORKER_UNAVAILABLE, "the client was closed before a response arrived");
        }
        CloseHelper.closeAll(replySubscription, controlSubscription);
    }

    long unmatchedResponses()
    {
        return unmatchedResponses;
    }

    long malformedFrames()
    {
        return malformedFrames;
    }

    private void register(final CallFuture call)
    {
        if (call.registered)
        {
            // Handed over again: the caller failed it without publishing it (see PolybridgeClient.abandoned).
            if (pendingByCorrelationId.get(call.correlationId) == call)
            {
                pendingByCorrelationId.remove(call.correlationId);
                retire(call);
            }
            return;
        }
        call.registered = true;
        if (call.isDone())
        {
            inFlight.decrementAndGet(); // failed by the caller while publishing, or cancelled
            return;
        }
        final String driverLost = driverWatch.lostReason();
        if (driverLost != null)
        {
            inFlight.decrementAndGet();
            fail(call, ErrorCode.WORKER_UNAVAILABLE, driverLost);
            return;
        }
        final WorkerLink link = call.link;
        if (link != null && !link.live)
        {
            inFlight.decrementAndGet();
            fail(call, ErrorCode.WORKER_UNAVAILABLE, "worker " + workerName(link) + " is dead: " + link.deathReason);
            return;
        }
        pendingByCorrelationId.put(call.correlationId, call);
        call.timerId = timerWheel.scheduleTimer(call.deadlineNs);
        correlationIdByTimerId.put(call.timerId, call.correlationId);
    }

    /** A call taken out of the pending map before its deadline: stop its timer, free its window slot. */
    private void retire(final CallFuture call)
    {
        timerWheel.cancelTimer(call.timerId);
        correlationIdByTimerId.remove(call.timerId);
        inFlight.decrementAndGet();
    }

    private boolean onDeadline(final TimeUnit timeUnit, final long now, final long timerId)
    {
        final long correlationId = correlationIdByTimerId.remove(timerId);
        final CallFuture call = pendingByCorrelationId.remove(correlationId);
        if (call != null)
        {
            inFlight.decrementAndGet();
            fail(call, ErrorCode.TIMEOUT, "no response within the call's deadline from " + description);
        }
        return true;
    }

    private void onResponse(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (!isWellFormedResponse(buffer, offset, length))
        {
            malformedFrames = malformedFrames + 1;
            return;
        }
        responseDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
        final long correlationId = responseDecoder.correlationId();
        CallFuture call = pendingByCorrelationId.remove(correlationId);
        if (call == null)
        {
            // Its registration was enqueued before its request was published, so it is below the queue's
            // current tail. drain() stops at a slot another caller has claimed but not yet filled (a thread
            // descheduled between the two): drain until the head passes that tail, or the call is found.
            final long claimed = registrations.addedCount();
            while (true)
            {
                registrations.drain(registrar);
                call = pendingByCorrelationId.remove(correlationId);
                if (call != null || registrations.removedCount() >= claimed)
                {
                    break;
                }
                Thread.onSpinWait();
            }
        }
        if (call == null)
        {
            unmatchedResponses = unmatchedResponses + 1; // late (after its deadline) or duplicate
            return;
        }
        retire(call);

        final ErrorCode code = responseDecoder.errorCode();
        final String message = responseDecoder.errorMessage();
        if (code == ErrorCode.OK)
        {
            final byte[] payload = new byte[responseDecoder.payloadLength()];
            responseDecoder.getPayload(payload, 0, payload.length);
            call.outcome(payload);
            complete(call);
        }
        else
        {
            fail(call, code == ErrorCode.NULL_VAL ? ErrorCode.UNKNOWN : code, message);
        }
    }

    /**
     * Checks a response against the frame it arrived in before the generated decoder reads it: the
     * decoder trusts length fields, and the term buffer behind a frame is larger than the frame.
     */
    private boolean isWellFormedResponse(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < HEADER_LENGTH)
        {
            return false;
        }
        headerDecoder.wrap(buffer, offset);
        final int blockLength = headerDecoder.blockLength();
        if (headerDecoder.schemaId() != ResponseDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != ResponseDecoder.TEMPLATE_ID ||
            headerDecoder.version() < 1 ||
            blockLength < ResponseDecoder.BLOCK_LENGTH)
        {
            return false;
        }
        final int end = offset + length;
        final int messageLengthAt = offset + HEADER_LENGTH + blockLength;
        if (messageLengthAt + 2 > end)
        {
            return false;
        }
        final int payloadLengthAt = messageLengthAt + 2 + (buffer.getShort(messageLengthAt, ByteOrder.LITTLE_ENDIAN) & 0xFFFF);
        if (payloadLengthAt + 4 > end)
        {
            return false;
        }
        final long payloadLength = buffer.getInt(payloadLengthAt, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        return payloadLengthAt + 4 + payloadLength == end;
    }

    private void onControl(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        // Control messages are rare: copy to an exact-size buffer so the codec's bounds checks
        // reject lying lengths instead of reading the rest of the term.
        final byte[] frame = new byte[length];
        buffer.getBytes(offset, frame);
        final UnsafeBuffer exact = new UnsafeBuffer(frame);
        try
        {
            if (length < HEADER_LENGTH)
            {
                throw new IndexOutOfBoundsException("frame shorter than a message header");
            }
            headerDecoder.wrap(exact, 0);
            if (headerDecoder.schemaId() != WorkerAnnouncementDecoder.SCHEMA_ID ||
                headerDecoder.templateId() != WorkerAnnouncementDecoder.TEMPLATE_ID)
            {
                malformedFrames = malformedFrames + 1;
                return;
            }
            announcementDecoder.wrapAndApplyHeader(exact, 0, headerDecoder);
            final int schemaId = announcementDecoder.schemaId();
            final int schemaVersion = announcementDecoder.schemaVersion();
            final var language = announcementDecoder.language();
            final long pid = announcementDecoder.pid();
            final int requestStreamId = announcementDecoder.requestStreamId();
            final List<String> handlers = new ArrayList<>();
            for (final WorkerAnnouncementDecoder.HandlersDecoder handler : announcementDecoder.handlers())
            {
                handlers.add(handler.name());
            }
            final int workerIdLength = announcementDecoder.workerIdLength();
            final byte[] workerId = new byte[workerIdLength];
            announcementDecoder.getWorkerId(workerId, 0, workerIdLength);
            final WorkerInfo info = new WorkerInfo(
                new String(workerId, StandardCharsets.UTF_8), language, pid, requestStreamId, List.copyOf(handlers),
                schemaId, schemaVersion);
            WorkerLink link = links.get(requestStreamId);
            if (link == null)
            {
                link = new WorkerLink(requestStreamId);
                agentLinks.add(link);
            }
            if (pid == link.deadPid)
            {
                return; // published before its process died, read after
            }
            link.lastAnnouncementNs = System.nanoTime();
            link.info = info;
            if (!link.live)
            {
                link.deathReason = "";
                link.live = true;
            }
            links.put(requestStreamId, link);
            workers.put(info.workerId(), info);
        }
        catch (final IndexOutOfBoundsException ex)
        {
            malformedFrames = malformedFrames + 1;
        }
    }

    private void fail(final CallFuture call, final ErrorCode code, final String message)
    {
        call.outcome(new PolybridgeException(code, message));
        complete(call);
    }

    /** Every call completes, even when the executor refuses (shut down, saturated): then here. */
    private void complete(final CallFuture call)
    {
        try
        {
            completionExecutor.execute(call);
        }
        catch (final RejectedExecutionException ex)
        {
            errorHandler.onError(ex);
            call.run();
        }
    }

    /**
     * Whether the media driver is lost. Any thread may report a suspicion (the Aeron client's error
     * handler, a caller whose request stream timed out); the agent acts on the first and publishes the
     * verdict, which callers read before they publish.
     */
    static final class DriverWatch
    {
        private final String aeronDirectoryName;
        private final AtomicReference<String> report = new AtomicReference<>();
        private volatile String lostReason;
        private ProcessHandle driverProcess;

        DriverWatch(final String aeronDirectoryName)
        {
            this.aeronDirectoryName = aeronDirectoryName;
        }

        /**
         * Before the agent starts: the driver's process, to notice its exit at once rather than after
         * the driver timeout. Its {@link ProcessHandle#isAlive()} compares the start time too, so a
         * reused pid is not taken for the driver.
         */
        void watchProcess(final ProcessHandle driverProcess)
        {
            this.driverProcess = driverProcess;
        }

        /** Agent thread: why the driver is gone when its process has exited, else null. */
        String checkProcess()
        {
            final ProcessHandle process = driverProcess;
            return process != null && !process.isAlive() ? "its process " + process.pid() + " exited" : null;
        }

        /** From the Aeron client's error handler: these errors mean the Aeron client has closed itself. */
        void onAeronError(final Throwable error)
        {
            if (error instanceof DriverTimeoutException ||
                error instanceof ClientTimeoutException ||
                error instanceof ConductorServiceTimeoutException)
            {
                report(error.getClass().getSimpleName() + ": " + error.getMessage());
            }
        }

        void report(final String reason)
        {
            report.compareAndSet(null, reason);
        }

        String report()
        {
            return report.get();
        }

        /** Agent thread only, once. */
        String lost(final String reason)
        {
            final String message = "media driver in " + aeronDirectoryName + " is gone: " + reason;
            lostReason = message;
            return message;
        }

        String lostReason()
        {
            return lostReason;
        }
    }
}
