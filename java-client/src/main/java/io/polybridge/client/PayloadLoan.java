package io.polybridge.client;

import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A piece of the client's payload region, lent for one request: write the payload into it (read a file or
 * a socket straight into {@link #byteBuffer()}, encode into {@link #buffer()}), then pass it to a call
 * ({@code call(handler, loan, length, ...)} on {@link WorkerStub} or {@link Bridge}), which sends only a
 * reference: the worker reads the bytes where they lie, so they are copied once, by whoever filled the
 * loan. A loan is sent at most once; once sent it belongs to the call and is given back when the worker
 * has answered (or is known dead, or the client closes), never earlier, since the worker may still read
 * it. Close it to give it back unsent. Obtained from {@link PolybridgeClient#loan(int)}.
 * <p>
 * The views stay valid memory after the loan is given back (the mapping is only dropped when no view
 * references it), but their contents may then be another payload's: do not use them after sending.
 */
public final class PayloadLoan implements AutoCloseable
{
    private static final int OPEN = 0;
    private static final int SENT = 1;
    private static final int CLOSED = 2;

    private final RequestRegion region;
    private final int offset;
    private final int length;
    private final ByteBuffer byteBuffer;
    private final UnsafeBuffer buffer;
    private final AtomicInteger state = new AtomicInteger(OPEN);

    PayloadLoan(final RequestRegion region, final int offset, final int length)
    {
        this.region = region;
        this.offset = offset;
        this.length = length;
        this.byteBuffer = region.byteBuffer(offset, length);
        this.buffer = new UnsafeBuffer(byteBuffer); // references the mapping through the slice
    }

    /**
     * @return a writable view of the loan: position 0 and limit {@link #length()} at first; it is the same
     *     object each time, so its position after a {@code FileChannel.read} says how much was read.
     */
    public ByteBuffer byteBuffer()
    {
        return byteBuffer;
    }

    /** @return a writable view of the loan, index 0 to {@link #length()}. */
    public MutableDirectBuffer buffer()
    {
        return buffer;
    }

    /** @return the bytes lent. */
    public int length()
    {
        return length;
    }

    /** @return whether a call has taken it. */
    public boolean isSent()
    {
        return state.get() == SENT;
    }

    /** Give the loan back unless a call took it (then the call gives it back); idempotent. */
    public void close()
    {
        if (state.compareAndSet(OPEN, CLOSED))
        {
            region.release(offset, length);
        }
    }

    /** A call takes it: once. */
    void markSent()
    {
        if (!state.compareAndSet(OPEN, SENT))
        {
            throw notOpen();
        }
    }

    /** Before a call routes it (Bridge): fail as the send would. */
    void requireOpen()
    {
        if (state.get() != OPEN)
        {
            throw notOpen();
        }
    }

    private IllegalStateException notOpen()
    {
        return new IllegalStateException(state.get() == SENT ?
            "this loan was already sent: a loan carries one request (take another with PolybridgeClient.loan)" :
            "this loan was closed");
    }

    RequestRegion region()
    {
        return region;
    }

    int offset()
    {
        return offset;
    }

    public String toString()
    {
        return "PayloadLoan{" + length + " bytes at " + offset + " of region " +
            PayloadRegionFiles.fileName(region.regionId()) + "}";
    }
}
