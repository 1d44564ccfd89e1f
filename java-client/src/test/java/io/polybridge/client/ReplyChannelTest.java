package io.polybridge.client;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a client accepts as its reply and announce channels, and which replyChannel its Requests and
 * Cancels carry: the checks workers make (schema/protocol.md) are made here first, at connect.
 */
class ReplyChannelTest
{
    @Test
    void defaultsKeepTodaysIpcBehaviour()
    {
        final PolybridgeClient.Context ctx = new PolybridgeClient.Context().conclude();
        assertEquals("aeron:ipc", ctx.replyChannel());
        assertEquals(List.of("aeron:ipc"), ctx.announceChannels());
        final ReplyChannel reply = new ReplyChannel(ctx.channel(), ctx.replyChannel());
        assertEquals(0, reply.forRequestChannel("aeron:ipc").length);
        assertEquals(0, reply.forRequestChannel("aeron:ipc?term-length=64k").length);
    }

    @Test
    void acceptsAUdpEndpointOfThisHost()
    {
        for (final String channel : List.of("aeron:udp?endpoint=10.0.0.1:41000", "aeron:udp?endpoint=client-a.example:1",
            "aeron:udp?endpoint=[fd00::1]:65535", "aeron:udp?endpoint=127.0.0.1:41000"))
        {
            final PolybridgeClient.Context ctx = new PolybridgeClient.Context().replyChannel(channel).conclude();
            assertEquals(channel, ctx.replyChannel());
        }
    }

    @Test
    void refusesWhatAWorkerWouldRefuseWithAMessageThatSaysWhy()
    {
        assertRefused("aeron:udp?endpoint=0.0.0.0:41000", "wildcard");
        assertRefused("aeron:udp?endpoint=[::]:41000", "wildcard");
        assertRefused("aeron:udp?endpoint=10.0.0.1:0", "PORT must be 1-65535");
        assertRefused("aeron:udp?endpoint=10.0.0.1:65536", "PORT must be 1-65535");
        assertRefused("aeron:udp?endpoint=10.0.0.1", "HOST and a PORT");
        assertRefused("aeron:udp?endpoint=:41000", "HOST and a PORT");
        assertRefused("aeron:udp?endpoint=10.0.0.1:41000|term-length=64k", "no other parameters");
        assertRefused("aeron:udp?control=10.0.0.1:41000", "aeron:udp?endpoint=HOST:PORT");
        assertRefused("aeron:ipc?term-length=64k", "IPC replies arrive on the client's channel");
        assertRefused("aeron:udp?endpoint=bad_host!:41000", "HOST must be");
        assertRefused("aeron:udp?endpoint=10.0.0.1:041000", "without leading zeros");
        assertRefused("aeron:udp?endpoint=999.0.0.1:41000", "HOST must be");
        assertRefused("aeron:udp?endpoint=10.0.0:41000", "HOST must be");
        assertRefused("aeron:udp?endpoint=[fe80::1%eth0]:41000", "without a zone");
        assertRefused("aeron:udp?endpoint=-client.example:41000", "HOST must be");
        assertRefused("aeron:udp?endpoint=client..example:41000", "HOST must be");
        assertRefused("aeron:udp?endpoint=" + "h".repeat(240) + ":41000", "longer than 256 bytes");
    }

    @Test
    void announceChannelsMustBeAeronUrisNamedOnce()
    {
        final IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().announceChannels(List.of()).conclude());
        assertTrue(empty.getMessage().contains("at least one"), empty.getMessage());
        final IllegalArgumentException notAeron = assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().announceChannels(List.of("udp://10.0.0.2:40102")).conclude());
        assertTrue(notAeron.getMessage().contains("Aeron URIs"), notAeron.getMessage());
        final IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().announceChannels(List.of("aeron:ipc", "aeron:ipc")).conclude());
        assertTrue(twice.getMessage().contains("twice"), twice.getMessage());
        final PolybridgeClient.Context ok = new PolybridgeClient.Context()
            .announceChannels(List.of("aeron:ipc", "aeron:udp?control=10.0.0.2:40102")).conclude();
        assertEquals(List.of("aeron:ipc", "aeron:udp?control=10.0.0.2:40102"), ok.announceChannels());
    }

    @Test
    void bridgeAddsTheChannelOfTheWorkersItSpawns()
    {
        final Bridge.Context bridge = new Bridge.Context().worker(new WorkerSpec("local", "/bin/true"));
        bridge.client().announceChannels(List.of("aeron:udp?control=10.0.0.2:40102"));
        bridge.conclude();
        assertEquals(List.of("aeron:udp?control=10.0.0.2:40102", "aeron:ipc"), bridge.client().announceChannels());
    }

    @Test
    void requestsToUdpWorkersNameTheReplyChannelAndIpcWorkersStillGetNone()
    {
        final ReplyChannel reply = new ReplyChannel("aeron:ipc", "aeron:udp?endpoint=10.0.0.1:41000");
        assertTrue(reply.hasUdpChannel());
        assertArrayEquals("aeron:udp?endpoint=10.0.0.1:41000".getBytes(StandardCharsets.US_ASCII),
            reply.forRequestChannel("aeron:udp?endpoint=10.0.0.2:40100"));
        assertEquals(0, reply.forRequestChannel("aeron:ipc").length);
    }

    @Test
    void aUdpWorkerCannotBeAnsweredWithoutAUdpReplyChannel()
    {
        assertNull(new ReplyChannel("aeron:ipc", "aeron:ipc").forRequestChannel("aeron:udp?endpoint=10.0.0.2:40100"));
    }

    @Test
    void aCancelHasRoomForTheLongestReplyChannel()
    {
        final Envelope envelope = new Envelope();
        final byte[] longest = ("aeron:udp?endpoint=" + "h".repeat(ReplyChannel.MAX_LENGTH - 25) + ":41000")
            .getBytes(StandardCharsets.US_ASCII);
        assertEquals(ReplyChannel.MAX_LENGTH, longest.length);
        final int length = envelope.encodeCancel(42, 1001, longest);
        assertEquals(Envelope.MAX_CANCEL_LENGTH, length);
        final io.polybridge.codecs.CancelDecoder decoder = new io.polybridge.codecs.CancelDecoder()
            .wrapAndApplyHeader(envelope.cancelBuffer, 0, new io.polybridge.codecs.MessageHeaderDecoder());
        assertEquals(42, decoder.correlationId());
        assertEquals(1001, decoder.replyStreamId());
        assertEquals(new String(longest, StandardCharsets.US_ASCII), decoder.replyChannel());
    }

    private static void assertRefused(final String replyChannel, final String why)
    {
        final IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().replyChannel(replyChannel).conclude(), replyChannel);
        assertTrue(thrown.getMessage().contains(why), thrown.getMessage());
        assertTrue(thrown.getMessage().startsWith("replyChannel must be aeron:udp?endpoint=HOST:PORT"),
            thrown.getMessage());
    }
}
