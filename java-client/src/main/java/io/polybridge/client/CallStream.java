package io.polybridge.client;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link Flow.Publisher} of the responses to a stream of requests, in request order. A request
 * is sent only when the subscriber has demand for its response, and at most
 * {@code maxConcurrency} are in flight, so a slow subscriber slows the calls instead of buffering
 * responses. The first failed call ends the stream with its {@link PolybridgeException}.
 * <p>
 * Each subscriber gets its own iteration of the requests. Signals to a subscriber are serialised
 * by a work-in-progress counter (no lock): whichever thread finds it zero drains, others leave a
 * note for it.
 */
final class CallStream implements Flow.Publisher<byte[]>
{
    private final WorkerStub worker;
    private final String handler;
    private final Iterable<byte[]> requests;
    private final Duration timeout;
    private final int maxConcurrency;

    CallStream(
        final WorkerStub worker,
        final String handler,
        final Iterable<byte[]> requests,
        final Duration timeout,
        final int maxConcurrency)
    {
        this.worker = worker;
        this.handler = handler;
        this.requests = requests;
        this.timeout = timeout;
        this.maxConcurrency = maxConcurrency;
    }

    public void subscribe(final Flow.Subscriber<? super byte[]> subscriber)
    {
        Objects.requireNonNull(subscriber, "subscriber");
        final Iterator<byte[]> source;
        try
        {
            source = Objects.requireNonNull(requests.iterator(), "requests.iterator() returned null");
        }
        catch (final RuntimeException ex)
        {
            subscriber.onSubscribe(NoSubscription.INSTANCE);
            subscriber.onError(ex);
            return;
        }
        final StreamSubscription subscription = new StreamSubscription(subscriber, source);
        subscriber.onSubscribe(subscription); // signals wait: the subscription starts out held
        subscription.release();
    }

    private enum NoSubscription implements Flow.Subscription
    {
        INSTANCE;

        public void request(final long n)
        {
        }

        public void cancel()
        {
        }
    }

    private final class StreamSubscription implements Flow.Subscription
    {
        private final Flow.Subscriber<? super byte[]> subscriber;
        private final Iterator<byte[]> source;
        private final AtomicLong demand = new AtomicLong();
        private final AtomicInteger workInProgress = new AtomicInteger();
        private final AtomicReference<Throwable> badRequest = new AtomicReference<>();
        private volatile boolean cancelled;

        // Touched only by the thread that holds workInProgress.
        private final ArrayDeque<CompletableFuture<byte[]>> inOrder = new ArrayDeque<>();
        private boolean done;

        StreamSubscription(final Flow.Subscriber<? super byte[]> subscriber, final Iterator<byte[]> source)
        {
            this.subscriber = subscriber;
            this.source = source;
            workInProgress.set(1); // held until onSubscribe has returned, so no signal overtakes it
        }

        public void request(final long n)
        {
            if (n <= 0)
            {
                badRequest.compareAndSet(null, new IllegalArgumentException(
                    "request(n) needs n > 0 (Reactive Streams rule 3.9), was " + n));
            }
            else
            {
                demand.getAndUpdate((current) -> current + n < 0 ? Long.MAX_VALUE : current + n);
            }
            drain();
        }

        public void cancel()
        {
            cancelled = true;
            drain();
        }

        void drain()
        {
            if (workInProgress.getAndIncrement() == 0)
            {
                release();
            }
        }

        /** Drain until no other thread has asked for more; the caller holds workInProgress. */
        void release()
        {
            int missed = 1;
            do
            {
                drainOnce();
                missed = workInProgress.addAndGet(-missed);
            }
            while (missed != 0);
        }

        private void drainOnce()
        {
            if (done)
            {
                return;
            }
            if (cancelled)
            {
                stop();
                return;
            }
            final Throwable invalid = badRequest.get();
            if (invalid != null)
            {
                stop();
                subscriber.onError(invalid);
                return;
            }

            while (true)
            {
                final CompletableFuture<byte[]> head = inOrder.peek();
                if (head != null && head.isDone())
                {
                    if (head.isCompletedExceptionally())
                    {
                        inOrder.poll();
                        stop();
                        subscriber.onError(cause(head));
                        return;
                    }
                    if (demand.get() == 0)
                    {
                        break;
                    }
                    inOrder.poll();
                    demand.decrementAndGet();
                    subscriber.onNext(head.join());
                    if (cancelled)
                    {
                        stop();
                        return;
                    }
                    continue;
                }
                if (inOrder.size() >= maxConcurrency || inOrder.size() >= demand.get() || !hasNext())
                {
                    break;
                }
                final byte[] request = next();
                if (request == null)
                {
                    return;
                }
                final CompletableFuture<byte[]> call = worker.call(handler, request, timeout);
                inOrder.add(call);
                call.whenComplete((response, error) -> drain());
            }

            if (inOrder.isEmpty() && !hasNext() && !done)
            {
                done = true;
                subscriber.onComplete();
            }
        }

        private boolean hasNext()
        {
            if (done)
            {
                return false;
            }
            try
            {
                return source.hasNext();
            }
            catch (final RuntimeException ex)
            {
                fail(ex);
                return false;
            }
        }

        private byte[] next()
        {
            try
            {
                return Objects.requireNonNull(source.next(), "the requests must not contain null");
            }
            catch (final RuntimeException ex)
            {
                fail(ex);
                return null;
            }
        }

        private void fail(final Throwable error)
        {
            stop();
            subscriber.onError(error);
        }

        private void stop()
        {
            done = true;
            for (final CompletableFuture<byte[]> call : inOrder)
            {
                call.cancel(true);
            }
            inOrder.clear();
        }

        private Throwable cause(final CompletableFuture<byte[]> failed)
        {
            try
            {
                failed.join();
                return new IllegalStateException("call did not fail");
            }
            catch (final RuntimeException ex)
            {
                return ex.getCause() != null ? ex.getCause() : ex;
            }
        }
    }
}
