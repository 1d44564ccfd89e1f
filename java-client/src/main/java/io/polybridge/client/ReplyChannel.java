package io.polybridge.client;

import java.net.InetAddress;
import java.net.UnknownHostException;
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

    /** @return whether channel is Aeron IPC: shared memory on this host (doorbells and payload regions too). */
    static boolean isIpc(final String channel)
    {
        return channel.startsWith("aeron:ipc");
    }

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
        if (isIpc(requestChannel) || requestChannel.equals(channel))
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
        if (isIpc(replyChannel))
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
            throw new IllegalArgumentException(expected + ": PORT must be 1-65535 in decimal without leading zeros " +
                "(not 0: workers need a fixed port to reply to)");
        }
        if (!isHost(host))
        {
            throw new IllegalArgumentException(expected + ": HOST must be an IPv4 address, a [bracketed] IPv6 " +
                "address without a zone or a host name (letters, digits and '-', dot-separated labels of 1-63)");
        }
        if (isWildcard(host))
        {
            throw new IllegalArgumentException(expected + ": " + host + " is a wildcard, not an address workers " +
                "can reply to; name this host's address on their network");
        }
    }

    /** 1-65535 in decimal, no leading zeros (as the workers check it). */
    private static boolean isPort(final String port)
    {
        if (port.isEmpty() || port.length() > 5 || port.charAt(0) == '0')
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
        return Integer.parseInt(port) <= 65535;
    }

    /**
     * The workers' rule (native-go/worker/replychannel.go): a bracketed IPv6 literal without a zone, an
     * IPv4 literal when only digits and dots, else a host name of RFC 1123 labels.
     */
    private static boolean isHost(final String host)
    {
        if (host.startsWith("["))
        {
            if (!host.endsWith("]") || host.length() < 4 || host.indexOf('%') >= 0)
            {
                return false;
            }
            final String inner = host.substring(1, host.length() - 1);
            for (int i = 0; i < inner.length(); i++)
            {
                final char c = inner.charAt(i);
                if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.'))
                {
                    return false;
                }
            }
            try
            {
                return inner.indexOf(':') >= 0 && InetAddress.getByName(inner) != null; // a literal: no lookup
            }
            catch (final UnknownHostException ex)
            {
                return false;
            }
        }
        if (host.chars().allMatch((c) -> c == '.' || (c >= '0' && c <= '9')))
        {
            return isIpv4(host);
        }
        if (host.isEmpty() || host.length() > 253)
        {
            return false;
        }
        for (final String label : host.split("\\.", -1))
        {
            if (label.isEmpty() || label.length() > 63 || label.charAt(0) == '-' || label.charAt(label.length() - 1) == '-')
            {
                return false;
            }
            for (int i = 0; i < label.length(); i++)
            {
                final char c = label.charAt(i);
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isIpv4(final String host)
    {
        final String[] octets = host.split("\\.", -1);
        if (octets.length != 4)
        {
            return false;
        }
        for (final String octet : octets)
        {
            if (octet.isEmpty() || octet.length() > 3 || (octet.length() > 1 && octet.charAt(0) == '0') ||
                Integer.parseInt(octet) > 255)
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
