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
}
