package io.polybridge.client;

import java.nio.charset.StandardCharsets;

/**
 * The reply channel a client names in its Requests and Cancels: what workers accept there
 * ({@code aeron:udp?endpoint=HOST:PORT} exactly, at most {@link #MAX_LENGTH} bytes; see
 * schema/protocol.md) and what goes on the wire for a given request channel.
 */
final class ReplyChannel
{
    /** UTF-8 bytes of a replyChannel a worker accepts. */
    static final int MAX_LENGTH = 256;

    static final String UDP_PREFIX = "aeron:udp?endpoint=";

    private static final byte[] EMPTY = new byte[0];

    private final String channel;
    private final byte[] udpUtf8; // null when replies come over IPC only

    /**
     * @param channel      the client's channel (its workers' own, IPC by default).
     * @param replyChannel the concluded {@link PolybridgeClient.Context#replyChannel()}.
     */
    ReplyChannel(final String channel, final String replyChannel)
    {
        this.channel = channel;
        this.udpUtf8 = replyChannel.equals(channel) ? null : replyChannel.getBytes(StandardCharsets.UTF_8);
    }

    /** Whether replies also arrive on a channel other than {@link PolybridgeClient.Context#channel()}. */
    boolean hasUdpChannel()
    {
        return udpUtf8 != null;
    }

    /**
     * The replyChannel bytes of a Request or Cancel sent on a request channel: empty (the worker replies on
     * its own channel) for IPC or when no reply channel is configured, else the configured one; null when a
     * worker on that channel cannot reach this client (a UDP request channel and no UDP reply channel).
     */
    byte[] forRequestChannel(final String requestChannel)
    {
        if (requestChannel.startsWith("aeron:ipc") || requestChannel.equals(channel))
        {
            return EMPTY;
        }
        return udpUtf8;
    }

    /**
     * @throws IllegalArgumentException when a worker would refuse {@code replyChannel}, or it is an IPC
     *                                  channel other than {@code channel}.
     */
    static void validate(final String replyChannel, final String channel)
    {
        if (replyChannel.equals(channel))
        {
            return;
        }
        final String expected = "replyChannel must be " + UDP_PREFIX + "HOST:PORT (an address of this host that " +
            "the workers can reach) or the client's channel " + channel + ", was '" + replyChannel + "'";
        if (replyChannel.startsWith("aeron:ipc"))
        {
            throw new IllegalArgumentException(expected + ": IPC replies arrive on the client's channel");
        }
        if (!replyChannel.startsWith(UDP_PREFIX))
        {
            throw new IllegalArgumentException(expected);
        }
        if (replyChannel.getBytes(StandardCharsets.UTF_8).length > MAX_LENGTH)
        {
            throw new IllegalArgumentException(expected + ": longer than " + MAX_LENGTH + " bytes");
        }
        final String endpoint = replyChannel.substring(UDP_PREFIX.length());
        if (endpoint.indexOf('|') >= 0 || endpoint.indexOf('=') >= 0 || endpoint.indexOf('?') >= 0)
        {
            throw new IllegalArgumentException(expected + ": no other parameters (workers add their own, e.g. " +
                "term-length=16m, with --reply-channel-params)");
        }
        final int colon = endpoint.lastIndexOf(':');
        if (colon <= 0)
        {
            throw new IllegalArgumentException(expected + ": the endpoint needs a HOST and a PORT");
        }
        final String host = endpoint.substring(0, colon);
        final String port = endpoint.substring(colon + 1);
        if (!isPort(port))
        {
            throw new IllegalArgumentException(expected + ": PORT must be 1-65535 (not 0: workers need a fixed " +
                "port to reply to)");
        }
        if (!isHost(host))
        {
            throw new IllegalArgumentException(expected + ": HOST must be an IPv4 address, a [bracketed] IPv6 " +
                "address or a host name");
        }
        if (isWildcard(host))
        {
            throw new IllegalArgumentException(expected + ": " + host + " is a wildcard, not an address workers " +
                "can reply to; name this host's address on their network");
        }
    }

    private static boolean isPort(final String port)
    {
        if (port.isEmpty() || port.length() > 5)
        {
            return false;
        }
        for (int i = 0; i < port.length(); i++)
        {
            if (port.charAt(i) < '0' || port.charAt(i) > '9')
            {
                return false;
            }
        }
        final int value = Integer.parseInt(port);
        return value >= 1 && value <= 65535;
    }

    private static boolean isHost(final String host)
    {
        if (host.startsWith("["))
        {
            if (!host.endsWith("]") || host.length() < 4)
            {
                return false;
            }
            for (int i = 1; i < host.length() - 1; i++)
            {
                final char c = host.charAt(i);
                if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.' || c == '%'))
                {
                    return false;
                }
            }
            return true;
        }
        if (host.isEmpty() || host.length() > 253)
        {
            return false;
        }
        for (int i = 0; i < host.length(); i++)
        {
            final char c = host.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            {
                return false;
            }
        }
        return true;
    }

    private static boolean isWildcard(final String host)
    {
        if (host.startsWith("["))
        {
            final String inner = host.substring(1, host.length() - 1);
            return inner.replace("0", "").replace(":", "").isEmpty(); // [::], [0:0:...:0]
        }
        return host.replace("0", "").replace(".", "").isEmpty(); // 0.0.0.0, 0
    }
}
