package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.FingerprintRequestEncoder;
import io.polybridge.codecs.FingerprintResponseDecoder;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.SignalsRequestEncoder;
import io.polybridge.codecs.SignalsResponseDecoder;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Encodes typed payloads into a per-thread buffer and decodes typed responses. Responses are
 * decoded from an exact-size buffer, so the codecs' bounds checks reject lying lengths.
 */
final class TypedCodecs
{
    static final String FINGERPRINT = "wappalyzer.fingerprint";
    static final String SIGNALS = "html.signals";

    /** The schema's varStringEncoding: a uint16 length with maxValue 65534. */
    static final int MAX_VAR_STRING_BYTES = 65534;

    private static final ThreadLocal<TypedCodecs> PER_THREAD = ThreadLocal.withInitial(TypedCodecs::new);

    final ExpandableDirectByteBuffer buffer = new ExpandableDirectByteBuffer(4096);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final FingerprintRequestEncoder fingerprintEncoder = new FingerprintRequestEncoder();
    private final SignalsRequestEncoder signalsEncoder = new SignalsRequestEncoder();

    static TypedCodecs get()
    {
        return PER_THREAD.get();
    }

    int encodeFingerprint(final String url, final List<Fingerprint.Header> headers, final byte[] body)
    {
        Objects.requireNonNull(url, "url must not be null; use \"\" when unknown");
        Objects.requireNonNull(headers, "headers must not be null; use List.of() for none");
        Objects.requireNonNull(body, "body must not be null; use new byte[0] for an empty page");
        if (headers.size() > 65534)
        {
            throw new IllegalArgumentException("at most 65534 headers, was " + headers.size());
        }
        requireVarString(url, "url");
        for (int i = 0, size = headers.size(); i < size; i++)
        {
            final Fingerprint.Header header = headers.get(i);
            Objects.requireNonNull(header, "headers must not contain null");
            Objects.requireNonNull(header.name(), "header names must not be null");
            Objects.requireNonNull(header.value(), "header values must not be null; use \"\" for an empty one");
            requireVarString(header.name(), "header name");
            requireVarString(header.value(), "header value");
        }
        fingerprintEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder);
        final FingerprintRequestEncoder.HeadersEncoder group = fingerprintEncoder.headersCount(headers.size());
        for (final Fingerprint.Header header : headers)
        {
            group.next().name(header.name()).value(header.value());
        }
        fingerprintEncoder.url(url).putBody(body, 0, body.length);
        return MessageHeaderEncoder.ENCODED_LENGTH + fingerprintEncoder.encodedLength();
    }

    int encodeSignals(final String url, final byte[] body)
    {
        Objects.requireNonNull(url, "url must not be null; use \"\" when unknown");
        Objects.requireNonNull(body, "body must not be null; use new byte[0] for an empty page");
        requireVarString(url, "url");
        signalsEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder).url(url).putBody(body, 0, body.length);
        return MessageHeaderEncoder.ENCODED_LENGTH + signalsEncoder.encodedLength();
    }

    /**
     * Text fields travel as SBE var-strings with a 16-bit length: longer text would make the encoder
     * throw halfway through a message, so it is refused before anything is encoded.
     */
    static void requireVarString(final String value, final String field)
    {
        if (value.length() > MAX_VAR_STRING_BYTES / 3) // shorter text cannot exceed it, whatever its characters
        {
            final int bytes = utf8Length(value);
            if (bytes > MAX_VAR_STRING_BYTES)
            {
                throw new IllegalArgumentException(field + " is " + bytes + " bytes of UTF-8; the protocol carries " +
                    "at most " + MAX_VAR_STRING_BYTES + " bytes in a text field: shorten it or leave it out");
            }
        }
    }

    static int utf8Length(final String value)
    {
        int bytes = 0;
        for (int i = 0, length = value.length(); i < length; i++)
        {
            final char c = value.charAt(i);
            if (c < 0x80)
            {
                bytes += 1;
            }
            else if (c < 0x800)
            {
                bytes += 2;
            }
            else if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(value.charAt(i + 1)))
            {
                bytes += 4;
                i++;
            }
            else
            {
                bytes += 3; // a lone surrogate is encoded as '?' by String.getBytes, but counting 3 only errs long
            }
        }
        return bytes;
    }

    static Fingerprint decodeFingerprint(final byte[] bytes)
    {
        try
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
            final MessageHeaderDecoder header = checkedHeader(
                buffer, FingerprintResponseDecoder.TEMPLATE_ID, "FingerprintResponse");
            final FingerprintResponseDecoder decoder = new FingerprintResponseDecoder().wrapAndApplyHeader(buffer, 0, header);
            final List<Fingerprint.Technology> technologies = new ArrayList<>();
            for (final FingerprintResponseDecoder.TechnologiesDecoder technology : decoder.technologies())
            {
                final List<String> categories = new ArrayList<>();
                for (final FingerprintResponseDecoder.TechnologiesDecoder.CategoriesDecoder category :
                    technology.categories())
                {
                    categories.add(category.name());
                }
                technologies.add(new Fingerprint.Technology(
                    technology.name(), technology.version(), List.copyOf(categories)));
            }
            requireWhole(bytes, decoder.encodedLength(), "FingerprintResponse");
            return new Fingerprint(List.copyOf(technologies));
        }
        catch (final IndexOutOfBoundsException ex)
        {
            throw malformed("FingerprintResponse", ex);
        }
    }

    static Signals decodeSignals(final byte[] bytes)
    {
        try
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
            final MessageHeaderDecoder header = checkedHeader(
                buffer, SignalsResponseDecoder.TEMPLATE_ID, "SignalsResponse");
            final SignalsResponseDecoder decoder = new SignalsResponseDecoder().wrapAndApplyHeader(buffer, 0, header);
            final long links = decoder.links();
            final long scripts = decoder.scripts();
            final long stylesheets = decoder.stylesheets();
            final long iframes = decoder.iframes();
            final long forms = decoder.forms();
            final long passwordInputs = decoder.passwordInputs();
            final List<String> hosts = new ArrayList<>();
            for (final SignalsResponseDecoder.ExternalHostsDecoder host : decoder.externalHosts())
            {
                hosts.add(host.host());
            }
            final String title = decoder.title();
            final String favicon = decoder.favicon();
            final String digest = decoder.digest();
            requireWhole(bytes, decoder.encodedLength(), "SignalsResponse");
            return new Signals(
                title, links, scripts, stylesheets, iframes, forms, passwordInputs, List.copyOf(hosts), favicon, digest);
        }
        catch (final IndexOutOfBoundsException ex)
        {
            throw malformed("SignalsResponse", ex);
        }
    }

    private static MessageHeaderDecoder checkedHeader(final UnsafeBuffer buffer, final int templateId, final String name)
    {
        if (buffer.capacity() < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            throw new IndexOutOfBoundsException("shorter than a message header");
        }
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, 0);
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID || header.templateId() != templateId)
        {
            throw new PolybridgeException(ErrorCode.UNKNOWN, "expected a " + name + " but the worker sent schema " +
                header.schemaId() + " template " + header.templateId());
        }
        return header;
    }

    private static void requireWhole(final byte[] bytes, final int bodyLength, final String name)
    {
        if (MessageHeaderDecoder.ENCODED_LENGTH + bodyLength != bytes.length)
        {
            throw new PolybridgeException(ErrorCode.UNKNOWN, "the worker sent a " + name + " of " +
                (MessageHeaderDecoder.ENCODED_LENGTH + bodyLength) + " bytes followed by " +
                (bytes.length - MessageHeaderDecoder.ENCODED_LENGTH - bodyLength) + " more");
        }
    }

    private static PolybridgeException malformed(final String name, final Exception cause)
    {
        final PolybridgeException ex = new PolybridgeException(
            ErrorCode.UNKNOWN, "the worker sent a malformed " + name + ": " + cause.getMessage());
        ex.initCause(cause);
        return ex;
    }

    /** A typed view of a raw call whose cancel cancels the call itself. */
    static <T> CompletableFuture<T> mapped(
        final CompletableFuture<byte[]> raw, final Function<byte[], T> decoder)
    {
        final CompletableFuture<T> typed = new CompletableFuture<>()
        {
            public boolean cancel(final boolean mayInterruptIfRunning)
            {
                raw.cancel(mayInterruptIfRunning);
                return super.cancel(mayInterruptIfRunning);
            }
        };
        raw.whenComplete((bytes, error) ->
        {
            if (error != null)
            {
                typed.completeExceptionally(error);
                return;
            }
            try
            {
                typed.complete(decoder.apply(bytes));
            }
            catch (final RuntimeException ex)
            {
                typed.completeExceptionally(ex);
            }
        });
        return typed;
    }
}
