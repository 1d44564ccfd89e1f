package io.polybridge.chaos;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The line protocol between the harness and its child JVMs: on the child's stdout, lines
 * {@code CHAOS <kind> key=value key=value ...} (values have no spaces); everything else a child
 * prints is log. On the child's stdin, one command per line ({@code stop}); end of input means the
 * harness is gone, and the child shuts down.
 */
final class Protocol
{
    static final String PREFIX = "CHAOS ";

    private Protocol()
    {
    }

    static String line(final String kind, final Map<String, ?> values)
    {
        final StringBuilder line = new StringBuilder(PREFIX).append(kind);
        for (final Map.Entry<String, ?> entry : values.entrySet())
        {
            final String value = String.valueOf(entry.getValue());
            if (value.indexOf(' ') >= 0 || value.indexOf('\n') >= 0)
            {
                throw new IllegalArgumentException("protocol values have no spaces: " + entry);
            }
            line.append(' ').append(entry.getKey()).append('=').append(value);
        }
        return line.toString();
    }

    /** A protocol line from a child. */
    record Message(String kind, Map<String, String> values)
    {
        long number(final String key)
        {
            final String value = values.get(key);
            return value == null || value.isEmpty() ? 0 : Long.parseLong(value);
        }

        String text(final String key)
        {
            return values.getOrDefault(key, "");
        }
    }

    /**
     * @param line a line of a child's stdout.
     * @return the message, or null if the line is log.
     */
    static Message parse(final String line)
    {
        if (!line.startsWith(PREFIX))
        {
            return null;
        }
        final String[] tokens = line.substring(PREFIX.length()).trim().split(" +");
        final Map<String, String> values = new LinkedHashMap<>();
        for (int i = 1; i < tokens.length; i++)
        {
            final int equals = tokens[i].indexOf('=');
            if (equals > 0)
            {
                values.put(tokens[i].substring(0, equals), tokens[i].substring(equals + 1));
            }
        }
        return new Message(tokens[0], values);
    }
}
