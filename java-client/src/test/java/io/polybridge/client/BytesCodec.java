package io.polybridge.client;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/** The identity codec: enough to drive a typed call through a real worker's echo. */
final class BytesCodec implements MessageCodec<byte[]>
{
    public int encode(final byte[] value, final MutableDirectBuffer buffer, final int offset)
    {
        buffer.putBytes(offset, value);
        return value.length;
    }

    public byte[] decode(final DirectBuffer buffer, final int offset, final int length)
    {
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        return bytes;
    }
}
