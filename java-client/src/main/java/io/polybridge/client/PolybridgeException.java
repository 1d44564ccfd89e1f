package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;

/**
 * The one exception a call fails with: a stable {@link ErrorCode} shared by Java, Go and Rust, and a
 * message from whichever side failed.
 */
public final class PolybridgeException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final ErrorCode errorCode;

    /**
     * @param errorCode the stable code, never {@link ErrorCode#OK}.
     * @param message   what went wrong and, where possible, what to do about it.
     */
    public PolybridgeException(final ErrorCode errorCode, final String message)
    {
        super(errorCode + ": " + message);
        this.errorCode = errorCode;
    }

    /**
     * @return the stable error code.
     */
    public ErrorCode errorCode()
    {
        return errorCode;
    }
}
