package io.polybridge.perf;

import io.polybridge.client.MessageCodec;
import io.polybridge.client.Method;
import io.polybridge.codecs.FingerprintRequestEncoder;
import io.polybridge.codecs.FingerprintResponseDecoder;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.SignalsRequestEncoder;
import io.polybridge.codecs.SignalsResponseDecoder;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The web-scan app's two handlers as typed {@link Method}s, built here on the public API so the
 * "real job" benchmarks measure a typed call: the request is one page, the response decoded only as
 * far as a count (technologies found, links), which is what the benchmarks return. The codecs are the
 * generated SBE ones; the web-scan workers serve the handlers.
 */
final class WebScanJobs
{
    /** One page to fingerprint or parse. */
    record Page(String url, byte[] body)
    {
    }

    static final Method<Page, Integer> FINGERPRINT =
        Method.of("wappalyzer.fingerprint", new FingerprintRequestCodec(), new TechnologiesCount());
    static final Method<Page, Integer> SIGNALS = Method.of("html.signals", new SignalsRequestCodec(), new LinksCount());

    private WebScanJobs()
    {
    }

    /** The web-scan Go worker if built, else the library's Go test worker (which served it before the split). */
    static Path goWorker()
    {
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        final Path webScan = root.resolve("examples/web-scan/go/bin/web-scan-worker-go");
        return Files.isExecutable(webScan) ? webScan : LibraryWorkers.binary(io.polybridge.codecs.Language.GO);
    }

    /** The web-scan Rust worker if built, else the library's Rust test worker. */
    static Path rustWorker()
    {
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        final Path webScan = root.resolve("native-rust/target/release/web-scan-worker-rust");
        return Files.isExecutable(webScan) ? webScan : LibraryWorkers.binary(io.polybridge.codecs.Language.RUST);
    }

    private static final class FingerprintRequestCodec implements MessageCodec<Page>
    {
        public int encode(final Page page, final MutableDirectBuffer buffer, final int offset)
        {
            // Methods are shared between threads: no encoder state kept in the codec.
            final FingerprintRequestEncoder encoder = new FingerprintRequestEncoder();
            encoder.wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder()).headersCount(0);
            encoder.url(page.url()).putBody(page.body(), 0, page.body().length);
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        public Page decode(final DirectBuffer buffer, final int offset, final int length)
        {
            throw new UnsupportedOperationException("requests are only encoded here");
        }
    }

    private static final class SignalsRequestCodec implements MessageCodec<Page>
    {
        public int encode(final Page page, final MutableDirectBuffer buffer, final int offset)
        {
            final SignalsRequestEncoder encoder = new SignalsRequestEncoder();
            encoder.wrapAndApplyHeader(buffer, offset, new MessageHeaderEncoder())
                .url(page.url()).putBody(page.body(), 0, page.body().length);
            return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }

        public Page decode(final DirectBuffer buffer, final int offset, final int length)
        {
            throw new UnsupportedOperationException("requests are only encoded here");
        }
    }

    private static final class TechnologiesCount implements MessageCodec<Integer>
    {
        public int encode(final Integer value, final MutableDirectBuffer buffer, final int offset)
        {
            throw new UnsupportedOperationException("responses are only decoded here");
        }

        public Integer decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final MessageHeaderDecoder header = header(buffer, offset, length, FingerprintResponseDecoder.TEMPLATE_ID);
            return new FingerprintResponseDecoder().wrapAndApplyHeader(buffer, offset, header).technologies().count();
        }
    }

    private static final class LinksCount implements MessageCodec<Integer>
    {
        public int encode(final Integer value, final MutableDirectBuffer buffer, final int offset)
        {
            throw new UnsupportedOperationException("responses are only decoded here");
        }

        public Integer decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final MessageHeaderDecoder header = header(buffer, offset, length, SignalsResponseDecoder.TEMPLATE_ID);
            return (int)new SignalsResponseDecoder().wrapAndApplyHeader(buffer, offset, header).links();
        }
    }

    private static MessageHeaderDecoder header(
        final DirectBuffer buffer, final int offset, final int length, final int templateId)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            throw new IllegalArgumentException("shorter than a message header: " + length + " bytes");
        }
        final MessageHeaderDecoder header = new MessageHeaderDecoder().wrap(buffer, offset);
        if (header.templateId() != templateId)
        {
            throw new IllegalArgumentException("expected template " + templateId + ", got " + header.templateId());
        }
        return header;
    }
}
