package io.polybridge.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * Filling loans from elsewhere without a copy in between: a {@code java.net.http} body handler that
 * writes a response body straight into a {@link PayloadLoan}, ready to be called with.
 * <pre>{@code
 * HttpResponse<PayloadLoan> page = http.send(request, PayloadLoans.bodyHandler(client, 8 << 20));
 * try (PayloadLoan loan = page.body())
 * {
 *     Signals signals = stub.call("html.signals", loan, loan.byteBuffer().position()).join();
 * }
 * }</pre>
 */
public final class PayloadLoans
{
    private PayloadLoans()
    {
    }

    /**
     * A body handler writing the body into a loan of the client's payload region: as long as the
     * Content-Length when the server sends one, else maxLength. The loan's {@link PayloadLoan#byteBuffer()}
     * position is the body's length once complete. A body longer than the loan fails the response (and
     * gives the loan back).
     *
     * @param client    whose region lends.
     * @param maxLength the longest body accepted, in bytes.
     * @return the handler.
     */
    public static HttpResponse.BodyHandler<PayloadLoan> bodyHandler(final PolybridgeClient client, final int maxLength)
    {
        Objects.requireNonNull(client, "client");
        if (maxLength < 1)
        {
            throw new IllegalArgumentException("maxLength must be at least 1, was " + maxLength);
        }
        return (info) ->
        {
            final long declared = info.headers().firstValueAsLong("content-length").orElse(-1);
            if (declared > maxLength)
            {
                return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.discarding(), (ignored) ->
                {
                    throw new UncheckedIOException(new IOException("the body of " + declared +
                        " bytes (Content-Length) is longer than the " + maxLength + " bytes accepted"));
                });
            }
            return new LoanSubscriber(client, declared > 0 ? (int)declared : maxLength);
        };
    }

    /** Writes each body buffer into the loan as it arrives: the body's one copy. */
    private static final class LoanSubscriber implements HttpResponse.BodySubscriber<PayloadLoan>
    {
        private final CompletableFuture<PayloadLoan> body = new CompletableFuture<>();
        private final PolybridgeClient client;
        private final int length;
        private PayloadLoan loan;
        private Flow.Subscription subscription;

        LoanSubscriber(final PolybridgeClient client, final int length)
        {
            this.client = client;
            this.length = length;
        }

        public CompletionStage<PayloadLoan> getBody()
        {
            return body;
        }

        public void onSubscribe(final Flow.Subscription subscription)
        {
            this.subscription = subscription;
            try
            {
                loan = client.loan(length, client.context().defaultTimeout());
            }
            catch (final RuntimeException ex)
            {
                subscription.cancel();
                body.completeExceptionally(ex);
                return;
            }
            subscription.request(Long.MAX_VALUE);
        }

        public void onNext(final List<ByteBuffer> items)
        {
            if (body.isDone())
            {
                return;
            }
            final ByteBuffer target = loan.byteBuffer();
            for (final ByteBuffer item : items)
            {
                if (item.remaining() > target.remaining())
                {
                    loan.close();
                    subscription.cancel();
                    body.completeExceptionally(new IOException("the body is longer than the loan of " + length +
                        " bytes"));
                    return;
                }
                target.put(item);
            }
        }

        public void onError(final Throwable error)
        {
            if (loan != null)
            {
                loan.close();
            }
            body.completeExceptionally(error);
        }

        public void onComplete()
        {
            body.complete(loan);
        }
    }
}
