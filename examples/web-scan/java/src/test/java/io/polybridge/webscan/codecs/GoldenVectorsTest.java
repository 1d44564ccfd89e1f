package io.polybridge.webscan.codecs;

import io.polybridge.codecs.CommittedCodecs;
import io.polybridge.codecs.GoldenVectors;
import io.polybridge.codecs.GoldenVectors.Vector;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The golden vectors of examples/web-scan/schema/golden/README.md: encoding each logical value must give the
 * bytes on disk, and decoding the bytes must give the value back. The Go and Rust web-scan workers' tests run
 * the same checks, so the three languages agree byte for byte. Run with {@code -Dgolden.write=true} to rewrite
 * them ({@link GoldenVectors}).
 */
class GoldenVectorsTest
{
    static final String UNICODE_URL = "https://example.com/päth?q=✓";
    static final String UNICODE_TECHNOLOGY = "Ünïcode ✓ 日本";

    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();

    private static final Path GOLDEN = CommittedCodecs.repositoryRoot().resolve("examples/web-scan/schema/golden");

    @TestFactory
    Stream<DynamicTest> everyVectorEncodesToItsFileAndDecodesBack()
    {
        return GoldenVectors.encodeToTheirFilesAndDecodeBack(GOLDEN, vectors());
    }

    @Test
    void everyFileInTheGoldenDirectoryIsAVector() throws IOException
    {
        GoldenVectors.assertEveryFileIsAVector(GOLDEN, vectors());
    }

    static byte[] fingerprintBody()
    {
        final byte[] head = "<html><head><title>Tést</title></head><body>".getBytes(StandardCharsets.UTF_8);
        final byte[] tail = "</body></html>".getBytes(StandardCharsets.UTF_8);
        final byte[] body = new byte[head.length + 3 + tail.length];
        System.arraycopy(head, 0, body, 0, head.length);
        body[head.length] = (byte)0xFF;
        body[head.length + 1] = (byte)0xFE;
        body[head.length + 2] = 0;
        System.arraycopy(tail, 0, body, head.length + 3, tail.length);
        return body;
    }

    record Technology(String name, String version, List<String> categories)
    {
    }

    static final List<Technology> TECHNOLOGIES = List.of(
        new Technology("Nginx", "1.25.3", List.of("Web servers", "Reverse proxies")),
        new Technology("React", "", List.of("JavaScript frameworks")),
        new Technology(UNICODE_TECHNOLOGY, "", List.of()));

    record Signals(
        long links, long scripts, long stylesheets, long iframes, long forms, long passwordInputs,
        List<String> externalHosts, String title, String favicon, String digest)
    {
    }

    List<Vector> vectors()
    {
        final List<Vector> vectors = new ArrayList<>();
        vectors.add(fingerprintRequest("fingerprint-request.bin", manyHeaders(), UNICODE_URL, fingerprintBody()));
        vectors.add(fingerprintRequest("fingerprint-request-empty.bin", List.of(), "", new byte[0]));
        vectors.add(fingerprintResponse("fingerprint-response.bin", TECHNOLOGIES));
        vectors.add(fingerprintResponse("fingerprint-response-empty.bin", List.of()));
        vectors.add(signalsRequest("signals-request.bin", "https://example.com/päth", fingerprintBody()));
        vectors.add(signalsResponse("signals-response.bin", new Signals(12, 3, 2, 1, 1, 1,
            List.of("cdn.example.net", "ünïcode.example"), "Tést ✓", "https://example.com/favicon.ico", "T1A2B3C4")));
        vectors.add(signalsResponse("signals-response-empty.bin", new Signals(0, 0, 0, 0, 0, 0, List.of(), "", "", "")));
        return vectors;
    }

    static List<String[]> manyHeaders()
    {
        final List<String[]> headers = new ArrayList<>();
        for (int i = 0; i < 40; i++)
        {
            headers.add(new String[]{ "X-Header-" + i, "välue " + i + " ✓" });
        }
        return headers;
    }

