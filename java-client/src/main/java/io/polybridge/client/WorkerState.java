package io.polybridge.client;

import java.time.Instant;

/**
 * Where a spawned worker stands, from {@link Bridge#workerStates()}: for a health endpoint, or a test.
 *
 * @param workerId        its id, e.g. {@code go-0}.
 * @param status          what it is doing.
 * @param pid             its current (or last) process, -1 before the first start.
 * @param requestStreamId the request stream of its current (or last) incarnation.
 * @param restarts        how many times it has been restarted since launch.
 * @param until           when it is next started: set while RESTARTING or DOWN, else null.
 * @param reason          why it is not LIVE (its last exit, a missed heartbeat, a lost driver), or "".
 */
public record WorkerState(
    String workerId, Status status, long pid, int requestStreamId, int restarts, Instant until, String reason)
{
    /** The states of a spawned worker; see docs/lifecycle.md for the transitions. */
    public enum Status
    {
        /** Its process runs and has not yet announced itself on its request stream: not routed to. */
        STARTING,
        /** Announced, its request stream connected: routed to. */
        LIVE,
        /** Exited (or was killed as hung); starts again at {@code until}. */
        RESTARTING,
        /** Its restart budget is spent (circuit open): starts again at {@code until}, after the cool-down. */
        DOWN,
        /** The media driver is gone; starts again once a driver answers at the bridge's directory. */
        DRIVER_LOST,
        /** The bridge is closed. */
        STOPPED
    }

    public String toString()
    {
        return workerId + " " + status + (pid > 0 ? " pid " + pid : "") + " stream " + requestStreamId +
            " restarts " + restarts + (until != null ? " until " + until : "") +
            (reason.isEmpty() ? "" : ": " + reason);
    }
}
