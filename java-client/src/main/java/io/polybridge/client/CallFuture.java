package io.polybridge.client;

import io.aeron.Publication;

import java.util.concurrent.CompletableFuture;

/**
 * The future of one call, and the client agent's record of it while it is pending: one object
 * per call, so the raw path allocates nothing beyond the future it returns and the response bytes.
 * <p>
 * Cancelling it completes it as cancelled here at once and tells the worker, which drops the
 * request if it has not started it. The agent completes it on the completion executor by running
 * it: {@link #run()} applies the outcome the agent set.
 */
final class CallFuture extends CompletableFuture<byte[]> implements Runnable
{
    final long correlationId;
    final long deadlineNs;
    CallFuture earlier; // DeadlineQueue's links while the call is pending: agent thread only
    CallFuture later;
    byte deadlineLane = -1;
    boolean registered; // set by the agent when it first takes the call; a second hand-off abandons it
    final WorkerLink link; // null when the caller did not say which worker (liveness then does not apply)
    private final RequestProxy proxy;
    private final Publication publication;
    private Object outcome; // byte[] or Throwable, set by the agent before it hands this to the executor

    CallFuture(
        final RequestProxy proxy,
        final Publication publication,
        final WorkerLink link,
        final long correlationId,
        final long deadlineNs)
    {
        this.link = link;
        this.proxy = proxy;
        this.publication = publication;
        this.correlationId = correlationId;
        this.deadlineNs = deadlineNs;
    }

    /**
     * Set the outcome; the executor that runs this completes the future with it. The executor's
     * hand-off orders this write before {@link #run()}.
     */
    void outcome(final Object outcome)
    {
        this.outcome = outcome;
    }

    public void run()
    {
        if (outcome instanceof Throwable error)
        {
            completeExceptionally(error);
        }
        else
        {
            complete((byte[])outcome);
        }
    }

    public boolean cancel(final boolean mayInterruptIfRunning)
    {
        final boolean cancelled = super.cancel(mayInterruptIfRunning);
        if (cancelled)
        {
            proxy.sendCancel(publication, correlationId);
        }
        return cancelled;
    }

    public <U> CompletableFuture<U> newIncompleteFuture()
    {
        return new CompletableFuture<>(); // dependents are plain futures: cancelling them is local
    }
}
