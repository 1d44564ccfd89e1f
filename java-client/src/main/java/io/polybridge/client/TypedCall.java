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
 * A typed call over a raw one: encodes the request with the {@link Method}'s codec, straight into a
 * {@link PayloadLoan} when the codec knows the encoded length ({@link MessageCodec#encodedLength}) and it
 * is large enough to lend, else into a per-thread buffer (the raw call copies it into Aeron's log, or
 * into a loan, before returning); and decodes the response into the future the caller gets, in place
 * when it lies in the worker's payload region (given back right after), whose cancel cancels the call.
 * Waiting on it waits through the raw call, so a waiting thread polls for its response as for a raw
 * call ({@link CallFuture}). Also makes the futures of in-place raw calls ({@link PayloadView}).
 */
final class TypedCall
{
    /** Raw calls: the Bridge's (routed) or a stub's (one worker). */
    interface RawCall
    {
        CompletableFuture<byte[]> call(
            String handler, DirectBuffer payload, int offset, int length, Duration timeout, Map<String, String> metadata,
            boolean inPlace);

        CompletableFuture<byte[]> call(
            String handler, PayloadLoan loan, int length, Duration timeout, Map<String, String> metadata,
            boolean inPlace);

        /** @return a loan for a request of length bytes when it should be lent, else null. */
        PayloadLoan loanFor(int length, Duration timeout);
    }

    /** Turns a completed raw call into the caller's value. */
    @FunctionalInterface
    private interface Outcome<T>
    {
        /**
         * @param bytes the response, when inline (empty when view is set).
         * @param view  the response lying in the worker's region (close it after use), or null.
         */
        T apply(byte[] bytes, PayloadView view);
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
        final MessageCodec<Req> codec = method.requestCodec();
        final int known = codec.encodedLength(request);
        PayloadLoan loan = null;
        if (known > 0)
        {
            try
            {
                loan = raw.loanFor(known, timeout);
            }
            catch (final PolybridgeException ex)
            {
                loan = null; // no region file (no space): encode inline, the raw call says if that is too large
            }
        }
        if (loan != null)
        {
            final int length;
            try
            {
                length = codec.encode(request, loan.buffer(), 0);
            }
            catch (final RuntimeException ex)
            {
                loan.close();
                throw ex;
            }
            if (length < 0 || length > loan.length())
            {
                loan.close();
                throw new IllegalStateException("the request codec of " + method + " returned " + length +
                    " bytes written, but its encodedLength said " + known);
            }
            return decoded(raw.call(method.handler(), loan, length, timeout, metadata, true), method);
        }
        final ExpandableDirectByteBuffer buffer = REQUEST_BUFFERS.get();
        final int length = codec.encode(request, buffer, 0);
        if (length < 0 || length > buffer.capacity())
        {
            throw new IllegalStateException("the request codec of " + method + " returned " + length +
                " bytes written, outside its buffer of " + buffer.capacity());
        }
        return decoded(raw.call(method.handler(), buffer, 0, length, timeout, metadata, true), method);
    }

    /** The future of an in-place raw call: the response as a {@link PayloadView}. */
    static CompletableFuture<PayloadView> view(final CompletableFuture<byte[]> raw)
    {
        return derived(raw, (bytes, view) -> view != null ? view : new PayloadView(bytes));
    }

    private static <Resp> CompletableFuture<Resp> decoded(final CompletableFuture<byte[]> raw, final Method<?, Resp> method)
    {
        return derived(raw, (bytes, view) ->
        {
            final DirectBuffer buffer = view != null ? view.buffer() : new UnsafeBuffer(bytes);
            final int length = view != null ? view.length() : bytes.length;
            try
            {
                return method.responseCodec().decode(buffer, 0, length);
            }
            catch (final RuntimeException ex)
            {
                final PolybridgeException failure = new PolybridgeException(ErrorCode.UNKNOWN,
                    "the response of '" + method.handler() + "' (" + length + " bytes) could not be decoded: " +
                    ex.getMessage() + "; does the worker serve the same schema version as this client's codec?");
                failure.initCause(ex);
                throw failure;
            }
            finally
            {
                if (view != null)
                {
                    view.close(); // decoded: give it back to the worker
                }
            }
        });
    }

    private static <Resp> CompletableFuture<Resp> derived(final CompletableFuture<byte[]> raw, final Outcome<Resp> outcome)
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
            final PayloadView view = raw instanceof CallFuture call ? call.takeView() : null;
            if (error != null)
            {
                typed.completeExceptionally(error);
                return;
            }
            final Resp response;
            try
            {
                response = outcome.apply(bytes, view);
            }
            catch (final RuntimeException ex)
            {
                if (view != null)
                {
                    view.close();
                }
                typed.completeExceptionally(ex);
                return;
            }
            if (!typed.complete(response) && response instanceof PayloadView unwanted)
            {
                unwanted.close(); // cancelled meanwhile: nobody will read it
            }
        });
        return typed;
    }
}
