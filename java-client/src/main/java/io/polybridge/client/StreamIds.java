package io.polybridge.client;

import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Request streams for worker incarnations. Every incarnation gets a stream no earlier one used, so a
 * replacement never reads its predecessor's frames and a dead process's subscription, which the
 * driver keeps until its client liveness timeout, holds back no publication anyone still offers to.
 * <p>
 * Fresh streams count up from a random point in {@code [FRESH_BASE, Integer.MAX_VALUE]}, far above
 * the control (10), first-incarnation (100.., 200..) and reply (1000..1,001,000) streams, so bridges
 * sharing an external driver collide only if their random points fall within as many incarnations of
 * each other (odds about n / 2^30); a stream some worker has already announced itself on is skipped
 * besides. On an external driver every incarnation, the first too, takes a fresh stream (the fixed
 * first streams would be the same in every bridge). Supervisor thread only.
 */
final class StreamIds
{
    /** Lowest fresh stream; also the bound on configured first streams. */
    static final int FRESH_BASE = 0x4000_0000;

    private int next = FRESH_BASE + ThreadLocalRandom.current().nextInt(FRESH_BASE >> 1);

    int next()
    {
        final int streamId = next;
        next = streamId == Integer.MAX_VALUE ? FRESH_BASE : streamId + 1;
        return streamId;
    }

    /**
     * @param inUse streams workers have announced themselves on (this bridge's and any other's on the driver).
     * @return the next fresh stream not among them.
     */
    int next(final Set<Integer> inUse)
    {
        int streamId = next();
        while (inUse.contains(streamId))
        {
            streamId = next();
        }
        return streamId;
    }
}
