package io.polybridge.client;

import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The calls in flight: at most {@code maxInFlight} window slots, the hand-off queue from callers to
 * the client agent, and, on the agent's side, the pending calls by correlation id with a deadline
 * timer each.
 * <p>
 * Callers (any thread) take a slot, then hand their {@link CallFuture} over <em>before</em> they publish
 * the request. The agent moves it into the correlation map and schedules its deadline; whichever of
 * response, deadline, worker death, driver loss or close takes it out of the map completes it, so it
 * completes exactly once, and frees its slot ({@link #retire(CallFuture)}). No lock on either side;
 * nothing allocated per call beyond the future (the map reuses its storage, the deadline queue's links
 * are the future's fields).
 */
final class InFlightWindow
{
    private static final int EXPIRY_LIMIT = 1024;

    private final int maxInFlight;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final ManyToOneConcurrentArrayQueue<CallFuture> handOffs;

    // Agent thread only.
    private final Long2ObjectHashMap<CallFuture> pendingByCorrelationId = new Long2ObjectHashMap<>();
    private final DeadlineQueue deadlines = new DeadlineQueue();
    private final Consumer<CallFuture> expiry = this::onExpired;
    private Consumer<CallFuture> onExpired;

    InFlightWindow(final int maxInFlight, final int handOffCapacity)
    {
        this.maxInFlight = maxInFlight;
        this.handOffs = new ManyToOneConcurrentArrayQueue<>(handOffCapacity);
    }

    // ---- callers

    /** Take a slot if one is free; the caller waits or gives up as its settings say. */
    boolean tryAcquire()
    {
        while (true)
        {
            final int current = inFlight.get();
            if (current >= maxInFlight)
            {
                return false;
            }
            if (inFlight.compareAndSet(current, current + 1))
            {
                return true;
            }
        }
    }

    /** Free a slot: the call never reached the agent, or left its hands. */
    void release()
    {
        inFlight.decrementAndGet();
    }

    /** @return calls holding a slot. */
    int inFlight()
    {
        return inFlight.get();
    }

    int maxInFlight()
    {
        return maxInFlight;
    }

    /** Hand a call to the agent (again, to abandon one that was never published). */
    boolean handOff(final CallFuture call)
    {
        return handOffs.offer(call);
    }

    // ---- agent thread

    int drainHandOffs(final Consumer<CallFuture> registrar, final int limit)
    {
        return handOffs.drain(registrar, limit);
    }

    /**
     * Drain until every call handed off before {@code claimed} was taken: drain() stops at a slot a
     * caller has claimed but not yet filled (a thread descheduled between the two).
     *
     * @return the call with the correlation id, or null once all such hand-offs were taken.
     */
    CallFuture drainUntilFound(final Consumer<CallFuture> registrar, final long correlationId)
    {
        final long claimed = handOffs.addedCount();
        while (true)
        {
            handOffs.drain(registrar);
            final CallFuture call = pendingByCorrelationId.remove(correlationId);
            if (call != null || handOffs.removedCount() >= claimed)
            {
                return call;
            }
            Thread.onSpinWait();
        }
    }

    /** Track a registered call until its deadline. */
    void add(final CallFuture call)
    {
        pendingByCorrelationId.put(call.correlationId, call);
        deadlines.add(call);
    }

    /** @return the pending call, taken out of the map (the caller then retires it), or null. */
    CallFuture remove(final long correlationId)
    {
        return pendingByCorrelationId.remove(correlationId);
    }

    /** @return whether this very call is pending. */
    boolean isPending(final CallFuture call)
    {
        return pendingByCorrelationId.get(call.correlationId) == call;
    }

    /** A call taken out of the map before its deadline: forget its deadline, free its slot. */
    void retire(final CallFuture call)
    {
        deadlines.remove(call);
        inFlight.decrementAndGet();
    }

    /**
     * Take out, retire and collect every pending call (of one worker, or all for null).
     *
     * @param link  only calls routed to this worker, or null for all.
     * @param taken where they go, for the agent to fail them.
     */
    void takeAll(final WorkerLink link, final List<CallFuture> taken)
    {
        for (final CallFuture call : pendingByCorrelationId.values())
        {
            if (link == null || call.link == link)
            {
                taken.add(call);
            }
        }
        for (int i = 0, size = taken.size(); i < size; i++)
        {
            final CallFuture call = taken.get(i);
            pendingByCorrelationId.remove(call.correlationId);
            retire(call);
        }
    }

    /**
     * Expire the calls whose deadline has passed: each is taken out, its slot freed, and given to
     * {@code onExpired}.
     */
    int pollDeadlines(final long nowNs, final Consumer<CallFuture> onExpired)
    {
        this.onExpired = onExpired;
        return deadlines.pollExpired(nowNs, expiry, EXPIRY_LIMIT);
    }

    private void onExpired(final CallFuture call)
    {
        pendingByCorrelationId.remove(call.correlationId);
        inFlight.decrementAndGet();
        onExpired.accept(call);
    }
}
