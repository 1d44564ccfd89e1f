package io.polybridge.client;

import java.util.concurrent.CompletableFuture;

/** A call between publication and completion; owned by the client agent once registered. */
final class PendingCall
{
    final long correlationId;
    final long deadlineNs;
    final CompletableFuture<byte[]> future;
    long timerId;

    PendingCall(final long correlationId, final long deadlineNs, final CompletableFuture<byte[]> future)
    {
        this.correlationId = correlationId;
        this.deadlineNs = deadlineNs;
        this.future = future;
    }
}
