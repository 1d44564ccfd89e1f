package io.polybridge.client;

import java.util.Objects;

/**
 * A typed handler of a worker: its name, how to encode its request and how to decode its response.
 * Immutable and thread-safe; build one per handler once and share it.
 * <pre>{@code
 * static final Method<Greet, Greeting> GREET = Method.of("hello.greet", new GreetCodec(), new GreetingCodec());
 * Greeting greeting = bridge.call(GREET, new Greet("Ada")).join();
 * }</pre>
 *
 * @param <Req>  the request type.
 * @param <Resp> the response type.
 */
public final class Method<Req, Resp>
{
    private final String handler;
    private final MessageCodec<Req> requestCodec;
    private final MessageCodec<Resp> responseCodec;

    private Method(final String handler, final MessageCodec<Req> requestCodec, final MessageCodec<Resp> responseCodec)
    {
        this.handler = handler;
        this.requestCodec = requestCodec;
        this.responseCodec = responseCodec;
    }

    /**
     * @param handler       the handler name the worker registered, e.g. "hello.greet".
     * @param requestCodec  encodes the request into the call's payload.
     * @param responseCodec decodes the response payload; a failure fails the call's future with a
     *                      {@link PolybridgeException} saying the response could not be decoded.
     * @param <Req>         the request type.
     * @param <Resp>        the response type.
     * @return the method.
     */
    public static <Req, Resp> Method<Req, Resp> of(
        final String handler, final MessageCodec<Req> requestCodec, final MessageCodec<Resp> responseCodec)
    {
        if (handler == null || handler.isEmpty())
        {
            throw new IllegalArgumentException("handler must be a handler name such as \"hello.greet\"");
        }
        if (handler.length() > PolybridgeClient.MAX_HANDLER_NAME_LENGTH)
        {
            throw new IllegalArgumentException("handler names are at most " + PolybridgeClient.MAX_HANDLER_NAME_LENGTH +
                " characters, this one has " + handler.length());
        }
        Objects.requireNonNull(requestCodec, "requestCodec");
        Objects.requireNonNull(responseCodec, "responseCodec");
        return new Method<>(handler, requestCodec, responseCodec);
    }

    /**
     * @return the handler name.
     */
    public String handler()
    {
        return handler;
    }

    /**
     * @return the request codec.
     */
    public MessageCodec<Req> requestCodec()
    {
        return requestCodec;
    }

    /**
     * @return the response codec.
     */
    public MessageCodec<Resp> responseCodec()
    {
        return responseCodec;
    }

    public String toString()
    {
        return "Method{" + handler + "}";
    }
}
