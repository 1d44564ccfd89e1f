package io.polybridge.client;

import java.util.function.Consumer;

/**
 * The client agent's pending calls in deadline order: adding a call and removing one cost O(1) in the
 * usual case, expiry looks at the earliest call of each lane, and nothing is allocated (the links live
 * in the {@link CallFuture}).
 * <p>
 * A call joins the lane whose latest deadline is the latest one not after its own, so each lane stays
 * sorted by appending: calls with the same timeout arrive in deadline order (give or take the few
 * microseconds between callers on different threads, which another lane absorbs), and each distinct
 * timeout soon has a lane of its own. Only a call due before every lane's latest while no lane is
 * free is inserted by walking back from a lane's end. This replaced a timer wheel plus a map from
 * timer id to call, which were about a third of the agent's work per pipelined call.
 */
final class DeadlineQueue
{
    static final int LANES = 8;

    private final CallFuture[] heads = new CallFuture[LANES];
    private final CallFuture[] tails = new CallFuture[LANES];
    private int size;

    /** Track a call until {@link #remove(CallFuture)} or its deadline. */
    void add(final CallFuture call)
    {
        final long deadlineNs = call.deadlineNs;
        int latestBefore = -1;
        int free = -1;
        int earliestTail = -1;
        for (int lane = 0; lane < LANES; lane++)
        {
            final CallFuture tail = tails[lane];
            if (tail == null)
            {
                free = free < 0 ? lane : free;
            }
            else if (tail.deadlineNs - deadlineNs <= 0)
            {
                if (latestBefore < 0 || tails[latestBefore].deadlineNs - tail.deadlineNs < 0)
                {
                    latestBefore = lane;
                }
            }
            else if (earliestTail < 0 || tail.deadlineNs - tails[earliestTail].deadlineNs < 0)
            {
                earliestTail = lane;
            }
        }
        if (latestBefore >= 0 || free >= 0)
        {
            final int lane = latestBefore >= 0 ? latestBefore : free;
            linkAfter(lane, tails[lane], call);
        }
        else
        {
            CallFuture before = tails[earliestTail];
            while (before != null && before.deadlineNs - deadlineNs > 0)
            {
                before = before.earlier;
            }
            linkAfter(earliestTail, before, call);
        }
        size++;
    }

    /** Stop tracking a call; nothing happens if it is not tracked. */
    void remove(final CallFuture call)
    {
        final int lane = call.deadlineLane;
        if (lane < 0)
        {
            return;
        }
        final CallFuture earlier = call.earlier;
        final CallFuture later = call.later;
        if (earlier == null)
        {
            heads[lane] = later;
        }
        else
        {
            earlier.later = later;
        }
        if (later == null)
        {
            tails[lane] = earlier;
        }
        else
        {
            later.earlier = earlier;
        }
        call.earlier = null;
        call.later = null;
        call.deadlineLane = -1;
        size--;
    }

    /**
     * Take out the calls whose deadline has passed and hand each to {@code onExpired}.
     *
     * @return how many expired, at most {@code limit}.
     */
    int pollExpired(final long nowNs, final Consumer<CallFuture> onExpired, final int limit)
    {
        int expired = 0;
        for (int lane = 0; lane < LANES && expired < limit; lane++)
        {
            CallFuture head;
            while (expired < limit && (head = heads[lane]) != null && head.deadlineNs - nowNs <= 0)
            {
                remove(head);
                onExpired.accept(head);
                expired++;
            }
        }
        return expired;
    }

    int size()
    {
        return size;
    }

    private void linkAfter(final int lane, final CallFuture earlier, final CallFuture call)
    {
        final CallFuture later = earlier == null ? heads[lane] : earlier.later;
        call.earlier = earlier;
        call.later = later;
        call.deadlineLane = (byte)lane;
        if (earlier == null)
        {
            heads[lane] = call;
        }
        else
        {
            earlier.later = call;
        }
        if (later == null)
        {
            tails[lane] = call;
        }
        else
        {
            later.earlier = call;
        }
    }
}
