package io.polybridge.cli;

/**
 * The command line is wrong: reported with the command's name and a pointer to its --help, exit
 * status {@link ExitStatus#USAGE}.
 */
final class UsageException extends Exception
{
    private static final long serialVersionUID = 1L;

    UsageException(final String message)
    {
        super(message);
    }
}
