package io.polybridge.client;

import io.aeron.Publication;
import io.aeron.logbuffer.BufferClaim;
import io.polybridge.codecs.ErrorCode;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The callers' side of the client (any thread): checks a call's arguments, takes a slot in the
 * {@link InFlightWindow}, hands the call to the agent and publishes the {@code Request}: encoded
 * straight into Aeron's log with {@code tryClaim} when it fits one fragment, else envelope + payload in
 * one vectored {@code offer}; either way the payload is copied only into the log. Back pressure waits
 * up to the call's deadline (or fails at once, as configured) and ends in OVERLOADED; a call that
 * completes meanwhile (deadline, cancel, worker or driver death) stops waiting at once. Also sends
 * {@code Cancel}s. Nothing allocated per call beyond the {@link CallFuture}.
 */
final class RequestProxy
{
    private static final byte[] EMPTY = new byte[0];

    private final InFlightWindow window;
    private final DriverWatch driverWatch;
    private final int replyStreamId;
    private final ReplyChannel replyChannel;
    private final boolean waitWhenOverloaded;
    private final int registrationQueueCapacity;
    private final ClientAgent agent;
    private final Doorbells doorbells;
    /** The agent whose duty cycle a thread waiting on its call runs; null: callers only wait. */
    final ClientAgent invoker;
    private final AtomicLong nextCorrelationId = new AtomicLong();
    private final ThreadLocal<Envelope> envelopes = ThreadLocal.withInitial(Envelope::new);
    private volatile boolean closed;

    RequestProxy(
        final PolybridgeClient.Context ctx,
        final ClientAgent agent,
        final DriverWatch driverWatch,
        final Doorbells doorbells)
    {
        this.agent = agent;
        this.invoker = ctx.callerInvokesAgent() ? agent : null;
        this.doorbells = doorbells;
        this.window = agent.window();
        this.replyStreamId = agent.replyStreamId();
        this.driverWatch = driverWatch;
        this.replyChannel = new ReplyChannel(ctx.channel(), ctx.replyChannel());
        this.waitWhenOverloaded = ctx.waitWhenOverloaded();
        this.registrationQueueCapacity = ctx.registrationQueueCapacity();
    }

    /** From now on every call fails WORKER_UNAVAILABLE; a caller waiting on back pressure stops. */
    void close()
    {
        closed = true;
    }

    boolean isClosed()
    {
        return closed;
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        if (handler == null || handler.isEmpty())
        {
            throw new IllegalArgumentException("handler must be a handler name such as \"echo\", not " +
                (handler == null ? "null" : "empty"));
        }
        if (handler.length() > PolybridgeClient.MAX_HANDLER_NAME_LENGTH)
        {
            throw new IllegalArgumentException("handler names are at most " + PolybridgeClient.MAX_HANDLER_NAME_LENGTH +
                " characters, this one has " + handler.length());
        }
        Objects.requireNonNull(payload, "payload must not be null; use an empty buffer for no payload");
        if (offset < 0 || length < 0 || offset > payload.capacity() - length)
        {
            throw new IndexOutOfBoundsException(
                "payload range offset=" + offset + " length=" + length + " is outside a buffer of " + payload.capacity());
        }
        final long timeoutNs = PolybridgeClient.timeoutNs(timeout, "timeout");
        final int metadataLength = RequestMetadata.validate(metadata);

        final long correlationId = nextCorrelationId.incrementAndGet();
        final long deadlineNs = System.nanoTime() + timeoutNs;
        final CallFuture future = new CallFuture(this, publication, link, correlationId, deadlineNs);
        final String driverLost = driverWatch.lostReason();
        if (driverLost != null)
        {
            return failed(future, ErrorCode.WORKER_UNAVAILABLE, driverLost);
        }
        final byte[] replyTo = replyChannel.forRequestChannel(publication.channel());
        if (replyTo == null)
        {
            return failed(future, ErrorCode.WORKER_UNAVAILABLE, "the worker takes requests on " + publication.channel() +
                " but cannot reply to this client: set PolybridgeClient.Context.replyChannel to " +
                ReplyChannel.UDP_PREFIX + "HOST:PORT, an address of this host that the worker's host can reach");
        }
        final Envelope envelope = envelopes.get();
        final int envelopeLength = envelope.length(handler, metadataLength, replyTo);
        final long messageLength = (long)envelopeLength + length;
        if (messageLength > publication.maxMessageLength())
        {
            return failed(future, ErrorCode.TOO_LARGE, "request of " + messageLength +
                " bytes exceeds the maximum message of " + publication.maxMessageLength() + " bytes on " +
                publication.channel() + " (term length / 8: 2 MiB at term-length=16m across hosts); send less, " +
                "or raise the term length (aeron.ipc.term.buffer.length on one host)");
        }

        final IdleStrategy idle = envelope.idle;
        if (!acquireWindowSlot(future, deadlineNs, idle))
        {
            if (closed || driverWatch.lostReason() != null)
            {
                return failed(future, ErrorCode.WORKER_UNAVAILABLE, unavailableReason());
            }
            return failed(future, ErrorCode.OVERLOADED, window.maxInFlight() + " calls are already in flight" +
                (waitWhenOverloaded ? " until the deadline" : "") + "; raise maxInFlight or slow down");
        }
        if (!window.handOff(future))
        {
            window.release();
            return failed(future, ErrorCode.OVERLOADED, "more than " + registrationQueueCapacity +
                " calls are waiting for the client agent to register them");
        }
        // From here the agent owns the window slot: it frees it when the call leaves its hands.
        agent.wake(); // after taking the slot: see ClientAgent.prepareSleep
        if (closed)
        {
            return abandoned(future, ErrorCode.WORKER_UNAVAILABLE, "the client is closed");
        }

        final boolean fitsOneFragment = messageLength <= publication.maxPayloadLength();
        if (!fitsOneFragment)
        {
            envelope.encode(envelope.buffer, 0, correlationId, timeoutNs, replyStreamId, replyTo, metadata, handler,
                length);
        }
        idle.reset();
        while (true)
        {
            final long result = fitsOneFragment ?
                claimAndWrite(publication, envelope, envelopeLength, correlationId, timeoutNs, replyTo, metadata, handler,
                    payload, offset, length) :
                publication.offer(envelope.buffer, 0, envelopeLength, payload, offset, length);
            if (result > 0)
            {
                doorbells.offered(publication);
                return future;
            }
            if (future.isDone())
            {
                return future; // its deadline passed, it was cancelled, or its worker or driver died meanwhile
            }
            if (closed || driverWatch.lostReason() != null)
            {
                return abandoned(future, ErrorCode.WORKER_UNAVAILABLE, unavailableReason());
            }
            if (result == Publication.NOT_CONNECTED || result == Publication.CLOSED ||
                result == Publication.MAX_POSITION_EXCEEDED)
            {
                return abandoned(future, ErrorCode.WORKER_UNAVAILABLE,
                    "request stream " + publication.streamId() + " is " + Publication.errorString(result));
            }
            if (!waitWhenOverloaded || System.nanoTime() - deadlineNs > 0)
            {
                return abandoned(future, ErrorCode.OVERLOADED, "request stream " + publication.streamId() +
                    " is back pressured" + (waitWhenOverloaded ? " until the deadline" : ""));
            }
            idle.idle();
        }
    }

