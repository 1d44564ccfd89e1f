package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.WorkerAnnouncementEncoder;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client's side of polybridge across hosts, on loopback UDP within one embedded driver: a worker
 * (a {@link JavaEchoWorker} speaking the protocol) takes requests on a UDP endpoint, announces itself on a
 * dynamic multi-destination-cast control channel and replies to the Request's replyChannel. The Go and
 * Rust workers over UDP: {@link UdpWorkersLoopbackTest}; between two hosts (network namespaces): the
 * udp-test lane's namespace suite.
 */
class UdpLoopbackTest
{
    private EmbeddedMediaDriver driver;
    private JavaEchoWorker udpWorker;
    private JavaEchoWorker ipcWorker;
    private PolybridgeClient client;
    private String requestChannel;
    private String announceChannel;
    private String replyChannel;

    @BeforeEach
    void start()
    {
        driver = EmbeddedMediaDriver.launch();
        final int[] ports = freeUdpPorts(3);
        requestChannel = "aeron:udp?endpoint=127.0.0.1:" + ports[0];
        announceChannel = "aeron:udp?control=127.0.0.1:" + ports[1];
        replyChannel = "aeron:udp?endpoint=127.0.0.1:" + ports[2];
        udpWorker = new JavaEchoWorker(driver.aeronDirectoryName(), "udp-echo", 410,
            WorkerAnnouncementEncoder.SCHEMA_VERSION, requestChannel,
            announceChannel + "|control-mode=dynamic|term-length=64k");
    }

    @AfterEach
    void stop()
    {
        CloseHelper.closeAll(client, udpWorker, ipcWorker, driver);
    }

    @Test
    void echoRoundTripsOverUdpUpToTheCrossHostLimit()
    {
        client = connect(replyChannel, List.of(announceChannel));
        final WorkerStub worker = client.awaitWorker("udp-echo", Duration.ofSeconds(20));
        assertEquals(requestChannel, worker.info().requestChannel());
        final SplittableRandom random = new SplittableRandom(16);
        for (final int size : new int[]{ 0, 32, 1400, 64 * 1024, 1024 * 1024, 2 * 1024 * 1024 - 256 })
        {
            final byte[] payload = new byte[size];
            random.nextBytes(payload);
            assertArrayEquals(payload, worker.call("echo", payload, Duration.ofSeconds(30)).join(), size + " bytes");
        }
        assertEquals(0, client.unmatchedResponses());
    }

    @Test
    void aRequestAboveTheCrossHostLimitIsTooLargeBeforeAnythingIsSent()
    {
        client = connect(replyChannel, List.of(announceChannel));
        final WorkerStub worker = client.awaitWorker("udp-echo", Duration.ofSeconds(20));
        final CompletionException thrown = assertThrows(CompletionException.class,
            () -> worker.call("echo", new byte[2 * 1024 * 1024], Duration.ofSeconds(30)).join());
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, thrown.getCause());
        assertEquals(ErrorCode.TOO_LARGE, cause.errorCode());
        assertTrue(cause.getMessage().contains("2097152 bytes on " + requestChannel), cause.getMessage());
        assertEquals(0, client.inFlight());
    }

    @Test
    void workersOnThisHostStillReplyOverIpcWhileRemoteOnesUseTheReplyChannel()
    {
        ipcWorker = new JavaEchoWorker(driver.aeronDirectoryName());
        client = connect(replyChannel, List.of("aeron:ipc", announceChannel));
        final WorkerStub local = client.awaitWorker(JavaEchoWorker.WORKER_ID, Duration.ofSeconds(20));
        final WorkerStub remote = client.awaitWorker("udp-echo", Duration.ofSeconds(20));
        assertEquals("aeron:ipc", local.info().requestChannel());
        for (int i = 0; i < 100; i++)
        {
            final byte[] payload = { (byte)i };
            assertArrayEquals(payload, local.call("echo", payload).join());
            assertArrayEquals(payload, remote.call("echo", payload).join());
        }
    }

    @Test
    void aUdpWorkerWithoutAReplyChannelFailsAtOnceSayingWhatToSet()
    {
        client = connect(null, List.of(announceChannel));
        final WorkerStub worker = client.awaitWorker("udp-echo", Duration.ofSeconds(20));
        final CompletionException thrown = assertThrows(CompletionException.class,
            () -> worker.call("echo", new byte[8]).join());
        final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, thrown.getCause());
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode());
        assertTrue(cause.getMessage().contains("replyChannel"), cause.getMessage());
    }

    private PolybridgeClient connect(final String replyChannel, final List<String> announceChannels)
    {
        return PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(driver.aeronDirectoryName())
            .replyChannel(replyChannel)
            .announceChannels(announceChannels));
    }

    /** Ports free on 127.0.0.1 now (taken together, so they differ); the driver binds them right after. */
    static int[] freeUdpPorts(final int count)
    {
        final DatagramSocket[] sockets = new DatagramSocket[count];
        try
        {
            final int[] ports = new int[count];
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new DatagramSocket(0, InetAddress.getLoopbackAddress());
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        finally
        {
            for (final DatagramSocket socket : sockets)
            {
                if (socket != null)
                {
                    socket.close();
                }
            }
        }
    }
}
