package io.polybridge.perf.baseline;

import com.google.protobuf.UnsafeByteOperations;
import io.polybridge.perf.baseline.proto.Request;
import io.polybridge.perf.baseline.proto.Response;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client side of the design polybridge replaces: one Unix domain socket (Java 17), requests
 * written as varint-length-delimited protobuf with a request id, a reader thread completing the
 * {@link CompletableFuture} whose request id the response carries. Callers write under a lock and
 * flush each request (a unary call); the payload is wrapped, not copied, into the message.
 */
public final class UdsBaselineClient implements AutoCloseable
{
    private final SocketChannel channel;
    private final ConcurrentHashMap<Long, CompletableFuture<byte[]>> pending = new ConcurrentHashMap<>();
    private final AtomicLong nextRequestId = new AtomicLong();
    private final OutputStream out;
    private final Thread reader;
    private volatile boolean closing;

    private UdsBaselineClient(final SocketChannel channel)
    {
        this.channel = channel;
        this.out = new BufferedOutputStream(new ChannelOutputStream(channel), 64 * 1024);
        final InputStream in = new BufferedInputStream(new ChannelInputStream(channel), 64 * 1024);
        reader = new Thread(() -> readResponses(in), "uds-baseline-reader");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Connect to a listening {@code uds-baseline-server}.
     *
     * @param socket the server's socket path.
     * @return the connected client.
     */
    public static UdsBaselineClient connect(final Path socket)
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (true)
        {
            try
            {
                final SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                try
                {
                    channel.connect(UnixDomainSocketAddress.of(socket));
                    return new UdsBaselineClient(channel);
                }
                catch (final IOException ex)
                {
                    channel.close();
                    throw ex;
                }
            }
            catch (final IOException ex)
            {
                // The socket file appears at bind(), a moment before the server listens.
                if (System.nanoTime() > deadline)
                {
                    throw new UncheckedIOException("could not connect to " + socket, ex);
                }
                Thread.onSpinWait();
            }
        }
    }

    /**
     * Call a handler.
     *
     * @param handler e.g. {@code "echo"}.
     * @param payload the request bytes; not retained after this returns.
     * @return the response bytes, or an exception with the server's message.
     */
    public CompletableFuture<byte[]> call(final String handler, final byte[] payload)
    {
        final long requestId = nextRequestId.incrementAndGet();
        final CompletableFuture<byte[]> future = new CompletableFuture<>();
        pending.put(requestId, future);
        final Request request = Request.newBuilder()
            .setRequestId(requestId)
            .setHandler(handler)
            .setPayload(UnsafeByteOperations.unsafeWrap(payload))
            .build();
        try
        {
            synchronized (out)
            {
                request.writeDelimitedTo(out);
                out.flush();
            }
        }
        catch (final IOException ex)
        {
            pending.remove(requestId);
            future.completeExceptionally(ex);
        }
        return future;
    }

    /**
     * @return calls sent and not yet answered.
     */
    public int inFlight()
    {
        return pending.size();
    }

    private void readResponses(final InputStream in)
    {
        try
        {
            Response response;
            while ((response = Response.parseDelimitedFrom(in)) != null)
            {
                final CompletableFuture<byte[]> future = pending.remove(response.getRequestId());
                if (future == null)
                {
                    continue;
                }
                if (response.getCode() == 0)
                {
                    future.complete(response.getPayload().toByteArray());
                }
                else
                {
                    future.completeExceptionally(new IllegalStateException(
                        "code " + response.getCode() + ": " + response.getMessage()));
                }
            }
        }
        catch (final IOException ex)
        {
            if (!closing)
            {
                pending.values().forEach(f -> f.completeExceptionally(ex));
            }
        }
        pending.values().forEach(f -> f.completeExceptionally(new IllegalStateException("connection closed")));
    }

    public void close()
    {
        closing = true;
        try
        {
            channel.close();
            reader.join(5_000);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Channels.newInputStream/newOutputStream lock the channel's blocking lock for every read
     * and write, so a reader blocked in read would stall every writer; these do not.
     */
    private static final class ChannelInputStream extends InputStream
    {
        private final SocketChannel channel;

        ChannelInputStream(final SocketChannel channel)
        {
            this.channel = channel;
        }

        public int read() throws IOException
        {
            final byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        public int read(final byte[] b, final int off, final int len) throws IOException
        {
            return len == 0 ? 0 : channel.read(ByteBuffer.wrap(b, off, len));
        }
    }

    private static final class ChannelOutputStream extends OutputStream
    {
        private final SocketChannel channel;

        ChannelOutputStream(final SocketChannel channel)
        {
            this.channel = channel;
        }

        public void write(final int b) throws IOException
        {
            write(new byte[] { (byte)b }, 0, 1);
        }

        public void write(final byte[] b, final int off, final int len) throws IOException
        {
            final ByteBuffer buffer = ByteBuffer.wrap(b, off, len);
            while (buffer.hasRemaining())
            {
                channel.write(buffer);
            }
        }
    }
}
