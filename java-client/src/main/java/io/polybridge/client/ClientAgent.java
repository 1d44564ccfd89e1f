package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.ResponseDecoder;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * The client's conductor: one duty cycle that owns the reply and control subscriptions (through
 * {@link ResponseAdapter} and {@link AnnouncementAdapter}), the agent side of the {@link InFlightWindow}
 * and the {@link WorkerDirectory}, and completes every call exactly once: by its response, its
 * deadline, its worker's death, the driver's loss or the close.
 * <p>
 * Hand-off: a caller hands its {@link CallFuture} to the window <em>before</em> it publishes the request,
 * and this agent drains the hand-offs into the correlation map. A response can only exist after its
 * request was published, so if a response finds no entry the hand-off is already queued: the agent
 * drains once more and looks again. No lock is taken on either side. Errors with no call to fail go
 * to {@link PolybridgeClient.Context#errorHandler()}.
 * <p>
 * Invoker: the duty cycle runs under a try-lock ({@link #dutyLock}) shared by the agent thread and
 * threads waiting on their own call ({@link CallFuture#join()}, {@link #invoke()}): whoever holds it
 * polls, the others do not wait for it (the agent thread counts no work and backs off). A call
 * completed for the thread that polled it is left to that thread, one with another waiter unparks it,
 * any other goes to the completion executor.
 * <p>
 * Payload regions: the agent keeps each call whose payload is lent from the {@link RequestRegion}
 * (correlation id to call) until its worker answers — with any code, even after the future completed
 * by deadline or cancel — or is known dead, or the client closes, and only then gives the loan back: the
 * worker may read it until it answers. A response lying in a worker's region is mapped read-only
 * ({@link RegionReader}), checked, then copied and released at once, or handed to an in-place caller as
 * a {@link PayloadView}; one nobody waits for any more is released at once.
 * <p>
 * Sleep: with {@link BackoffSleepIdleStrategy} the agent thread sleeps after 50 ms idle, only while no
 * call is pending or handed off and no death is queued ({@link #prepareSleep()}); callers wake it.
 */
final class ClientAgent implements Agent, BackoffSleepIdleStrategy.Gate
{
    private static final int FRAGMENT_LIMIT = 64;
    private static final byte[] EMPTY = new byte[0];
    private static final int REGISTRATION_LIMIT = 1024;
    private static final long LIVENESS_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long DRIVER_PROCESS_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Aeron aeron;
    private final DriverWatch driverWatch;
    private final Executor completionExecutor;
    private final ErrorHandler errorHandler;
    private final Consumer<String> driverLostHandler;
    private final Consumer<WorkerLink> deathListener;
    private final long livenessTimeoutNs;
    private final String description;
    private final int replyStreamId;
    private final List<Subscription> subscriptions = new ArrayList<>();
    private final ResponseAdapter[] responseAdapters;
    private final AnnouncementAdapter[] announcementAdapters;
    private final InFlightWindow window;
    private final WorkerDirectory directory = new WorkerDirectory();

    private final List<CallFuture> doomed = new ArrayList<>();
    private final Consumer<CallFuture> registrar = this::register;
    private final Consumer<CallFuture> expiry = this::onDeadline;
    private final Consumer<WorkerDeath> deathHandler = this::onDeathReport;
    private final AtomicBoolean dutyLock = new AtomicBoolean();
    private boolean dutyClosed; // under dutyLock
    private volatile boolean asleep;
    private volatile boolean closing;
    private volatile Thread agentThread;
    private long nextDriverCheckNs;
    private long nextDriverProcessCheckNs;
    private long nextLivenessCheckNs;
    private volatile long unmatchedResponses;

    // Payload regions (agent thread, under the duty lock).
    private RequestRegion requestRegion; // null: no region
    private RegionReader regionReader;
    private IntFunction<Publication> publications = (streamId) -> null;
    /** Calls whose payload is lent, by correlation id, until their worker answers or is known dead. */
    private final Long2ObjectHashMap<CallFuture> loanedCalls = new Long2ObjectHashMap<>();
    private final List<CallFuture> loansToFree = new ArrayList<>();
    private final UnsafeBuffer releaseScratch = new UnsafeBuffer(new byte[ReleaseSender.LENGTH]);
    private volatile long lentResponses;

    /**
     * Subscribes to the client's reply stream (on its channel, and on its reply channel when that is
     * another) and to the control stream on each announce channel.
     *
     * @param ctx         the client's settings, concluded.
     * @param aeron       the client's Aeron client.
     * @param driverWatch the client's verdict on its driver, shared with callers.
     */
    ClientAgent(final PolybridgeClient.Context ctx, final Aeron aeron, final DriverWatch driverWatch)
    {
        this.aeron = aeron;
        this.driverWatch = driverWatch;
        completionExecutor = ctx.completionExecutor();
        errorHandler = ctx.errorHandler();
        driverLostHandler = ctx.driverLostHandler();
        deathListener = ctx.deathListener;
        livenessTimeoutNs = ctx.workerLivenessTimeout().toNanos();
        description = "workers announced on " + String.join(", ", ctx.announceChannels()) +
            " (driver " + ctx.aeronDirectoryName() + ")";
        window = new InFlightWindow(ctx.maxInFlight(), ctx.registrationQueueCapacity());
        replyStreamId = ctx.replyStreamId() != 0 ?
            ctx.replyStreamId() : PolybridgeClient.Context.AUTO_REPLY_STREAM_BASE + (int)(aeron.clientId() % 1_000_000);
        final List<String> replyChannels = ctx.replyChannel().equals(ctx.channel()) ?
            List.of(ctx.channel()) : List.of(ctx.channel(), ctx.replyChannel()); // IPC workers still reply on IPC
        final List<String> announceChannels = ctx.announceChannels();
        responseAdapters = new ResponseAdapter[replyChannels.size()];
        announcementAdapters = new AnnouncementAdapter[announceChannels.size()];
        try
        {
            for (int i = 0; i < responseAdapters.length; i++)
            {
                final Subscription subscription =
                    AeronConnector.addSubscription(ctx, aeron, replyChannels.get(i), replyStreamId);
                subscriptions.add(subscription);
                responseAdapters[i] = new ResponseAdapter(subscription, this::onResponse);
            }
            for (int i = 0; i < announcementAdapters.length; i++)
            {
                final String channel = announceChannels.get(i);
                final Subscription subscription =
                    AeronConnector.addSubscription(ctx, aeron, channel, ctx.controlStreamId());
                subscriptions.add(subscription);
                announcementAdapters[i] = new AnnouncementAdapter(subscription, channel, this::onAnnouncement);
            }
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(subscriptions);
            throw ex;
        }
    }

    /**
     * Before the agent starts: the client's request region (loans it gives back) and how to find a worker's
     * request stream publication (releases of lent responses go there).
     */
    void payloads(
        final RequestRegion requestRegion, final RegionReader regionReader, final IntFunction<Publication> publications)
    {
        this.requestRegion = requestRegion;
        this.regionReader = regionReader;
        this.publications = publications;
    }

    /** @return responses that arrived in a worker's payload region (tests, counters). */
    long lentResponses()
    {
        return lentResponses;
    }

    /** @return calls whose request payload is still lent (tests). */
    int loanedCalls()
    {
        return loanedCalls.size();
    }

    public String roleName()
    {
        return "polybridge-client";
    }

    public void onStart()
    {
        agentThread = Thread.currentThread();
    }

    /** The agent thread: a duty cycle, unless a waiting caller is running one (then no work, back off). */
    public int doWork()
    {
        if (!dutyLock.compareAndSet(false, true))
        {
            return 0;
        }
        try
        {
            return dutyCycle();
        }
        finally
        {
            dutyLock.set(false);
        }
    }

    /**
     * A thread waiting on its call: one duty cycle if nobody else is running one (never waits for it).
     *
     * @return the work done; 0 when another thread holds the duty cycle or the client is closed.
     */
    int invoke()
    {
        if (dutyLock.get() || !dutyLock.compareAndSet(false, true))
        {
            return 0;
        }
        try
        {
            return dutyClosed ? 0 : dutyCycle();
        }
        catch (final Throwable ex)
        {
            errorHandler.onError(ex); // as the AgentRunner does for the agent thread
            return 0;
        }
        finally
        {
            dutyLock.set(false);
        }
    }

    /**
     * Sleep gate, agent thread. No lost wake-up: this writes {@code asleep} and then reads the window's
     * in-flight count, the death queue and {@code closing}; a caller first takes a window slot (a
     * compare-and-set of the count), queues a death, or sets {@code closing}, and then reads {@code asleep}
     * ({@link #wake()}). All are volatile, so sequentially consistent: either this sees the caller's write
     * and does not sleep, or the caller sees {@code asleep} and unparks this thread (an unpark before the
     * park makes the park return at once).
     */
    public boolean prepareSleep()
    {
        asleep = true;
        if (window.inFlight() == 0 && directory.deathsQueued() == 0 && !closing)
        {
            return true;
        }
        asleep = false;
        return false;
    }

    public void sleepEnded()
    {
        asleep = false;
    }

    /** Any thread, after taking a window slot or queueing a death: unpark the agent thread if it sleeps. */
    void wake()
    {
        if (asleep)
        {
            unpark();
        }
    }

    /** The client closes: the agent must not sleep through its runner's stop. */
    void closing()
    {
        closing = true;
        unpark();
    }

    /** Rare events (a death queued): unpark the agent thread whether it sleeps or not. */
    void unpark()
    {
        final Thread thread = agentThread;
        if (thread != null)
        {
            LockSupport.unpark(thread);
        }
    }

    /** @return whether the agent thread is in its sleep phase (tests). */
    boolean isAsleep()
    {
        return asleep;
    }

    private int dutyCycle()
    {
        int workCount = window.drainHandOffs(registrar, REGISTRATION_LIMIT);
        for (final ResponseAdapter responseAdapter : responseAdapters)
        {
            workCount += responseAdapter.poll(FRAGMENT_LIMIT);
        }
        for (final AnnouncementAdapter announcementAdapter : announcementAdapters)
        {
            // Not work for the idle strategy: each worker announces itself every second, and counting
            // that would restart the agent's back-off (50 ms of parks before it sleeps again) every time.
            announcementAdapter.poll(FRAGMENT_LIMIT);
        }
        final long nowNs = System.nanoTime();
        workCount += window.pollDeadlines(nowNs, expiry);
        workCount += directory.drainDeaths(deathHandler);
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

    /** Fail what is still pending or handed off; called on the agent thread as the runner stops. */
    public void onClose()
    {
        while (!dutyLock.compareAndSet(false, true))
        {
            Thread.onSpinWait(); // a waiting caller's duty cycle: microseconds
        }
        try
        {
            dutyClosed = true;
            closeDuty();
        }
        finally
        {
            dutyLock.set(false);
        }
    }

    private void closeDuty()
    {
        window.drainHandOffs(registrar, Integer.MAX_VALUE);
        window.takeAll(null, doomed);
        failDoomed("the client was closed before a response arrived");
        freeLoans(null); // the region is removed next: no worker maps a new reference to it
        CloseHelper.closeAll(subscriptions);
    }

    InFlightWindow window()
    {
        return window;
    }

    WorkerDirectory directory()
    {
        return directory;
    }

    int replyStreamId()
    {
        return replyStreamId;
    }

    long unmatchedResponses()
    {
        return unmatchedResponses;
    }

    long malformedFrames()
    {
        long malformed = 0;
        for (final ResponseAdapter responseAdapter : responseAdapters)
        {
            malformed += responseAdapter.malformedFrames();
        }
        for (final AnnouncementAdapter announcementAdapter : announcementAdapters)
        {
            malformed += announcementAdapter.malformedFrames();
        }
        return malformed;
    }

    private void register(final CallFuture call)
    {
        if (call.registered)
        {
            // Handed over again: the caller failed it without publishing it (see RequestProxy.abandoned).
            if (window.isPending(call))
            {
                window.remove(call.correlationId);
                window.retire(call);
            }
            freeLoan(call.correlationId); // never published: no worker can read it
            return;
        }
        call.registered = true;
        if (call.loanOffset >= 0)
        {
            loanedCalls.put(call.correlationId, call); // whatever completes the future, until its worker answers
        }
        if (call.isDone())
        {
            window.release(); // failed by the caller while publishing, or cancelled
            return;
        }
        final String driverLost = driverWatch.lostReason();
        if (driverLost != null)
        {
            window.release();
            fail(call, ErrorCode.WORKER_UNAVAILABLE, driverLost);
            return;
        }
        final WorkerLink link = call.link;
        if (link != null && !link.live)
        {
            window.release();
            freeLoan(call.correlationId);
            fail(call, ErrorCode.WORKER_UNAVAILABLE, "worker " + workerName(link) + " is dead: " + link.deathReason);
            return;
        }
        window.add(call);
    }

    private void onDeadline(final CallFuture call)
    {
        fail(call, ErrorCode.TIMEOUT, "no response within the call's deadline from " + description);
    }

    private void onResponse(final ResponseDecoder response)
    {
        final long correlationId = response.correlationId();
        CallFuture call = window.remove(correlationId);
        if (call == null)
        {
            call = window.drainUntilFound(registrar, correlationId);
        }
        if (!loanedCalls.isEmpty())
        {
            freeLoan(correlationId); // the worker has answered: it reads that payload no more
        }
        final long regionId = response.regionId();
        if (call == null)
        {
            unmatchedResponses = unmatchedResponses + 1; // late (after its deadline) or duplicate
            if (regionId != 0)
            {
                releaseLate(response, regionId);
            }
            return;
        }
        window.retire(call);

        final ErrorCode code = response.errorCode();
        final String message = response.errorMessage();
        if (code == ErrorCode.OK)
        {
            if (regionId != 0)
            {
                onLentResponse(call, response, regionId);
                return;
            }
            final byte[] payload = new byte[response.payloadLength()];
            response.getPayload(payload, 0, payload.length);
            call.outcome(payload);
            complete(call);
        }
        else
        {
            if (regionId != 0)
            {
                releaseLate(response, regionId);
            }
            fail(call, code == ErrorCode.NULL_VAL ? ErrorCode.UNKNOWN : code, message);
        }
    }

    /**
     * The response lies in the worker's region: map it (read-only, cached), check the reference, then
     * copy it once and give it back at once (byte[] API), or hand the caller a view that gives it back
     * when closed (in place).
     */
    private void onLentResponse(final CallFuture call, final ResponseDecoder response, final long regionId)
    {
        lentResponses = lentResponses + 1;
        final long regionOffset = response.regionOffset();
        final long regionLength = response.regionLength();
        final RegionReader.Mapping mapping;
        try
        {
            mapping = regionReader.map(regionId, regionOffset, regionLength);
        }
        catch (final RegionReader.RegionException ex)
        {
            ReleaseSender.send(releaseScratch, call.publication, call.correlationId, replyStreamId, regionId,
                regionOffset);
            fail(call, ErrorCode.UNKNOWN, "the worker's response lies in its payload region, but " + ex.getMessage());
            return;
        }
        final java.nio.ByteBuffer view = mapping.view(regionOffset, (int)regionLength);
        if (call.inPlace)
        {
            call.view(new PayloadView(view, new ReleaseSender(call.publication, call.correlationId, replyStreamId,
                regionId, regionOffset)));
            call.outcome(EMPTY);
        }
        else
        {
            final byte[] payload = new byte[(int)regionLength];
            view.get(payload);
            ReleaseSender.send(releaseScratch, call.publication, call.correlationId, replyStreamId, regionId,
                regionOffset);
            call.outcome(payload);
        }
        complete(call);
    }

    /** A lent response nobody waits for (its call finished first): give it back to the worker at once. */
    private void releaseLate(final ResponseDecoder response, final long regionId)
    {
        final WorkerLink link = directory.linkByRegionId(regionId);
        final Publication publication = link == null ? null : publications.apply(link.requestStreamId);
        ReleaseSender.send(releaseScratch, publication, response.correlationId(), replyStreamId, regionId,
            response.regionOffset());
    }

    /** The worker answered the call (or never got it): give its request payload's loan back. */
    private void freeLoan(final long correlationId)
    {
        final CallFuture loaned = loanedCalls.remove(correlationId);
        if (loaned != null)
        {
            requestRegion.release(loaned.loanOffset, loaned.loanLength);
        }
    }

    /** Give back the loans of calls to a worker known dead (or all, for null): nobody reads them any more. */
    private void freeLoans(final WorkerLink link)
    {
        if (loanedCalls.isEmpty())
        {
            return;
        }
        for (final CallFuture call : loanedCalls.values())
        {
            if (link == null || call.link == link)
            {
                loansToFree.add(call);
            }
        }
        for (int i = 0, size = loansToFree.size(); i < size; i++)
        {
            freeLoan(loansToFree.get(i).correlationId);
        }
        loansToFree.clear();
    }

    private void onAnnouncement(final WorkerInfo info)
    {
        final WorkerLink link = directory.linkFor(info.requestStreamId());
        if (info.pid() == link.deadPid)
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
        directory.announced(link, info);
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
        window.drainHandOffs(registrar, Integer.MAX_VALUE); // registered calls fail below, later ones in register()
        window.takeAll(null, doomed);
        failDoomed(message);
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
        final List<WorkerLink> links = directory.agentLinks();
        for (int i = 0, size = links.size(); i < size; i++)
        {
            final WorkerLink link = links.get(i);
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
        final WorkerLink link = directory.link(death.requestStreamId());
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
        else
        {
            freeLoans(link); // declared dead by liveness before: certain now
        }
    }

    /** Mark the worker dead and fail every call pending on it at once, rather than at its deadline. */
    private void declareDead(final WorkerLink link, final String reason)
    {
        link.deathReason = reason;
        link.live = false;
        window.drainHandOffs(registrar, Integer.MAX_VALUE); // calls published before the death must be failed too
        window.takeAll(link, doomed);
        failDoomed("worker " + workerName(link) + " died with this call in flight: " + reason);
        freeLoans(link);
        final WorkerInfo info = link.info;
        if (info != null && info.regionId() != 0)
        {
            regionReader.forget(info.regionId()); // its file goes with it; the mapping when no view holds it
        }
        if (deathListener != null)
        {
            deathListener.accept(link);
        }
    }

    private void failDoomed(final String message)
    {
        for (int i = 0, size = doomed.size(); i < size; i++)
        {
            fail(doomed.get(i), ErrorCode.WORKER_UNAVAILABLE, message);
        }
        doomed.clear();
    }

    private static String workerName(final WorkerLink link)
    {
        final WorkerInfo info = link.info;
        return info == null ? "on stream " + link.requestStreamId :
            "'" + info.workerId() + "' (pid " + info.pid() + ", stream " + link.requestStreamId + ")";
    }

    private void fail(final CallFuture call, final ErrorCode code, final String message)
    {
        call.outcome(new PolybridgeException(code, message));
        complete(call);
    }

    /**
     * Every call completes, even when the executor refuses (shut down, saturated): then here. A call
     * with a waiter is completed by it: this thread, after its duty cycle, or another, unparked. The
     * outcome was set (volatile) before the waiter is read: see {@link CallFuture}.
     */
    private void complete(final CallFuture call)
    {
        final Thread waiter = call.waiter();
        if (waiter != null)
        {
            if (waiter != Thread.currentThread())
            {
                LockSupport.unpark(waiter);
            }
            return;
        }
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
}
