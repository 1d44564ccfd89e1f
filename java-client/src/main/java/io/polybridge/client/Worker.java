package io.polybridge.client;

import io.aeron.Publication;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * One announced worker process: call its handlers by name. Obtained from
 * {@link PolybridgeClient#awaitWorker(String, Duration)}; valid until the client is closed.
 */
public final class Worker
{
    private final PolybridgeClient client;
    private final WorkerInfo info;
    private final Publication publication;

    Worker(final PolybridgeClient client, final WorkerInfo info, final Publication publication)
    {
        this.client = client;
        this.info = info;
        this.publication = publication;
    }

    /**
     * @return what the worker announced.
     */
    public WorkerInfo info()
    {
        return info;
    }

    /**
     * Call a handler with the client's default deadline.
     *
     * @param handler the handler name, e.g. {@code "echo"}.
     * @param payload the request bytes; not retained after this returns.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(final String handler, final byte[] payload)
    {
        return call(handler, payload, client.context().defaultTimeout());
    }

    /**
     * Call a handler.
     *
     * @param handler the handler name.
     * @param payload the request bytes; not retained after this returns.
     * @param timeout the deadline, from now.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(final String handler, final byte[] payload, final Duration timeout)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        return client.call(publication, handler, new UnsafeBuffer(payload), 0, payload.length, timeout);
    }

    /**
     * Call a handler with a range of a buffer as payload, copied only into Aeron's log buffer.
     *
     * @param handler the handler name.
     * @param payload the buffer holding the request bytes; not retained after this returns.
     * @param offset  where the request bytes start.
     * @param length  how many bytes.
     * @param timeout the deadline, from now.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler, final DirectBuffer payload, final int offset, final int length, final Duration timeout)
    {
        return client.call(publication, handler, payload, offset, length, timeout);
    }

    public String toString()
    {
        return "Worker{" + info + "}";
    }
}
