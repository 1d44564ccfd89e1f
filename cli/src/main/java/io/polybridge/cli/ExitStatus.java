package io.polybridge.cli;

import io.polybridge.codecs.ErrorCode;

/**
 * The exit statuses of every command, fixed so that scripts can branch on them. A call that fails
 * exits with its {@link ErrorCode}'s status, and the message on stderr starts with the code's name.
 * <pre>
 *  0 OK                   5 TIMEOUT              10 VERSION_MISMATCH
 *  1 failed (not a call)  6 CANCELLED            11 HANDLER_ERROR
 *  2 usage error          7 OVERLOADED           12 PANIC
 *  3 BAD_REQUEST          8 WORKER_UNAVAILABLE   13 UNKNOWN
 *  4 NOT_FOUND            9 TOO_LARGE
 * </pre>
 * 5 to 10 are the codes' wire values; the others could not be (1 and 2 are taken by convention).
 */
public final class ExitStatus
{
    /** Success. */
    public static final int OK = 0;

    /** A failure that is not a call's: a worker that cannot be started, a file that cannot be read. */
    public static final int FAILED = 1;

    /** The command line was wrong; the message says what to do. */
    public static final int USAGE = 2;

    private ExitStatus()
    {
    }

    /**
     * @param code a call's outcome.
     * @return the exit status it maps to.
     */
    public static int of(final ErrorCode code)
    {
        // No default branch: a code added to the schema does not compile until it has a status here.
        return switch (code)
        {
            case OK -> OK;
            case BAD_REQUEST -> 3;
            case NOT_FOUND -> 4;
            case TIMEOUT -> 5;
            case CANCELLED -> 6;
            case OVERLOADED -> 7;
            case WORKER_UNAVAILABLE -> 8;
            case TOO_LARGE -> 9;
            case VERSION_MISMATCH -> 10;
            case HANDLER_ERROR -> 11;
            case PANIC -> 12;
            case UNKNOWN, NULL_VAL -> 13;
        };
    }
}