    private Vector fingerprintRequest(
        final String file, final List<String[]> headers, final String url, final byte[] body)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final FingerprintRequestEncoder encoder = new FingerprintRequestEncoder()
                    .wrapAndApplyHeader(buffer, 0, headerEncoder);
                final FingerprintRequestEncoder.HeadersEncoder group = encoder.headersCount(headers.size());
                for (final String[] header : headers)
                {
                    group.next().name(header[0]).value(header[1]);
                }
                encoder.url(url).putBody(body, 0, body.length);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final FingerprintRequestDecoder decoder = new FingerprintRequestDecoder()
                    .wrapAndApplyHeader(buffer, 0, headerDecoder);
                final List<String[]> decoded = new ArrayList<>();
                for (final FingerprintRequestDecoder.HeadersDecoder header : decoder.headers())
                {
                    decoded.add(new String[]{ header.name(), header.value() });
                }
                assertEquals(headers.size(), decoded.size());
                for (int i = 0; i < headers.size(); i++)
                {
                    assertArrayEquals(headers.get(i), decoded.get(i));
                }
                assertEquals(url, decoder.url());
                final byte[] decodedBody = new byte[decoder.bodyLength()];
                decoder.getBody(decodedBody, 0, decodedBody.length);
                assertArrayEquals(body, decodedBody);
            });
    }

    private Vector fingerprintResponse(final String file, final List<Technology> technologies)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final FingerprintResponseEncoder encoder = new FingerprintResponseEncoder()
                    .wrapAndApplyHeader(buffer, 0, headerEncoder);
                final FingerprintResponseEncoder.TechnologiesEncoder group =
                    encoder.technologiesCount(technologies.size());
                for (final Technology technology : technologies)
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
            },
            (buffer) ->
            {
                final FingerprintResponseDecoder decoder = new FingerprintResponseDecoder()
                    .wrapAndApplyHeader(buffer, 0, headerDecoder);
                final List<Technology> decoded = new ArrayList<>();
                for (final FingerprintResponseDecoder.TechnologiesDecoder technology : decoder.technologies())
                {
                    final List<String> categories = new ArrayList<>();
                    for (final FingerprintResponseDecoder.TechnologiesDecoder.CategoriesDecoder category :
                        technology.categories())
                    {
                        categories.add(category.name());
                    }
                    decoded.add(new Technology(technology.name(), technology.version(), categories));
                }
                assertEquals(technologies, decoded);
            });
    }

    private Vector signalsRequest(final String file, final String url, final byte[] body)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final SignalsRequestEncoder encoder = new SignalsRequestEncoder()
                    .wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .url(url)
                    .putBody(body, 0, body.length);
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final SignalsRequestDecoder decoder = new SignalsRequestDecoder()
                    .wrapAndApplyHeader(buffer, 0, headerDecoder);
                assertEquals(url, decoder.url());
                final byte[] decodedBody = new byte[decoder.bodyLength()];
                decoder.getBody(decodedBody, 0, decodedBody.length);
                assertArrayEquals(body, decodedBody);
            });
    }

    private Vector signalsResponse(final String file, final Signals signals)
    {
        return new Vector(
            file,
            (buffer) ->
            {
                final SignalsResponseEncoder encoder = new SignalsResponseEncoder()
                    .wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .links(signals.links()).scripts(signals.scripts()).stylesheets(signals.stylesheets())
                    .iframes(signals.iframes()).forms(signals.forms()).passwordInputs(signals.passwordInputs());
                final SignalsResponseEncoder.ExternalHostsEncoder hosts =
                    encoder.externalHostsCount(signals.externalHosts().size());
                for (final String host : signals.externalHosts())
                {
                    hosts.next().host(host);
                }
                encoder.title(signals.title()).favicon(signals.favicon()).digest(signals.digest());
                return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            },
            (buffer) ->
            {
                final SignalsResponseDecoder decoder = new SignalsResponseDecoder()
                    .wrapAndApplyHeader(buffer, 0, headerDecoder);
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
                assertEquals(signals, new Signals(links, scripts, stylesheets, iframes, forms, passwordInputs,
                    hosts, decoder.title(), decoder.favicon(), decoder.digest()));
            });
    }
}