    /**
     * Fail a call that was handed to the agent but never published, and hand it over once more so the
     * agent drops it and frees its window slot now rather than at its deadline (which may be a year
     * away). If the queue is full the deadline still frees it.
     */
    private CompletableFuture<byte[]> abandoned(final CallFuture future, final ErrorCode code, final String message)
    {
        failed(future, code, message);
        window.handOff(future);
        return future;
    }

    private String unavailableReason()
    {
        final String driverLost = driverWatch.lostReason();
        return driverLost != null ? driverLost : "the client is closed";
    }

    /** Zero copy for requests that fit one fragment: encode straight into the log buffer. */
    private long claimAndWrite(
        final Publication publication,
        final Envelope envelope,
        final int envelopeLength,
        final long correlationId,
        final long timeoutNs,
        final byte[] replyTo,
        final Map<String, String> metadata,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length)
    {
        final BufferClaim claim = envelope.claim;
        final long result = publication.tryClaim(envelopeLength + length, claim);
        if (result > 0)
        {
            final MutableDirectBuffer log = claim.buffer();
            final int at = claim.offset();
            envelope.encode(log, at, correlationId, timeoutNs, replyStreamId, replyTo, metadata, handler, length);
            log.putBytes(at + envelopeLength, payload, offset, length);
            claim.commit();
        }
        return result;
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final byte[] payload,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        final UnsafeBuffer wrapper = envelopes.get().bytes;
        wrapper.wrap(payload);
        try
        {
            return call(publication, link, handler, wrapper, 0, payload.length, timeout, metadata);
        }
        finally
        {
            wrapper.wrap(EMPTY); // do not keep the caller's array reachable
        }
    }

    private boolean acquireWindowSlot(final CallFuture future, final long deadlineNs, final IdleStrategy idle)
    {
        idle.reset();
        while (!window.tryAcquire())
        {
            if (!waitWhenOverloaded || System.nanoTime() - deadlineNs > 0 || closed || future.isDone() ||
                driverWatch.lostReason() != null)
            {
                return false;
            }
            idle.idle();
        }
        return true;
    }

    /** Best effort: a cancel lost to back pressure only costs the worker the work. */
    void sendCancel(final Publication publication, final long correlationId)
    {
        final byte[] replyTo = replyChannel.forRequestChannel(publication.channel());
        if (replyTo == null)
        {
            return; // the call was never sent
        }
        final Envelope envelope = envelopes.get();
        final int length = envelope.encodeCancel(correlationId, replyStreamId, replyTo);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            if (publication.offer(envelope.cancelBuffer, 0, length) > 0)
            {
                return;
            }
            Thread.onSpinWait();
        }
    }

    private static CompletableFuture<byte[]> failed(
        final CompletableFuture<byte[]> future, final ErrorCode code, final String message)
    {
        future.completeExceptionally(new PolybridgeException(code, message));
        return future;
    }
}
