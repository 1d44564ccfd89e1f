package io.polybridge.client;

import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.Header;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.ResponseDecoder;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

/**
 * Polls the client's reply stream and hands each well-formed {@code Response} to the agent, decoded in
 * place (a flyweight over the log buffer: nothing allocated to read it). Frames that are not a whole
 * Response are dropped and counted. Agent thread only.
 */
final class ResponseAdapter
{
    /** Receives a response; the decoder is valid only during the call. */
    @FunctionalInterface
    interface Handler
    {
        void onResponse(ResponseDecoder response);
    }

    private static final int HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;

    private final Subscription subscription;
    private final Handler handler;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ResponseDecoder responseDecoder = new ResponseDecoder();
    private final FragmentAssembler assembler = new FragmentAssembler(this::onFragment);
    private volatile long malformedFrames;

    ResponseAdapter(final Subscription subscription, final Handler handler)
    {
        this.subscription = subscription;
        this.handler = handler;
    }

    int poll(final int fragmentLimit)
    {
        return subscription.poll(assembler, fragmentLimit);
    }

    long malformedFrames()
    {
        return malformedFrames;
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (!isWellFormed(buffer, offset, length))
        {
            malformedFrames = malformedFrames + 1;
            return;
        }
        handler.onResponse(responseDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder));
    }

    /**
     * Checks a response against the frame it arrived in before the generated decoder reads it: the
     * decoder trusts length fields, and the term buffer behind a frame is larger than the frame.
     */
    private boolean isWellFormed(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < HEADER_LENGTH)
        {
            return false;
        }
        headerDecoder.wrap(buffer, offset);
        final int blockLength = headerDecoder.blockLength();
        if (headerDecoder.schemaId() != ResponseDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != ResponseDecoder.TEMPLATE_ID ||
            headerDecoder.version() < 1 ||
            blockLength < ResponseDecoder.BLOCK_LENGTH)
        {
            return false;
        }
        final int end = offset + length;
        final int messageLengthAt = offset + HEADER_LENGTH + blockLength;
        if (messageLengthAt + 2 > end)
        {
            return false;
        }
        final int payloadLengthAt =
            messageLengthAt + 2 + (buffer.getShort(messageLengthAt, ByteOrder.LITTLE_ENDIAN) & 0xFFFF);
        if (payloadLengthAt + 4 > end)
        {
            return false;
        }
        final long payloadLength = buffer.getInt(payloadLengthAt, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        return payloadLengthAt + 4 + payloadLength == end;
    }
}
