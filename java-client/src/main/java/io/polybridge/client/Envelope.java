package io.polybridge.client;

import io.aeron.logbuffer.BufferClaim;
import io.polybridge.codecs.CancelEncoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.RequestEncoder;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Per calling thread: the request up to and including the payload length, and the encoders
 * for it. Large payloads go to Aeron as the second part of a vectored offer, small ones are
 * written into a claimed log buffer; either way the payload is copied only into the log. A payload
 * lent from the payload region is not in the message at all: the region fields say where it lies.
 */
final class Envelope
{
    /** A Cancel: header, block, and a replyChannel of at most {@link ReplyChannel#MAX_LENGTH} bytes. */
    static final int MAX_CANCEL_LENGTH = MessageHeaderEncoder.ENCODED_LENGTH + CancelEncoder.BLOCK_LENGTH +
        CancelEncoder.replyChannelHeaderLength() + ReplyChannel.MAX_LENGTH;

    final ExpandableDirectByteBuffer buffer = new ExpandableDirectByteBuffer(512);
    final UnsafeBuffer cancelBuffer = new UnsafeBuffer(new byte[MAX_CANCEL_LENGTH]);
    final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    final RequestEncoder encoder = new RequestEncoder();
    final CancelEncoder cancelEncoder = new CancelEncoder();
    final BufferClaim claim = new BufferClaim();
    final IdleStrategy idle = new BackoffIdleStrategy();
    final UnsafeBuffer bytes = new UnsafeBuffer(0, 0); // wraps byte[] payloads without allocating
    private String lastHandler;
    private byte[] lastHandlerUtf8;

    /**
     * Bytes of the request before its payload: header, block, metadata, reply channel, handler name,
     * payload length.
     */
    int length(final String handler, final int metadataLength, final byte[] replyChannel)
    {
        return MessageHeaderEncoder.ENCODED_LENGTH + RequestEncoder.BLOCK_LENGTH +
            RequestEncoder.MetadataEncoder.sbeHeaderSize() + metadataLength +
            RequestEncoder.replyChannelHeaderLength() + replyChannel.length +
            RequestEncoder.handlerHeaderLength() + handlerUtf8(handler).length + RequestEncoder.payloadHeaderLength();
    }

    void encode(
        final MutableDirectBuffer target,
        final int offset,
        final long correlationId,
        final long timeoutNs,
        final int replyStreamId,
        final byte[] replyChannel,
        final Map<String, String> metadata,
        final String handler,
        final int payloadLength,
        final long regionId,
        final long regionOffset,
        final long regionLength)
    {
        encoder.wrapAndApplyHeader(target, offset, headerEncoder)
            .correlationId(correlationId)
            .timeoutNs(timeoutNs)
            .replyStreamId(replyStreamId)
            .regionId(regionId) // always written, zeros when inline: the buffer and the log are reused
            .regionOffset(regionOffset)
            .regionLength(regionLength);
        RequestMetadata.encode(encoder, metadata);
        encoder.putReplyChannel(replyChannel, 0, replyChannel.length); // empty: the worker's own channel (IPC)
        encoder.putHandler(handlerUtf8(handler), 0, lastHandlerUtf8.length);
        target.putInt(encoder.limit(), payloadLength, ByteOrder.LITTLE_ENDIAN); // varDataEncoding.length
    }

    /** Callers reuse a handler name from call to call: keep its UTF-8 rather than encode it each time. */
    private byte[] handlerUtf8(final String handler)
    {
        if (!handler.equals(lastHandler))
        {
            lastHandlerUtf8 = handler.getBytes(StandardCharsets.UTF_8);
            lastHandler = handler;
        }
        return lastHandlerUtf8;
    }

    int encodeCancel(final long correlationId, final int replyStreamId, final byte[] replyChannel)
    {
        cancelEncoder.wrapAndApplyHeader(cancelBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .replyStreamId(replyStreamId)
            .putReplyChannel(replyChannel, 0, replyChannel.length); // the call's: the worker finds it by both
        return MessageHeaderEncoder.ENCODED_LENGTH + cancelEncoder.encodedLength();
    }
}
