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
 * one vectored {@code offer}; either way the payload is copied only into the log. A payload of at
 * least {@code payloadLoanThreshold} bytes to an IPC worker is instead copied once into the client's
 * {@link RequestRegion} (or already lies there: a {@link PayloadLoan}) and the request only refers to it;
 * the loan is the agent's to give back once handed off. Back pressure waits
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
    private final RequestRegion region; // null: no payload region
    private final int loanThreshold; // Integer.MAX_VALUE: never lend automatically
    private final long maxMessageSize;
    /** The agent whose duty cycle a thread waiting on its call runs; null: callers only wait. */
    final ClientAgent invoker;
    private final AtomicLong nextCorrelationId = new AtomicLong();
    private final ThreadLocal<Envelope> envelopes = ThreadLocal.withInitial(Envelope::new);
    private volatile boolean closed;

    RequestProxy(
        final PolybridgeClient.Context ctx,
        final ClientAgent agent,
        final DriverWatch driverWatch,
        final Doorbells doorbells,
        final RequestRegion region)
    {
        this.region = region;
        this.maxMessageSize = ctx.maxMessageSize();
        this.loanThreshold = region == null || ctx.payloadLoanThreshold() == 0 ?
            Integer.MAX_VALUE : (int)Math.max(1, Math.min(ctx.payloadLoanThreshold(), Integer.MAX_VALUE));
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
        return call(publication, link, handler, payload, offset, length, timeout, metadata, false);
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        validateHandler(handler);
        Objects.requireNonNull(payload, "payload must not be null; use an empty buffer for no payload");
        if (offset < 0 || length < 0 || offset > payload.capacity() - length)
        {
            throw new IndexOutOfBoundsException(
                "payload range offset=" + offset + " length=" + length + " is outside a buffer of " + payload.capacity());
        }
        final long timeoutNs = PolybridgeClient.timeoutNs(timeout, "timeout");
        final int metadataLength = RequestMetadata.validate(metadata);
        return send(publication, link, handler, payload, offset, length, timeoutNs, metadataLength, metadata, null,
            inPlace);
    }

    /**
     * A call whose payload the caller wrote into a loan: sent by reference to an IPC worker, copied into
     * the log (and the loan given back at once) for one across hosts, which cannot map the region.
     */
    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final PayloadLoan loan,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        validateHandler(handler);
        Objects.requireNonNull(loan, "loan");
        if (region == null || loan.region() != region)
        {
            throw new IllegalArgumentException("the loan is not from this client's payload region");
        }
        if (length < 0 || length > loan.length())
        {
            throw new IndexOutOfBoundsException("length " + length + " is outside the loan of " + loan.length() + " bytes");
        }
        final long timeoutNs = PolybridgeClient.timeoutNs(timeout, "timeout");
        final int metadataLength = RequestMetadata.validate(metadata);
        loan.markSent(); // from here the call owns it
        if (!ReplyChannel.isIpc(publication.channel()) || length == 0)
        {
            try
            {
                return send(publication, link, handler, loan.buffer(), 0, length, timeoutNs, metadataLength, metadata,
                    null, inPlace);
            }
            finally
            {
                region.release(loan.offset(), loan.length()); // copied into the log, or never sent
            }
        }
        return send(publication, link, handler, loan.buffer(), 0, length, timeoutNs, metadataLength, metadata, loan,
            inPlace);
    }

    /** A loan for a payload of length bytes when it should be lent (IPC, above the threshold), else null. */
    PayloadLoan loanFor(final boolean ipc, final int length, final long timeoutNs)
    {
        if (length < loanThreshold || length > maxMessageSize || !ipc)
        {
            return null;
        }
        final int at = region.lend(length, System.nanoTime() + timeoutNs, waitWhenOverloaded);
        return at < 0 ? null : new PayloadLoan(region, at, length);
    }

    /** A loan the caller asked for. */
    PayloadLoan loan(final int length, final long waitNs)
    {
        if (region == null)
        {
            throw new IllegalStateException("this client has no payload region (payloadRegionSize 0)");
        }
        if (length < 1 || length > maxMessageSize)
        {
            throw new IllegalArgumentException("a loan is 1 to " + maxMessageSize + " bytes (maxMessageSize), not " +
                length);
        }
        final int at = region.lend(length, System.nanoTime() + waitNs, waitNs > 0);
        if (at < 0)
        {
            throw new PolybridgeException(ErrorCode.OVERLOADED, full(length));
        }
        return new PayloadLoan(region, at, length);
    }

    private String full(final int length)
    {
        return "no room for " + length + " bytes in the payload region: " + region.lentBytes() + " of " +
            region.dataLength() + " bytes are lent to calls in flight; wait for them, or raise " +
            "PolybridgeClient.Context.payloadRegionSize (" + PolybridgeClient.Context.PAYLOAD_REGION_SIZE_PROP_NAME + ")";
    }

    private static void validateHandler(final String handler)
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
    }

    /**
     * @param loan the caller's loan holding the payload (sent by reference), or null: the payload is
     *             lent here when at least the threshold and the worker is on IPC, else copied into the log.
     */
    private CompletableFuture<byte[]> send(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final long timeoutNs,
        final int metadataLength,
        final Map<String, String> metadata,
        final PayloadLoan loan,
        final boolean inPlace)
    {
        final long correlationId = nextCorrelationId.incrementAndGet();
        final long deadlineNs = System.nanoTime() + timeoutNs;
        final CallFuture future = new CallFuture(this, publication, link, correlationId, deadlineNs, inPlace);
        if (loan != null)
        {
            future.loanOffset = loan.offset();
            future.loanLength = loan.length();
        }
        final String driverLost = driverWatch.lostReason();
        if (driverLost != null)
        {
            return unlent(future, ErrorCode.WORKER_UNAVAILABLE, driverLost);
        }
        final byte[] replyTo = replyChannel.forRequestChannel(publication.channel());
        if (replyTo == null)
        {
            return unlent(future, ErrorCode.WORKER_UNAVAILABLE, "the worker takes requests on " + publication.channel() +
                " but cannot reply to this client: set PolybridgeClient.Context.replyChannel to " +
                ReplyChannel.UDP_PREFIX + "HOST:PORT, an address of this host that the worker's host can reach");
        }
        if (length > maxMessageSize)
        {
            return unlent(future, ErrorCode.TOO_LARGE, "payload of " + length + " bytes exceeds maxMessageSize " +
                maxMessageSize + "; send less, or raise PolybridgeClient.Context.maxMessageSize (" +
                PolybridgeClient.Context.MAX_MESSAGE_SIZE_PROP_NAME + ")");
        }
        final Envelope envelope = envelopes.get();
        final int envelopeLength = envelope.length(handler, metadataLength, replyTo);
        final boolean lend = loan != null || (length >= loanThreshold && ReplyChannel.isIpc(publication.channel()));
        final long messageLength = lend ? envelopeLength : (long)envelopeLength + length;
        if (messageLength > publication.maxMessageLength())
        {
            return unlent(future, ErrorCode.TOO_LARGE, "request of " + messageLength +
                " bytes exceeds the maximum message of " + publication.maxMessageLength() + " bytes on " +
                publication.channel() + " (term length / 8: 2 MiB at term-length=16m across hosts; payloads of " +
                "payloadLoanThreshold or more to IPC workers go by the payload region, up to maxMessageSize " +
                maxMessageSize + "); send less, or raise the term length (aeron.ipc.term.buffer.length on one host)");
        }

        final IdleStrategy idle = envelope.idle;
        if (lend && loan == null && !lendAndCopy(future, payload, offset, length, deadlineNs))
        {
            return future;
        }
        if (!acquireWindowSlot(future, deadlineNs, idle))
        {
            if (closed || driverWatch.lostReason() != null)
            {
                return unlent(future, ErrorCode.WORKER_UNAVAILABLE, unavailableReason());
            }
            return unlent(future, ErrorCode.OVERLOADED, window.maxInFlight() + " calls are already in flight" +
                (waitWhenOverloaded ? " until the deadline" : "") + "; raise maxInFlight or slow down");
        }
        if (!window.handOff(future))
        {
            window.release();
            return unlent(future, ErrorCode.OVERLOADED, "more than " + registrationQueueCapacity +
                " calls are waiting for the client agent to register them");
        }
        // From here the agent owns the window slot (and the loan): it frees them when the call leaves its hands.
        agent.wake(); // after taking the slot: see ClientAgent.prepareSleep
        if (closed)
        {
            return abandoned(future, ErrorCode.WORKER_UNAVAILABLE, "the client is closed");
        }

        final long regionId = lend ? region.regionId() : 0;
        final int inlineLength = lend ? 0 : length;
        final boolean fitsOneFragment = messageLength <= publication.maxPayloadLength();
        if (!fitsOneFragment)
        {
            envelope.encode(envelope.buffer, 0, correlationId, timeoutNs, replyStreamId, replyTo, metadata, handler,
                inlineLength, regionId, lend ? future.loanOffset : 0, lend ? length : 0);
        }
        idle.reset();
        while (true)
        {
            final long result = fitsOneFragment ?
                claimAndWrite(publication, envelope, envelopeLength, correlationId, timeoutNs, replyTo, metadata, handler,
                    payload, offset, inlineLength, regionId, future.loanOffset, length) :
                publication.offer(envelope.buffer, 0, envelopeLength, payload, offset, inlineLength);
            if (result > 0)
            {
                doorbells.offered(publication);
                return future;
            }
            if (future.isDone())
            {
                if (lend)
                {
                    window.handOff(future); // never published: the agent gives its loan back
                }
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

    /** Lend room for the payload and copy it there: the one copy a lent payload costs. */
    private boolean lendAndCopy(
        final CallFuture future, final DirectBuffer payload, final int offset, final int length, final long deadlineNs)
    {
        final int at;
        try
        {
            at = region.lend(length, deadlineNs, waitWhenOverloaded);
        }
        catch (final PolybridgeException ex)
        {
            future.completeExceptionally(ex);
            return false;
        }
        if (at < 0)
        {
            failed(future, ErrorCode.OVERLOADED, full(length) +
                (waitWhenOverloaded ? " (waited until the deadline)" : ""));
            return false;
        }
        region.data().putBytes(at, payload, offset, length);
        future.loanOffset = at;
        future.loanLength = length;
        return true;
    }

    /** Fail a call the agent never saw, giving its loan back: no worker can have read it. */
    private CompletableFuture<byte[]> unlent(final CallFuture future, final ErrorCode code, final String message)
    {
        if (future.loanOffset >= 0)
        {
            region.release(future.loanOffset, future.loanLength);
            future.loanOffset = -1;
        }
        return failed(future, code, message);
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
        final int length,
        final long regionId,
        final long regionOffset,
        final long regionLength)
    {
        final BufferClaim claim = envelope.claim;
        final long result = publication.tryClaim(envelopeLength + length, claim);
        if (result > 0)
        {
            final MutableDirectBuffer log = claim.buffer();
            final int at = claim.offset();
            if (regionId == 0)
            {
                envelope.encode(log, at, correlationId, timeoutNs, replyStreamId, replyTo, metadata, handler, length,
                    0, 0, 0);
                log.putBytes(at + envelopeLength, payload, offset, length);
            }
            else
            {
                envelope.encode(log, at, correlationId, timeoutNs, replyStreamId, replyTo, metadata, handler, 0,
                    regionId, regionOffset, regionLength);
            }
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
        return call(publication, link, handler, payload, timeout, metadata, false);
    }

    CompletableFuture<byte[]> call(
        final Publication publication,
        final WorkerLink link,
        final String handler,
        final byte[] payload,
        final Duration timeout,
        final Map<String, String> metadata,
        final boolean inPlace)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        final UnsafeBuffer wrapper = envelopes.get().bytes;
        wrapper.wrap(payload);
        try
        {
            return call(publication, link, handler, wrapper, 0, payload.length, timeout, metadata, inPlace);
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
