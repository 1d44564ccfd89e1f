package io.polybridge.client;

import io.aeron.Publication;
import org.agrona.DirectBuffer;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * One announced worker process: call its handlers by name. Obtained from
 * {@link PolybridgeClient#awaitWorker(String, Duration)}; valid until the client is closed.
 */
public final class Worker
{
    private final PolybridgeClient client;
    private final WorkerInfo info;
    private final Publication publication;
    private final WorkerLink link;

    Worker(final PolybridgeClient client, final WorkerInfo info, final Publication publication, final WorkerLink link)
    {
        this.link = link;
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
        return client.call(publication, link, handler, payload, timeout);
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
        return client.call(publication, link, handler, payload, offset, length, timeout);
    }

    public String toString()
    {
        return "Worker{" + info + "}";
    }

    /**
     * Fingerprint a page with wappalyzer on a Go worker ({@code wappalyzer.fingerprint}).
     *
     * @param url     where the page came from.
     * @param headers the response headers it came with.
     * @param body    the page bytes, in whatever encoding the server sent.
     * @param timeout the deadline, from now.
     * @return the technologies found; cancelling it cancels the call.
     */
    public CompletableFuture<Fingerprint> fingerprint(
        final String url, final List<Fingerprint.Header> headers, final byte[] body, final Duration timeout)
    {
        final TypedCodecs codecs = TypedCodecs.get();
        final int length = codecs.encodeFingerprint(url, headers, body);
        return TypedCodecs.mapped(call(TypedCodecs.FINGERPRINT, codecs.buffer, 0, length, timeout), TypedCodecs::decodeFingerprint);
    }

    /**
     * Extract HTML signals from a page on a Rust worker ({@code html.signals}).
     *
     * @param url     where the page came from; hosts other than its host are external.
     * @param body    the page bytes, in whatever encoding the server sent.
     * @param timeout the deadline, from now.
     * @return the signals; cancelling it cancels the call.
     */
    public CompletableFuture<Signals> signals(final String url, final byte[] body, final Duration timeout)
    {
        final TypedCodecs codecs = TypedCodecs.get();
        final int length = codecs.encodeSignals(url, body);
        return TypedCodecs.mapped(call(TypedCodecs.SIGNALS, codecs.buffer, 0, length, timeout), TypedCodecs::decodeSignals);
    }

    /**
     * Call a handler once per request and publish the responses in request order. A request is
     * sent only when the subscriber has demand for its response, with at most
     * {@code maxConcurrency} in flight; the first failure ends the stream with its
     * {@link PolybridgeException}. Each subscriber iterates the requests afresh.
     *
     * @param handler        the handler name.
     * @param requests       the request payloads, iterated lazily (may be endless).
     * @param timeout        the deadline of each call, from when it is sent.
     * @param maxConcurrency calls in flight at most, at least 1.
     * @return a cold publisher of the responses.
     */
    public Flow.Publisher<byte[]> stream(
        final String handler, final Iterable<byte[]> requests, final Duration timeout, final int maxConcurrency)
    {
        if (handler == null || handler.isEmpty())
        {
            throw new IllegalArgumentException("handler must be a handler name such as \"echo\"");
        }
        Objects.requireNonNull(requests, "requests must not be null; use List.of() for none");
        PolybridgeClient.requirePositive(timeout, "timeout");
        if (maxConcurrency < 1)
        {
            throw new IllegalArgumentException("maxConcurrency must be at least 1, was " + maxConcurrency);
        }
        return new CallStream(this, handler, requests, timeout, maxConcurrency);
    }
}
