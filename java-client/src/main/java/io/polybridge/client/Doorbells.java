package io.polybridge.client;

import io.aeron.Publication;
import org.agrona.CloseHelper;
import org.agrona.collections.Int2ObjectHashMap;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Rings the doorbells of workers that sleep when idle (docs/protocol.md "Doorbell"): a worker with a
 * request channel on IPC listens on the Unix-domain socket {@code <aeron dir>/polybridge-doorbell-<request
 * stream id>} and, after {@code --idle-sleep-after} (at least 20 ms) without requests, sleeps until a byte
 * arrives there. After a successful offer of a request to a stream, if this client's previous offer to it
 * was at least {@link #RING_AFTER_NS} ago, the offering thread writes one byte (non-blocking).
 * <p>
 * No lost wake-up without any shared flag: the worker sleeps only after 20 ms without a request, and
 * every request this client offered before reached it, so if it sleeps this client's last offer was at
 * least 20 ms ago, more than {@link #RING_AFTER_NS}: the next offer rings. The recorded time of the last
 * offer is only updated when it moved by {@link #RECORD_GRANULARITY_NS} (fewer writes to a shared line):
 * it is then at most that much older than the true one, which makes a ring more likely, never less.
 * <p>
 * Nothing is allocated per call: one volatile read (a map lookup without boxing); connecting allocates,
 * ringing does not. Any failure is not an error (no doorbell: that worker does not sleep); logged once
 * per stream at DEBUG.
 */
final class Doorbells implements AutoCloseable
{
    static final long RING_AFTER_NS = TimeUnit.MILLISECONDS.toNanos(10);
    static final long RECORD_GRANULARITY_NS = TimeUnit.MILLISECONDS.toNanos(1);
    static final long RECONNECT_AFTER_FAILURE_NS = TimeUnit.MILLISECONDS.toNanos(250);
    static final String FILE_PREFIX = "polybridge-doorbell-";
    private static final int MAX_SUN_PATH_BYTES = 107;
    private static final System.Logger LOG = System.getLogger("polybridge.client");

    private final String aeronDirectoryName;
    private final Object lock = new Object();
    private volatile Int2ObjectHashMap<Doorbell> byStreamId = new Int2ObjectHashMap<>(); // copy on write
    private volatile boolean closed;
    private final AtomicLong rings = new AtomicLong();

    Doorbells(final String aeronDirectoryName)
    {
        this.aeronDirectoryName = aeronDirectoryName;
    }

    /**
     * @param aeronDirectoryName the driver's directory.
     * @param requestStreamId    a worker's request stream.
     * @return where that worker's doorbell is.
     */
    static Path path(final String aeronDirectoryName, final int requestStreamId)
    {
        return Path.of(aeronDirectoryName, FILE_PREFIX + requestStreamId);
    }

    /** The supervisor saw the worker exit: a SIGKILLed worker cannot remove its doorbell itself. */
    static void remove(final String aeronDirectoryName, final int requestStreamId)
    {
        try
        {
            Files.deleteIfExists(path(aeronDirectoryName, requestStreamId));
        }
        catch (final IOException | RuntimeException ex)
        {
            LOG.log(System.Logger.Level.DEBUG, "could not remove the doorbell of request stream " + requestStreamId +
                ": " + ex);
        }
    }

    /** A request was offered to this publication just now, by any thread. */
    void offered(final Publication publication)
    {
        final long nowNs = System.nanoTime();
        Doorbell doorbell = byStreamId.get(publication.streamId());
        if (doorbell == null || doorbell.publication != publication)
        {
            doorbell = add(publication, nowNs);
        }
        final long lastNs = doorbell.lastOfferNs;
        final long sinceNs = nowNs - lastNs;
        if (sinceNs >= RECORD_GRANULARITY_NS)
        {
            doorbell.lastOfferNs = nowNs;
            if (sinceNs >= RING_AFTER_NS && doorbell.enabled)
            {
                doorbell.ring(nowNs);
            }
        }
    }

    /** A stream no worker reads again: close its connection. */
    void remove(final int requestStreamId)
    {
        synchronized (lock)
        {
            final Int2ObjectHashMap<Doorbell> copy = new Int2ObjectHashMap<>(byStreamId);
            final Doorbell doorbell = copy.remove(requestStreamId);
            byStreamId = copy;
            if (doorbell != null)
            {
                doorbell.close();
            }
        }
    }

    /** @return how many times a byte was written (tests). */
    long rings()
    {
        return rings.get();
    }

    public void close()
    {
        synchronized (lock)
        {
            closed = true;
            for (final Doorbell doorbell : byStreamId.values())
            {
                doorbell.close();
            }
        }
    }

    private Doorbell add(final Publication publication, final long nowNs)
    {
        synchronized (lock)
        {
            final Doorbell doorbell = new Doorbell(publication, nowNs - RING_AFTER_NS);
            final Int2ObjectHashMap<Doorbell> copy = new Int2ObjectHashMap<>(byStreamId);
            final Doorbell previous = copy.put(publication.streamId(), doorbell);
            byStreamId = copy;
            if (previous != null)
            {
                previous.close();
            }
            return doorbell;
        }
    }

    /** One worker's doorbell: its address, this client's connection to it, its last offer. */
    private final class Doorbell
    {
        final Publication publication;
        final boolean enabled;
        final AtomicBoolean ringing = new AtomicBoolean();
        final ByteBuffer ring = ByteBuffer.allocateDirect(1).put(0, (byte)1);
        volatile long lastOfferNs;
        private UnixDomainSocketAddress address;
        private SocketChannel channel;
        private boolean failed;
        private boolean logged;
        private boolean retired; // closed: never connect again
        private long failedAtNs;

        Doorbell(final Publication publication, final long lastOfferNs)
        {
            this.publication = publication;
            this.lastOfferNs = lastOfferNs;
            final String path = path(aeronDirectoryName, publication.streamId()).toString();
            // Workers bind one only on IPC and when the path fits sun_path.
            enabled = ReplyChannel.isIpc(publication.channel()) &&
                path.getBytes(StandardCharsets.UTF_8).length <= MAX_SUN_PATH_BYTES;
            if (enabled)
            {
                address = UnixDomainSocketAddress.of(path);
            }
        }

        /** One thread rings at a time; a thread finding another ringing has nothing to add. */
        void ring(final long nowNs)
        {
            if (!ringing.compareAndSet(false, true))
            {
                return;
            }
            try
            {
                if (closed || retired)
                {
                    return;
                }
                if (channel == null && !connect(nowNs))
                {
                    return;
                }
                if (!write())
                {
                    CloseHelper.quietClose(channel); // broken (the worker restarted): reconnect once
                    channel = null;
                    if (connect(nowNs))
                    {
                        write();
                    }
                }
            }
            finally
            {
                ringing.set(false);
            }
        }

        private boolean write()
        {
            try
            {
                ring.clear();
                channel.write(ring); // 0 bytes: the buffer is full, the worker has unread bytes: rung
                rings.incrementAndGet();
                return true;
            }
            catch (final IOException | RuntimeException ex)
            {
                return false;
            }
        }

        private boolean connect(final long nowNs)
        {
            if (failed && nowNs - failedAtNs < RECONNECT_AFTER_FAILURE_NS)
            {
                return false;
            }
            SocketChannel connecting = null;
            try
            {
                connecting = SocketChannel.open(StandardProtocolFamily.UNIX);
                connecting.configureBlocking(false); // never wait on a worker that does not accept
                if (connecting.connect(address))
                {
                    channel = connecting;
                    failed = false;
                    return true;
                }
                onFailure(nowNs, "connection pending");
            }
            catch (final IOException | RuntimeException ex)
            {
                onFailure(nowNs, ex.toString());
            }
            CloseHelper.quietClose(connecting);
            return false;
        }

        private void onFailure(final long nowNs, final String why)
        {
            failed = true;
            failedAtNs = nowNs;
            if (!logged)
            {
                logged = true;
                LOG.log(System.Logger.Level.DEBUG, "no doorbell at " + address + " (" + why + "): the worker on " +
                    "request stream " + publication.streamId() + " does not sleep, or is gone");
            }
        }

        void close()
        {
            while (!ringing.compareAndSet(false, true))
            {
                Thread.onSpinWait();
            }
            try
            {
                CloseHelper.quietClose(channel);
                channel = null;
                retired = true;
            }
            finally
            {
                ringing.set(false);
            }
        }
    }
}
