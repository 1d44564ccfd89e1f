package io.polybridge.client;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeadlineQueueTest
{
    private static CallFuture call(final long id, final long deadlineNs)
    {
        return new CallFuture(null, null, null, id, deadlineNs);
    }

    /** Expire everything due by nowNs, checking each lane hands calls over in deadline order. */
    private static List<CallFuture> expire(final DeadlineQueue queue, final long nowNs)
    {
        final List<CallFuture> expired = new ArrayList<>();
        queue.pollExpired(nowNs, expired::add, Integer.MAX_VALUE);
        return expired;
    }

    @Test
    void expiresExactlyTheCallsDueWithManyTimeoutsOutOfOrderAndRemovals()
    {
        final Random random = new Random(42);
        final long[] timeouts = {1_000, 5_000, 100, 30_000, 7, 2_500, 60_000, 10, 400, 90, 12_345, 3};
        final DeadlineQueue queue = new DeadlineQueue();
        final List<CallFuture> live = new ArrayList<>();
        long now = Long.MAX_VALUE - 50_000_000; // deadlines wrap past Long.MAX_VALUE, as System.nanoTime may
        for (int round = 0; round < 2_000; round++)
        {
            now += random.nextInt(50);
            for (int i = random.nextInt(20); i > 0; i--)
            {
                // More distinct timeouts than lanes, and callers a few ns out of order.
                final CallFuture call = call(round * 100L + i, now + timeouts[random.nextInt(timeouts.length)] -
                    random.nextInt(5));
                queue.add(call);
                live.add(call);
            }
            for (int i = random.nextInt(6); i > 0 && !live.isEmpty(); i--)
            {
                queue.remove(live.remove(random.nextInt(live.size()))); // answered before its deadline
            }
            final long nowNs = now;
            final List<CallFuture> expired = expire(queue, nowNs);
            final List<CallFuture> due = live.stream().filter(c -> c.deadlineNs - nowNs <= 0).toList();
            assertEquals(due.size(), expired.size(), "round " + round);
            assertTrue(expired.containsAll(due), "round " + round);
            live.removeAll(expired);
            assertEquals(live.size(), queue.size());
        }
        final long end = now + 100_000;
        assertEquals(live.size(), expire(queue, end).size());
        assertEquals(0, queue.size());
    }

    @Test
    void keepsEachLaneSortedSoTheEarliestExpireFirstWithinALimit()
    {
        final DeadlineQueue queue = new DeadlineQueue();
        final List<CallFuture> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++)
        {
            final CallFuture call = call(i, 1_000 - i * 7L % 500); // descending runs: every lane fills, then walks
            queue.add(call);
            calls.add(call);
        }
        calls.sort(Comparator.comparingLong(c -> c.deadlineNs));
        final List<CallFuture> firstTen = new ArrayList<>();
        assertEquals(10, queue.pollExpired(Long.MAX_VALUE / 2, firstTen::add, 10));
        for (final CallFuture call : firstTen)
        {
            assertTrue(call.deadlineLane < 0, "expired calls are unlinked");
        }
        assertEquals(90, queue.size());
        assertEquals(90, expire(queue, Long.MAX_VALUE / 2).size());
    }

    @Test
    void removingAnUntrackedOrAlreadyRemovedCallChangesNothing()
    {
        final DeadlineQueue queue = new DeadlineQueue();
        final CallFuture tracked = call(1, 100);
        final CallFuture never = call(2, 50);
        queue.add(tracked);
        queue.remove(never);
        queue.remove(tracked);
        queue.remove(tracked);
        assertEquals(0, queue.size());
        assertEquals(0, expire(queue, 1_000).size());
    }
}
