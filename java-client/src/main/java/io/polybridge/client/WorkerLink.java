package io.polybridge.client;

import io.aeron.Publication;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * What the client knows about the worker behind one request stream: its latest announcement and
 * whether it is live. Written by the client agent (announcements, missed heartbeats, deaths
 * reported by a supervisor), read by any thread that routes calls.
 */
final class WorkerLink
{
    final int requestStreamId;
    /** Calls routed here and not yet completed; kept by {@link Bridge} for least-loaded routing. */
    final AtomicInteger routedInFlight = new AtomicInteger();

    volatile WorkerInfo info;
    volatile boolean live;
    volatile String deathReason = "";
    volatile Publication publication;

    // Agent thread only.
    long lastAnnouncementNs;
    long deadPid = Long.MIN_VALUE; // announcements still in the log from a process declared dead are ignored

    WorkerLink(final int requestStreamId)
    {
        this.requestStreamId = requestStreamId;
    }

    public String toString()
    {
        final WorkerInfo current = info;
        return (current == null ? "stream " + requestStreamId : "'" + current.workerId() + "' (pid " + current.pid() +
            ", stream " + requestStreamId + ")") + (live ? " live" : " dead: " + deathReason);
    }
}
