package io.polybridge.client;

import io.aeron.Publication;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.RequestEncoder;
import org.agrona.DirectBuffer;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Picks the worker for each call of a {@link Bridge}: among announced workers that are live, speak
 * this client's schema and serve the handler, the one with the fewest calls in flight (ties rotate),
 * preferring those whose request stream is connected (an incarnation that has announced itself but
 * is not yet subscribed is taken only when nothing else is). Explains, with the most useful error
 * code, why no worker can take a call (WORKER_UNAVAILABLE, not NOT_FOUND, while spawned workers are
 * (re)starting or the bridge reconnects). Any thread.
 */
final class Router
{
    /** Which request streams belong to incarnations the supervisor has retired, and their publications. */
    interface Streams
    {
        /**
         * @param requestStreamId a stream some worker announced itself on.
         * @return the publication to use for it, or null when its incarnation is retired.
         */
        Publication publication(PolybridgeClient client, int requestStreamId);
    }

    private final Streams streams;
    private final Supplier<String> starting;
    private final AtomicInteger rotation = new AtomicInteger();

    /**
     * @param streams  the supervisor's request streams.
     * @param starting why workers may serve more soon, e.g. "workers go-0, rust-0 are (re)starting", or
     *                 null when no spawned worker is (re)starting and no reconnect is due:
     *                 a handler nobody serves then is most likely served once they announce themselves.
     */
    Router(final Streams streams, final Supplier<String> starting)
    {
        this.streams = streams;
        this.starting = starting;
    }

    /**
     * Route and send a call; the link's in-flight count covers it until it completes, whatever happens.
     *
     * @return the call's future, failed locally when no worker can take it.
     */
    CompletableFuture<byte[]> call(
        final PolybridgeClient client,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        return call(client, handler, (publication, link) ->
            client.call(publication, link, handler, payload, offset, length, timeout, metadata, inPlace), null);
    }

    /** Sends a call to the worker the router picked. */
    @FunctionalInterface
    interface Send
    {
        CompletableFuture<byte[]> send(Publication publication, WorkerLink link);
    }

    /**
     * Route and send a call; the link's in-flight count covers it until it completes, whatever happens.
     *
     * @param loan the call's loan, given back when no worker can take the call; or null.
     * @return the call's future, failed locally when no worker can take it.
     */
    CompletableFuture<byte[]> call(
        final PolybridgeClient client, final String handler, final Send send, final PayloadLoan loan)
    {
        final Collection<WorkerLink> links = client.links();
        final WorkerLink link = route(client, links, handler);
        if (link == null)
        {
            closeQuietly(loan);
            return explain(links, handler, starting.get());
        }
        final Publication publication = streams.publication(client, link.requestStreamId);
        if (publication == null)
        {
            closeQuietly(loan);
            return failed(ErrorCode.WORKER_UNAVAILABLE, "worker " + link + " was replaced; try again");
        }
        link.routedInFlight.incrementAndGet();
        final CompletableFuture<byte[]> call;
        try
        {
            call = send.send(publication, link);
        }
        catch (final RuntimeException | Error ex)
        {
            link.routedInFlight.decrementAndGet(); // a bad argument: the call never existed
            throw ex;
        }
        call.whenComplete((bytes, error) -> link.routedInFlight.decrementAndGet());
        return call;
    }

    static void closeQuietly(final PayloadLoan loan)
    {
        if (loan != null)
        {
            loan.close(); // unsent: back to the region
        }
    }

    /** The least-loaded live, compatible worker serving the handler, connected ones first; or null. */
    WorkerLink route(final PolybridgeClient client, final Collection<WorkerLink> links, final String handler)
    {
        final WorkerLink[] candidates = links.toArray(new WorkerLink[0]);
        final int size = candidates.length;
        final int start = size == 0 ? 0 : Math.floorMod(rotation.getAndIncrement(), size);
        WorkerLink best = null;
        boolean bestConnected = false;
        for (int i = 0; i < size; i++)
        {
            final WorkerLink link = candidates[(start + i) % size];
            final WorkerInfo info = link.info;
            if (!link.live || info == null || !compatible(info) || !info.handlers().contains(handler))
            {
                continue;
            }
            final Publication publication = streams.publication(client, link.requestStreamId);
            if (publication == null)
            {
                continue;
            }
            final boolean connected = publication.isConnected();
            if (best == null || (connected && !bestConnected) ||
                (connected == bestConnected && link.routedInFlight.get() < best.routedInFlight.get()))
            {
                best = link;
                bestConnected = connected;
            }
        }
        return best;
    }

    /** Why no worker can take a call to this handler, as the most useful error code. */
    private static CompletableFuture<byte[]> explain(
        final Collection<WorkerLink> links, final String handler, final String starting)
    {
        WorkerInfo mismatched = null;
        WorkerLink dead = null;
        final TreeSet<String> served = new TreeSet<>();
        for (final WorkerLink link : links)
        {
            final WorkerInfo info = link.info;
            if (info == null)
            {
                continue;
            }
            if (link.live)
            {
                served.addAll(info.handlers());
            }
            if (info.handlers().contains(handler))
            {
                if (!compatible(info))
                {
                    mismatched = info;
                }
                else if (!link.live)
                {
                    dead = link;
                }
            }
        }
        if (mismatched != null)
        {
            return failed(ErrorCode.VERSION_MISMATCH, "worker '" + mismatched.workerId() + "' serves '" + handler +
                "' but speaks schema " + mismatched.schemaId() + " version " + mismatched.schemaVersion() +
                "; this client speaks schema " + RequestEncoder.SCHEMA_ID + " version " + RequestEncoder.SCHEMA_VERSION);
        }
        if (dead != null)
        {
            return failed(ErrorCode.WORKER_UNAVAILABLE, "every worker serving '" + handler + "' is dead; " + dead +
                "; spawned workers are restarted (Bridge.workerStates() says when), try again");
        }
        if (starting != null)
        {
            // Right after a launch, restart or reconnect nobody has announced yet: not a wrong handler name.
            return failed(ErrorCode.WORKER_UNAVAILABLE, "no live worker serves '" + handler + "' yet: " + starting +
                "; try again; served now: " + served);
        }
        return failed(ErrorCode.NOT_FOUND, "no live worker serves '" + handler + "'; served: " + served);
    }

    static boolean compatible(final WorkerInfo info)
    {
        return info.schemaId() == RequestEncoder.SCHEMA_ID && info.schemaVersion() == RequestEncoder.SCHEMA_VERSION;
    }

    static <T> CompletableFuture<T> failed(final ErrorCode code, final String message)
    {
        return CompletableFuture.failedFuture(new PolybridgeException(code, message));
    }
}
