package io.polybridge.client;

import io.aeron.Publication;

import java.util.concurrent.CompletableFuture;

/**
 * The future of one call. Cancelling it completes it as cancelled here at once and tells the
 * worker, which drops the request if it has not started it.
 */
final class CallFuture<T> extends CompletableFuture<T>
{
    private final PolybridgeClient client;
    private final Publication publication;
    private final long correlationId;

    CallFuture(final PolybridgeClient client, final Publication publication, final long correlationId)
    {
        this.client = client;
        this.publication = publication;
        this.correlationId = correlationId;
    }

    public boolean cancel(final boolean mayInterruptIfRunning)
    {
        final boolean cancelled = super.cancel(mayInterruptIfRunning);
        if (cancelled)
        {
            client.sendCancel(publication, correlationId);
        }
        return cancelled;
    }

    public <U> CompletableFuture<U> newIncompleteFuture()
    {
        return new CompletableFuture<>(); // dependents are plain futures: cancelling them is local
    }
}
