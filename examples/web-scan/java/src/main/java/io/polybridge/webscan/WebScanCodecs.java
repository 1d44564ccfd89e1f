package io.polybridge.webscan;

import io.polybridge.client.MessageCodec;
import io.polybridge.webscan.codecs.FingerprintRequestDecoder;
import io.polybridge.webscan.codecs.FingerprintRequestEncoder;
import io.polybridge.webscan.codecs.FingerprintResponseDecoder;
import io.polybridge.webscan.codecs.FingerprintResponseEncoder;
import io.polybridge.webscan.codecs.MessageHeaderDecoder;
import io.polybridge.webscan.codecs.MessageHeaderEncoder;
import io.polybridge.webscan.codecs.SignalsRequestDecoder;
import io.polybridge.webscan.codecs.SignalsRequestEncoder;
import io.polybridge.webscan.codecs.SignalsResponseDecoder;
import io.polybridge.webscan.codecs.SignalsResponseEncoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@link MessageCodec}s of the web-scan schema (examples/web-scan/schema/web-scan.xml): thin wrappers over
 * its generated SBE encoders and decoders, one message (8-byte header + body) per payload. Both directions are
 * here, so the requests and responses of {@link WebScan}'s methods can be written and read back in tests; the
 * Go and Rust workers decode the same bytes with their own generated codecs. The request codecs know
 * their encoded length ({@link MessageCodec#encodedLength}), so a page of at least the client's
 * payloadLoanThreshold is encoded straight into the payload region, where the worker parses it in place.
 * <p>
 * Decoding reads from a view of exactly the payload's bytes, so the generated decoders' bounds checks reject a
 * length that points past it; any such failure, another schema or message, or bytes left over is an
 * {@link IllegalArgumentException}, as {@link MessageCodec#decode} asks.
 */
public final class WebScanCodecs
{
    /** The schema's varStringEncoding: a uint16 length with maxValue 65534. */
    public static final int MAX_TEXT_BYTES = 65534;
    /** The schema's groupSizeEncoding: a uint16 count. */
    public static final int MAX_GROUP_ENTRIES = 65534;

    /** FingerprintRequest. */
    public static final MessageCodec<FingerprintRequest> FINGERPRINT_REQUEST = new FingerprintRequestCodec();
    /** FingerprintResponse. */
    public static final MessageCodec<Fingerprint> FINGERPRINT_RESPONSE = new FingerprintResponseCodec();
    /** SignalsRequest. */
    public static final MessageCodec<SignalsRequest> SIGNALS_REQUEST = new SignalsRequestCodec();
    /** SignalsResponse. */
    public static final MessageCodec<Signals> SIGNALS_RESPONSE = new SignalsResponseCodec();

    private WebScanCodecs()
    {
    }

    private static final class FingerprintRequestCodec implements MessageCodec<FingerprintRequest>
    {
        public int encode(final FingerprintRequest value, final MutableDirectBuffer buffer, final int offset)
        {
            final List<FingerprintRequest.Header> headers = value.headers();
            requireCount(headers.size(), "headers");
            requireText(value.url(), "url");
            for (final FingerprintRequest.Header header : headers)
            {
                requireText(header.name(), "header name");
                requireText(header.value(), "header value");
            }
            final FingerprintRequestEncoder encoder = new FingerprintRequestEncoder()
                .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder());
            final FingerprintRequestEncoder.HeadersEncoder group = encoder.headersCount(headers.size());
            for (final FingerprintRequest.Header header : headers)
            {
                group.next().name(header.name()).value(header.value());
            }
            encoder.url(value.url()).putBody(value.body(), 0, value.body().length);
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        /** Known from the lengths alone, so a large page is encoded straight into a payload loan. */
        public int encodedLength(final FingerprintRequest value)
        {
            long length = MessageHeaderEncoder.ENCODED_LENGTH + FingerprintRequestEncoder.BLOCK_LENGTH +
                FingerprintRequestEncoder.HeadersEncoder.sbeHeaderSize();
            for (final FingerprintRequest.Header header : value.headers())
            {
                length += FingerprintRequestEncoder.HeadersEncoder.sbeBlockLength() +
                    FingerprintRequestEncoder.HeadersEncoder.nameHeaderLength() + utf8Length(header.name()) +
                    FingerprintRequestEncoder.HeadersEncoder.valueHeaderLength() + utf8Length(header.value());
            }
            length += FingerprintRequestEncoder.urlHeaderLength() + utf8Length(value.url()) +
                FingerprintRequestEncoder.bodyHeaderLength() + (long)value.body().length;
            return length > Integer.MAX_VALUE ? -1 : (int)length;
        }

        public FingerprintRequest decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final UnsafeBuffer view = view(buffer, offset, length);
            try
            {
                final FingerprintRequestDecoder decoder = new FingerprintRequestDecoder()
                    .wrapAndApplyHeader(view, 0, header(view, FingerprintRequestDecoder.TEMPLATE_ID, "FingerprintRequest"));
                final List<FingerprintRequest.Header> headers = new ArrayList<>();
                for (final FingerprintRequestDecoder.HeadersDecoder header : decoder.headers())
                {
                    headers.add(new FingerprintRequest.Header(header.name(), header.value()));
                }
                final String url = decoder.url();
                final byte[] body = new byte[decoder.bodyLength()];
                decoder.getBody(body, 0, body.length);
                requireWhole(length, decoder.encodedLength(), "FingerprintRequest");
                return new FingerprintRequest(url, headers, body);
            }
            catch (final IndexOutOfBoundsException ex)
            {
                throw malformed("FingerprintRequest", ex);
            }
        }
    }

    private static final class FingerprintResponseCodec implements MessageCodec<Fingerprint>
    {
        public int encode(final Fingerprint value, final MutableDirectBuffer buffer, final int offset)
        {
            final List<Fingerprint.Technology> technologies = value.technologies();
            requireCount(technologies.size(), "technologies");
            for (final Fingerprint.Technology technology : technologies)
            {
                requireText(technology.name(), "technology name");
                requireText(technology.version(), "technology version");
                requireCount(technology.categories().size(), "categories");
                technology.categories().forEach((category) -> requireText(category, "category"));
            }
            final FingerprintResponseEncoder encoder = new FingerprintResponseEncoder()
                .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder());
            final FingerprintResponseEncoder.TechnologiesEncoder group = encoder.technologiesCount(technologies.size());
            for (final Fingerprint.Technology technology : technologies)
            {
                group.next();
                final FingerprintResponseEncoder.TechnologiesEncoder.CategoriesEncoder categories =
                    group.categoriesCount(technology.categories().size());
                for (final String category : technology.categories())
                {
                    categories.next().name(category);
                }
                group.name(technology.name()).version(technology.version());
            }
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        public Fingerprint decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final UnsafeBuffer view = view(buffer, offset, length);
            try
            {
                final FingerprintResponseDecoder decoder = new FingerprintResponseDecoder()
                    .wrapAndApplyHeader(view, 0, header(view, FingerprintResponseDecoder.TEMPLATE_ID, "FingerprintResponse"));
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
                requireWhole(length, decoder.encodedLength(), "FingerprintResponse");
                return new Fingerprint(List.copyOf(technologies));
            }
            catch (final IndexOutOfBoundsException ex)
            {
                throw malformed("FingerprintResponse", ex);
            }
        }
    }

    private static final class SignalsRequestCodec implements MessageCodec<SignalsRequest>
    {
        public int encode(final SignalsRequest value, final MutableDirectBuffer buffer, final int offset)
        {
            requireText(value.url(), "url");
            final SignalsRequestEncoder encoder = new SignalsRequestEncoder()
                .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                .url(value.url())
                .putBody(value.body(), 0, value.body().length);
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        /** Known from the lengths alone, so a large page is encoded straight into a payload loan. */
        public int encodedLength(final SignalsRequest value)
        {
            final long length = MessageHeaderEncoder.ENCODED_LENGTH + SignalsRequestEncoder.BLOCK_LENGTH +
                SignalsRequestEncoder.urlHeaderLength() + utf8Length(value.url()) +
                SignalsRequestEncoder.bodyHeaderLength() + (long)value.body().length;
            return length > Integer.MAX_VALUE ? -1 : (int)length;
        }

        public SignalsRequest decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final UnsafeBuffer view = view(buffer, offset, length);
            try
            {
                final SignalsRequestDecoder decoder = new SignalsRequestDecoder()
                    .wrapAndApplyHeader(view, 0, header(view, SignalsRequestDecoder.TEMPLATE_ID, "SignalsRequest"));
                final String url = decoder.url();
                final byte[] body = new byte[decoder.bodyLength()];
                decoder.getBody(body, 0, body.length);
                requireWhole(length, decoder.encodedLength(), "SignalsRequest");
                return new SignalsRequest(url, body);
            }
            catch (final IndexOutOfBoundsException ex)
            {
                throw malformed("SignalsRequest", ex);
            }
        }
    }

    private static final class SignalsResponseCodec implements MessageCodec<Signals>
    {
        public int encode(final Signals value, final MutableDirectBuffer buffer, final int offset)
        {
            requireCount(value.externalHosts().size(), "externalHosts");
            value.externalHosts().forEach((host) -> requireText(host, "external host"));
            requireText(value.title(), "title");
            requireText(value.favicon(), "favicon");
            requireText(value.digest(), "digest");
            final SignalsResponseEncoder encoder = new SignalsResponseEncoder()
                .wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                .links(value.links()).scripts(value.scripts()).stylesheets(value.stylesheets())
                .iframes(value.iframes()).forms(value.forms()).passwordInputs(value.passwordInputs());
            final SignalsResponseEncoder.ExternalHostsEncoder hosts =
                encoder.externalHostsCount(value.externalHosts().size());
            for (final String host : value.externalHosts())
            {
                hosts.next().host(host);
            }
            encoder.title(value.title()).favicon(value.favicon()).digest(value.digest());
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        public Signals decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final UnsafeBuffer view = view(buffer, offset, length);
            try
            {
                final SignalsResponseDecoder decoder = new SignalsResponseDecoder()
                    .wrapAndApplyHeader(view, 0, header(view, SignalsResponseDecoder.TEMPLATE_ID, "SignalsResponse"));
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
                requireWhole(length, decoder.encodedLength(), "SignalsResponse");
                return new Signals(title, links, scripts, stylesheets, iframes, forms, passwordInputs,
                    List.copyOf(hosts), favicon, digest);
            }
            catch (final IndexOutOfBoundsException ex)
            {
                throw malformed("SignalsResponse", ex);
            }
        }
    }

    private static UnsafeBuffer view(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            throw new IllegalArgumentException("a web-scan message has at least an " +
                MessageHeaderDecoder.ENCODED_LENGTH + "-byte header; got " + length + " bytes");
        }
        return new UnsafeBuffer(buffer, offset, length);
    }

    /** Another schema's or another message's bytes are no message of this codec, whatever they decode to. */
    private static MessageHeaderDecoder header(final DirectBuffer view, final int templateId, final String name)
    {
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(view, 0);
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID || header.templateId() != templateId)
        {
            throw new IllegalArgumentException("expected a " + name + " (schema " + MessageHeaderDecoder.SCHEMA_ID +
                " template " + templateId + ") but got schema " + header.schemaId() + " template " +
                header.templateId());
        }
        return header;
    }

    private static void requireWhole(final int length, final int bodyLength, final String name)
    {
        final int encoded = MessageHeaderDecoder.ENCODED_LENGTH + bodyLength;
        if (encoded != length)
        {
            throw new IllegalArgumentException("a " + name + " of " + encoded + " bytes followed by " +
                (length - encoded) + " more");
        }
    }

    private static IllegalArgumentException malformed(final String name, final IndexOutOfBoundsException cause)
    {
        return new IllegalArgumentException("a malformed " + name + ": " + cause.getMessage(), cause);
    }

    private static void requireCount(final int count, final String field)
    {
        if (count > MAX_GROUP_ENTRIES)
        {
            throw new IllegalArgumentException("at most " + MAX_GROUP_ENTRIES + " " + field + ", got " + count);
        }
    }

    /**
     * Text travels as an SBE var-string with a 16-bit length: longer text would make the encoder throw
     * halfway through a message, so it is refused before anything is encoded.
     */
    static void requireText(final String value, final String field)
    {
        if (value == null)
        {
            throw new IllegalArgumentException(field + " must not be null; use \"\" for none");
        }
        if (value.length() > MAX_TEXT_BYTES / 3) // shorter text cannot exceed it, whatever its characters
        {
            final int bytes = utf8Length(value);
            if (bytes > MAX_TEXT_BYTES)
            {
                throw new IllegalArgumentException(field + " is " + bytes + " bytes of UTF-8; the web-scan schema " +
                    "carries at most " + MAX_TEXT_BYTES + " bytes in a text field: shorten it or leave it out");
            }
        }
    }

    private static int utf8Length(final String value)
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
            else if (Character.isSurrogate(c))
            {
                bytes += 1; // a lone surrogate is encoded as '?'
            }
            else
            {
                bytes += 3;
            }
        }
        return bytes;
    }
}
