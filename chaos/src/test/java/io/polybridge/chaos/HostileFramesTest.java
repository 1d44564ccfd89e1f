package io.polybridge.chaos;

import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.RequestDecoder;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HostileFramesTest
{
    @Test
    void everyKindBuildsAFrameThatFitsOneAeronMessage()
    {
        final HostileFrames frames = new HostileFrames("/nonexistent", 42, 1);
        for (final HostileFrames.Kind kind : HostileFrames.Kind.values())
        {
            for (int i = 0; i < 200; i++)
            {
                final int length = frames.build(kind);
                assertTrue(length >= 0 && length <= 128 * 1024, kind + " built " + length + " bytes");
                if (kind != HostileFrames.Kind.EMPTY_FRAME)
                {
                    assertTrue(length > 0, kind + " built an empty frame");
                }
            }
        }
    }

    @Test
    void requestsThatAskForARealReplyNeverNameTheHostsReplyStreams()
    {
        final HostileFrames frames = new HostileFrames("/nonexistent", 7, 1);
        final MessageHeaderDecoder header = new MessageHeaderDecoder();
        final RequestDecoder request = new RequestDecoder();
        for (final HostileFrames.Kind kind : new HostileFrames.Kind[]{
            HostileFrames.Kind.REPLY_STREAM_UNSUBSCRIBED, HostileFrames.Kind.REPLY_STREAM_RANDOM,
            HostileFrames.Kind.DUPLICATE_CORRELATION_ID, HostileFrames.Kind.UNKNOWN_HANDLER,
            HostileFrames.Kind.ENORMOUS_HANDLER_NAME, HostileFrames.Kind.NEGATIVE_TIMEOUT,
            HostileFrames.Kind.INVALID_REPLY_CHANNEL})
        {
            for (int i = 0; i < 500; i++)
            {
                frames.build(kind);
                header.wrap(frames.frame(), 0);
                assertEquals(RequestDecoder.TEMPLATE_ID, header.templateId());
                request.wrap(frames.frame(), MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
                final int replyStreamId = request.replyStreamId();
                assertTrue(replyStreamId >= HostileFrames.OWN_REPLY_STREAM && replyStreamId < 0x4000_0000,
                    kind + " named reply stream " + replyStreamId);
                assertEquals(0, request.metadata().count(), kind + " metadata");
                final String replyChannel = request.replyChannel();
                if (kind == HostileFrames.Kind.INVALID_REPLY_CHANNEL)
                {
                    // Workers refuse these; a valid endpoint would let the harness point replies at any host.
                    assertTrue(!replyChannel.isEmpty() && !replyChannel.matches("aeron:udp\\?endpoint=[^|:]+:[1-9][0-9]*"),
                        replyChannel);
                }
                else
                {
                    assertEquals("", replyChannel, kind + " replyChannel");
                }
                assertTrue(request.handlerLength() > 0, kind + " handler");
            }
        }
    }

    @Test
    void onlyTheRegionKindsReferToARegionAndTheirReferencesAreNeverSatisfiable()
    {
        final HostileFrames frames = new HostileFrames("/nonexistent", 11, 1);
        final MessageHeaderDecoder header = new MessageHeaderDecoder();
        final RequestDecoder request = new RequestDecoder();
        for (final HostileFrames.Kind kind : HostileFrames.Kind.values())
        {
            for (int i = 0; i < 200; i++)
            {
                final int length = frames.build(kind);
                header.wrap(frames.frame(), 0);
                if (length < MessageHeaderDecoder.ENCODED_LENGTH + RequestDecoder.BLOCK_LENGTH ||
                    header.templateId() != RequestDecoder.TEMPLATE_ID || header.schemaId() != RequestDecoder.SCHEMA_ID ||
                    header.version() != RequestDecoder.SCHEMA_VERSION || header.blockLength() != RequestDecoder.BLOCK_LENGTH)
                {
                    continue;
                }
                request.wrap(frames.frame(), MessageHeaderDecoder.ENCODED_LENGTH, header.blockLength(), header.version());
                final long regionId = request.regionId();
                switch (kind)
                {
                    case REGION_MISSING:
                        assertEquals(0x7FFF_FFFFL, regionId >>> 32, "an owner pid above pid_max");
                        break;
                    case REGION_OUT_OF_BOUNDS:
                        final long offset = request.regionOffset();
                        final long regionLength = request.regionLength();
                        assertTrue(offset < 0 || regionLength < 0 || offset + regionLength < 0 || offset >= 1L << 30,
                            "offset " + offset + " length " + regionLength + " could lie inside a region");
                        break;
                    case REGION_AND_INLINE_PAYLOAD:
                        request.metadata().count();
                        request.skipReplyChannel();
                        request.skipHandler();
                        assertTrue(regionId != 0 && request.payloadLength() > 0);
                        break;
                    case RANDOM_BYTES:
                        break;
                    default:
                        assertEquals(0, regionId, kind + " carries a region reference left over from another frame");
                }
            }
        }
    }
}
