package io.polybridge.client;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Turns one message type into bytes and back, for a typed {@link Method}: usually a thin wrapper over
 * a service's generated SBE encoder and decoder (8-byte message header + body), but any encoding the
 * worker's handler understands will do.
 *
 * @param <T> the message type.
 */
public interface MessageCodec<T>
{
    /**
     * Writes value at offset (the buffer may be expandable) and returns the bytes written.
     *
     * @param value  the message; throw IllegalArgumentException when it cannot be encoded (a field too
     *               long, ...), saying which field and why: the call then fails before anything is sent.
     * @param buffer where to write; an expandable buffer grows when written past its capacity.
     * @param offset where the message starts.
     * @return the number of bytes written.
     */
    int encode(T value, MutableDirectBuffer buffer, int offset);

    /**
     * Reads one value from exactly length bytes; IllegalArgumentException when they are not one.
     *
     * @param buffer the bytes; valid only during this call (copy what must outlive it).
     * @param offset where the message starts.
     * @param length how many bytes the message has.
     * @return the message.
     */
    T decode(DirectBuffer buffer, int offset, int length);

    /**
     * The exact number of bytes {@link #encode} will write for value, when it is cheap to know (a large
     * body's length plus a fixed header): a request of at least the client's payloadLoanThreshold is then
     * encoded straight into a loan of its payload region, with no intermediate buffer or second copy.
     *
     * @param value the message.
     * @return the encoded length in bytes, or -1 (the default) when unknown: the request is encoded into a
     *     buffer first, and copied once into Aeron's log or a loan.
     */
    default int encodedLength(T value)
    {
        return -1;
    }
}
