package io.polybridge.client;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A response payload read where it lies: in the worker's payload region (a large response, lent to
 * this client until it is closed) or in a byte array (an inline one). Close it when done reading: that
 * gives a lent payload back to the worker (a {@code PayloadRelease}); until then the worker cannot reuse
 * that part of its region. {@link #close()} is idempotent and may be called from any thread.
 * <p>
 * The views are read-only (the worker's region is mapped read-only: writing through a cast would crash
 * the JVM) and stay valid memory after close, but their contents may then be another response's.
 */
public final class PayloadView implements AutoCloseable
{
    private final UnsafeBuffer buffer;
    private final ByteBuffer byteBuffer;
    private final int length;
    private final ReleaseSender releaser; // null: nothing lent
    private final AtomicBoolean closed = new AtomicBoolean();

    PayloadView(final byte[] bytes)
    {
        this.buffer = new UnsafeBuffer(bytes);
        this.byteBuffer = ByteBuffer.wrap(bytes).asReadOnlyBuffer();
        this.length = bytes.length;
        this.releaser = null;
    }

    PayloadView(final ByteBuffer readOnlyView, final ReleaseSender releaser)
    {
        this.buffer = new UnsafeBuffer(readOnlyView);
        this.byteBuffer = readOnlyView;
        this.length = readOnlyView.remaining();
        this.releaser = releaser;
    }

    /** @return the payload, index 0 to {@link #length()}. */
    public DirectBuffer buffer()
    {
        return buffer;
    }

    /** @return the payload, read-only, position 0 and limit {@link #length()} (a new view each call). */
    public ByteBuffer byteBuffer()
    {
        return byteBuffer.duplicate();
    }

    /** @return the payload's length in bytes. */
    public int length()
    {
        return length;
    }

    /** @return a copy of the payload. */
    public byte[] toByteArray()
    {
        final byte[] copy = new byte[length];
        buffer.getBytes(0, copy);
        return copy;
    }

    /** @return whether the payload lies in the worker's region (and close gives it back). */
    public boolean isLent()
    {
        return releaser != null;
    }

    /** Give a lent payload back to the worker; idempotent, any thread. */
    public void close()
    {
        if (closed.compareAndSet(false, true) && releaser != null)
        {
            releaser.send();
        }
    }

    public String toString()
    {
        return "PayloadView{" + length + " bytes" + (releaser != null ? ", lent" : "") + "}";
    }
}
