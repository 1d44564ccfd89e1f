package io.polybridge.cli;

import java.util.List;

/**
 * A cursor over one command's arguments: options as {@code --name value} or {@code --name=value},
 * operands anywhere, {@code --} ends the options.
 */
final class Arguments
{
    private final List<String> args;
    private int next;
    private String inlineValue;
    private boolean optionsEnded;

    Arguments(final List<String> args)
    {
        this.args = args;
    }

    boolean hasNext()
    {
        return next < args.size();
    }

    /**
     * @return the next argument: an option's name (without any {@code =value}), or an operand.
     */
    String next()
    {
        final String arg = args.get(next++);
        inlineValue = null;
        if (optionsEnded)
        {
            return arg;
        }
        if (arg.equals("--"))
        {
            optionsEnded = true;
            return hasNext() ? next() : null;
        }
        final int equals = arg.indexOf('=');
        if (arg.startsWith("--") && equals > 2)
        {
            inlineValue = arg.substring(equals + 1);
            return arg.substring(0, equals);
        }
        return arg;
    }

    /**
     * @param arg the argument {@link #next()} returned.
     * @return whether it is an option rather than an operand.
     */
    boolean isOption(final String arg)
    {
        return !optionsEnded && arg.startsWith("-") && arg.length() > 1;
    }

    /**
     * @param option the option just read.
     * @return its value.
     * @throws UsageException if the command line ends before it.
     */
    String value(final String option) throws UsageException
    {
        if (inlineValue != null)
        {
            final String value = inlineValue;
            inlineValue = null;
            return value;
        }
        if (!hasNext())
        {
            throw new UsageException("option " + option + " needs a value");
        }
        return args.get(next++);
    }

    /**
     * @param option the option just read.
     * @param min    the smallest value allowed.
     * @param max    the largest value allowed.
     * @return its value as a number.
     * @throws UsageException if it is missing, not a number or out of range.
     */
    long number(final String option, final long min, final long max) throws UsageException
    {
        final String value = value(option);
        final long number;
        try
        {
            number = Long.parseLong(value);
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException("option " + option + " takes a number, got '" + value + "'");
        }
        if (number < min || number > max)
        {
            throw new UsageException("option " + option + " must be from " + min + " to " + max + ", got " + number);
        }
        return number;
    }

    /**
     * @param option an option that takes no value.
     * @throws UsageException if it was given one with {@code =}.
     */
    void flag(final String option) throws UsageException
    {
        if (inlineValue != null)
        {
            throw new UsageException("option " + option + " takes no value");
        }
    }
}
