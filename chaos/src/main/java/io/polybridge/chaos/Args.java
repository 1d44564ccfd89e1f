package io.polybridge.chaos;

import java.util.HashMap;
import java.util.Map;

/** {@code --name value} command-line options of the child JVMs' mains. */
final class Args
{
    private final Map<String, String> values = new HashMap<>();

    Args(final String[] args)
    {
        for (int i = 0; i < args.length; i++)
        {
            if (!args[i].startsWith("--") || i + 1 >= args.length)
            {
                throw new IllegalArgumentException("expected --name value pairs, got " + String.join(" ", args));
            }
            values.put(args[i].substring(2), args[++i]);
        }
    }

    String text(final String name)
    {
        final String value = values.get(name);
        if (value == null)
        {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return value;
    }

    long number(final String name, final long defaultValue)
    {
        final String value = values.get(name);
        return value == null ? defaultValue : Long.parseLong(value);
    }

    int integer(final String name, final int defaultValue)
    {
        return Math.toIntExact(number(name, defaultValue));
    }
}
