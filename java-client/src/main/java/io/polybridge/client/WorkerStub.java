package io.polybridge.client;

import io.aeron.Publication;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * The client's handle on one announced worker process (the server, called a worker in every language):
 * call its handlers by name, raw or typed through a {@link Method}. Obtained from
 * {@link PolybridgeClient#awaitWorker(String, Duration)}; valid until the client is closed.
 */
public final class WorkerStub
{
    private final PolybridgeClient client;
    private final WorkerInfo info;
    private final Publication publication;
    private final WorkerLink link;
    private final TypedCall.RawCall raw = new TypedCall.RawCall()
    {
        public CompletableFuture<byte[]> call(
            final String handler,
            final DirectBuffer payload,
            final int offset,
            final int length,
            final Duration timeout,
            final Map<String, String> metadata,
            final boolean inPlace)
        {
            return client.call(publication, link, handler, payload, offset, length, timeout, metadata, inPlace);
        }

        public CompletableFuture<byte[]> call(
            final String handler,
            final PayloadLoan loan,
            final int length,
            final Duration timeout,
            final Map<String, String> metadata,
            final boolean inPlace)
        {
            return client.call(publication, link, handler, loan, length, timeout, metadata, inPlace);
        }

        public PayloadLoan loanFor(final int length, final Duration timeout)
        {
            return client.loanFor(publication, length, timeout);
        }
    };

    WorkerStub(final PolybridgeClient client, final WorkerInfo info, final Publication publication, final WorkerLink link)
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
        return client.call(publication, link, handler, payload, timeout, Map.of());
    }

    /**
     * Call a handler with metadata (e.g. a trace context) the handler reads as a string map.
     *
     * @param handler  the handler name.
     * @param payload  the request bytes; not retained after this returns.
     * @param timeout  the deadline, from now.
     * @param metadata at most {@link PolybridgeClient#MAX_METADATA_ENTRIES} entries, keys of 1 to
     *                 {@link PolybridgeClient#MAX_METADATA_KEY_BYTES} UTF-8 bytes, values of at most
     *                 {@link PolybridgeClient#MAX_METADATA_VALUE_BYTES}; not modified during the call.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     * @throws IllegalArgumentException when the metadata breaks a limit (nothing is sent).
     */
    public CompletableFuture<byte[]> call(
        final String handler, final byte[] payload, final Duration timeout, final Map<String, String> metadata)
    {
        return client.call(publication, link, handler, payload, timeout, metadata);
    }

    /**
     * Call a typed handler with the client's default deadline.
     *
     * @param method  the handler and its codecs.
     * @param request the request, encoded before this returns.
     * @param <Req>   the request type.
     * @param <Resp>  the response type.
     * @return the decoded response, or a {@link PolybridgeException}; cancelling it cancels the call.
     */
    public <Req, Resp> CompletableFuture<Resp> call(final Method<Req, Resp> method, final Req request)
    {
        return call(method, request, client.context().defaultTimeout(), Map.of());
    }

    /**
     * Call a typed handler.
     *
     * @param method  the handler and its codecs.
     * @param request the request, encoded before this returns.
     * @param timeout the deadline, from now.
     * @param <Req>   the request type.
     * @param <Resp>  the response type.
     * @return the decoded response, or a {@link PolybridgeException}; cancelling it cancels the call.
     */
    public <Req, Resp> CompletableFuture<Resp> call(
        final Method<Req, Resp> method, final Req request, final Duration timeout)
    {
        return call(method, request, timeout, Map.of());
    }

    /**
     * Call a typed handler with metadata.
     *
     * @param method   the handler and its codecs.
     * @param request  the request, encoded before this returns.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @param <Req>    the request type.
     * @param <Resp>   the response type.
     * @return the decoded response, or a {@link PolybridgeException} (UNKNOWN when the response does not
     *     decode); cancelling it cancels the call.
     */
    public <Req, Resp> CompletableFuture<Resp> call(
        final Method<Req, Resp> method, final Req request, final Duration timeout, final Map<String, String> metadata)
    {
        return TypedCall.call(raw, method, request, timeout, metadata);
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
        return call(handler, payload, offset, length, timeout, Map.of());
    }

    /**
     * Call a handler with a range of a buffer as payload and metadata.
     *
     * @param handler  the handler name.
     * @param payload  the buffer holding the request bytes; not retained after this returns.
     * @param offset   where the request bytes start.
     * @param length   how many bytes.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return client.call(publication, link, handler, payload, offset, length, timeout, metadata);
    }


    /**
     * Call a handler with a payload the caller wrote into a loan of the client's payload region: only a
     * reference is sent, the worker reads the bytes where they lie. The call takes the loan (sent at most
     * once) and gives it back when the worker has answered, or is known dead, or the client closes; a worker
     * across hosts gets the bytes copied into the message instead (the loan is then given back at once).
     *
     * @param handler the handler name.
     * @param loan    from {@link PolybridgeClient#loan(int)}, not sent before.
     * @param length  the payload: bytes [0, length) of the loan.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     * @throws IllegalStateException when the loan was already sent or closed.
     */
    public CompletableFuture<byte[]> call(final String handler, final PayloadLoan loan, final int length)
    {
        return call(handler, loan, length, client.context().defaultTimeout(), Map.of());
    }

    /**
     * As {@link #call(String, PayloadLoan, int)}, with a deadline.
     *
     * @param handler the handler name.
     * @param loan    from {@link PolybridgeClient#loan(int)}, not sent before.
     * @param length  the payload: bytes [0, length) of the loan.
     * @param timeout the deadline, from now.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler, final PayloadLoan loan, final int length, final Duration timeout)
    {
        return call(handler, loan, length, timeout, Map.of());
    }

    /**
     * As {@link #call(String, PayloadLoan, int)}, with a deadline and metadata.
     *
     * @param handler  the handler name.
     * @param loan     from {@link PolybridgeClient#loan(int)}, not sent before.
     * @param length   the payload: bytes [0, length) of the loan.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler,
        final PayloadLoan loan,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return raw.call(handler, loan, length, timeout, metadata, false);
    }

    /**
     * Call a handler and read its response in place: a large response stays in the worker's payload
     * region, lent to this client until the view is closed (close it promptly: the worker cannot reuse
     * that memory until then); a small one comes as a view over a byte array.
     *
     * @param handler the handler name.
     * @param payload the request bytes; not retained after this returns.
     * @param timeout the deadline, from now.
     * @return the response, to be closed, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<PayloadView> callView(final String handler, final byte[] payload, final Duration timeout)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        return callView(handler, new UnsafeBuffer(payload), 0, payload.length, timeout, Map.of());
    }

    /**
     * As {@link #callView(String, byte[], Duration)} with a range of a buffer as payload and metadata.
     *
     * @param handler  the handler name.
     * @param payload  the buffer holding the request bytes; not retained after this returns.
     * @param offset   where the request bytes start.
     * @param length   how many bytes.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response, to be closed, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<PayloadView> callView(
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return TypedCall.view(raw.call(handler, payload, offset, length, timeout, metadata, true));
    }

    /**
     * As {@link #call(String, PayloadLoan, int, Duration, Map)}, reading the response in place.
     *
     * @param handler  the handler name.
     * @param loan     from {@link PolybridgeClient#loan(int)}, not sent before.
     * @param length   the payload: bytes [0, length) of the loan.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response, to be closed, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<PayloadView> callView(
        final String handler,
        final PayloadLoan loan,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return TypedCall.view(raw.call(handler, loan, length, timeout, metadata, true));
    }

    public String toString()
    {
        return "WorkerStub{" + info + "}";
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
