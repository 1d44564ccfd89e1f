package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A typed call over a raw one: encodes the request with the {@link Method}'s codec into a per-thread
 * buffer (the raw call copies it into Aeron's log before returning), and decodes the response into the
 * future the caller gets, whose cancel cancels the call. Waiting on it waits through the raw call, so
 * a waiting thread polls for its response as for a raw call ({@link CallFuture}).
 */
final class TypedCall
{
    /** A raw call with a buffer range as payload: the Bridge's (routed) or a stub's (one worker). */
    @FunctionalInterface
    interface RawCall
    {
        CompletableFuture<byte[]> call(
            String handler, DirectBuffer payload, int offset, int length, Duration timeout, Map<String, String> metadata);
    }

    private static final ThreadLocal<ExpandableDirectByteBuffer> REQUEST_BUFFERS =
        ThreadLocal.withInitial(() -> new ExpandableDirectByteBuffer(1024));

    private TypedCall()
    {
    }

    static <Req, Resp> CompletableFuture<Resp> call(
        final RawCall raw,
        final Method<Req, Resp> method,
        final Req request,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        Objects.requireNonNull(method, "method");
        final ExpandableDirectByteBuffer buffer = REQUEST_BUFFERS.get();
        final int length = method.requestCodec().encode(request, buffer, 0);
        if (length < 0 || length > buffer.capacity())
        {
            throw new IllegalStateException("the request codec of " + method + " returned " + length +
                " bytes written, outside its buffer of " + buffer.capacity());
        }
        return decoded(raw.call(method.handler(), buffer, 0, length, timeout, metadata), method);
    }

    private static <Resp> CompletableFuture<Resp> decoded(final CompletableFuture<byte[]> raw, final Method<?, Resp> method)
    {
        final CompletableFuture<Resp> typed = new CompletableFuture<>()
        {
            public boolean cancel(final boolean mayInterruptIfRunning)
            {
                raw.cancel(mayInterruptIfRunning);
                return super.cancel(mayInterruptIfRunning);
            }

            // Wait through the raw call, so the waiting thread polls for the response (invoker mode) and
            // completes both futures itself; its outcome is then this one's, decoded.
            public Resp join()
            {
                if (!isDone())
                {
                    try
                    {
                        raw.join();
                    }
                    catch (final RuntimeException ex)
                    {
                        // reported below, as this future's outcome
                    }
                }
                return super.join();
            }

            public Resp get() throws InterruptedException, ExecutionException
            {
                if (!isDone())
                {
                    try
                    {
                        raw.get();
                    }
                    catch (final ExecutionException | RuntimeException ex)
                    {
                        // reported below, as this future's outcome
                    }
                }
                return super.get();
            }

            public Resp get(final long timeout, final TimeUnit unit)
                throws InterruptedException, ExecutionException, TimeoutException
            {
                if (!isDone())
                {
                    try
                    {
                        raw.get(timeout, unit);
                    }
                    catch (final ExecutionException | RuntimeException ex)
                    {
                        // reported below, as this future's outcome
                    }
                }
                return super.get(timeout, unit);
            }
        };
        raw.whenComplete((bytes, error) ->
        {
            if (error != null)
            {
                typed.completeExceptionally(error);
                return;
            }
            final Resp response;
            try
            {
                response = method.responseCodec().decode(new UnsafeBuffer(bytes), 0, bytes.length);
            }
            catch (final RuntimeException ex)
            {
                final PolybridgeException failure = new PolybridgeException(ErrorCode.UNKNOWN,
                    "the response of '" + method.handler() + "' (" + bytes.length + " bytes) could not be decoded: " +
                    ex.getMessage() + "; does the worker serve the same schema version as this client's codec?");
                failure.initCause(ex);
                typed.completeExceptionally(failure);
                return;
            }
            typed.complete(response);
        });
        return typed;
    }
}
