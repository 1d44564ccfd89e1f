package io.polybridge.webscan;

import io.polybridge.client.MessageCodec;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.net.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WebScanCodecsTest
{
    private static final byte[] BODY = "<html><title>Tést</title></html>".getBytes(StandardCharsets.UTF_8);

    private static <T> byte[] encode(final MessageCodec<T> codec, final T value)
    {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(16);
        final int length = codec.encode(value, buffer, 3); // any offset: the codec writes where it is told
        return Arrays.copyOfRange(buffer.byteArray(), 3, 3 + length);
    }

    private static <T> T decode(final MessageCodec<T> codec, final byte[] bytes)
    {
        final byte[] padded = new byte[bytes.length + 10];
        System.arraycopy(bytes, 0, padded, 5, bytes.length);
        return codec.decode(new UnsafeBuffer(padded), 5, bytes.length);
    }

    @Test
    void requestCodecsKnowTheirEncodedLengthSoLargePagesAreEncodedStraightIntoALoan()
    {
        final byte[] body = new byte[100_000];
        final String url = "https://exämple.org/päge?q=\u20ac\uD83D\uDE00\uD800";
        final List<FingerprintRequest.Header> headers = List.of(new FingerprintRequest.Header("Server", "nginx"),
            new FingerprintRequest.Header("X-\u00e9", "v\u20ac"));
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(16);
        for (final FingerprintRequest request : List.of(new FingerprintRequest(url, headers, body),
            new FingerprintRequest("", List.of(), new byte[0])))
        {
            assertEquals(WebScanCodecs.FINGERPRINT_REQUEST.encode(request, buffer, 0),
                WebScanCodecs.FINGERPRINT_REQUEST.encodedLength(request));
        }
        for (final SignalsRequest request : List.of(new SignalsRequest(url, body), new SignalsRequest("", new byte[0])))
        {
            assertEquals(WebScanCodecs.SIGNALS_REQUEST.encode(request, buffer, 0),
                WebScanCodecs.SIGNALS_REQUEST.encodedLength(request));
        }
        assertEquals(-1, WebScanCodecs.SIGNALS_RESPONSE.encodedLength(
            new Signals("", 0, 0, 0, 0, 0, 0, List.of(), "", "")), "responses: unknown, encoded into a buffer");
    }

    @Test
    void everyMessageDecodesToWhatWasEncodedAtAnyOffset()
    {
        final FingerprintRequest request = new FingerprintRequest("https://example.com/ä",
            List.of(new FingerprintRequest.Header("Server", "nginx"), new FingerprintRequest.Header("Set-Cookie", "")),
            BODY);
        final FingerprintRequest decodedRequest = decode(WebScanCodecs.FINGERPRINT_REQUEST,
            encode(WebScanCodecs.FINGERPRINT_REQUEST, request));
        assertEquals(request.url(), decodedRequest.url());
        assertEquals(request.headers(), decodedRequest.headers());
        assertArrayEquals(BODY, decodedRequest.body());

        final Fingerprint fingerprint = new Fingerprint(List.of(
            new Fingerprint.Technology("Nginx", "1.25.3", List.of("Web servers")),
            new Fingerprint.Technology("Ünïcode ✓", "", List.of())));
        assertEquals(fingerprint, decode(WebScanCodecs.FINGERPRINT_RESPONSE,
            encode(WebScanCodecs.FINGERPRINT_RESPONSE, fingerprint)));

        final SignalsRequest signalsRequest = new SignalsRequest("", new byte[0]);
        final SignalsRequest decodedSignalsRequest = decode(WebScanCodecs.SIGNALS_REQUEST,
            encode(WebScanCodecs.SIGNALS_REQUEST, signalsRequest));
        assertEquals("", decodedSignalsRequest.url());
        assertEquals(0, decodedSignalsRequest.body().length);

        final Signals signals = new Signals("Tést", 1, 2, 3, 4, 5, 6, List.of("cdn.example"), "https://x/f.ico", "T1");
        assertEquals(signals, decode(WebScanCodecs.SIGNALS_RESPONSE, encode(WebScanCodecs.SIGNALS_RESPONSE, signals)));
    }

    @Test
    void bytesThatAreNotExactlyOneMessageOfTheRightKindAreRejected()
    {
        final Signals signals = new Signals("t", 0, 0, 0, 0, 0, 0, List.of("a.example"), "", "");
        final byte[] bytes = encode(WebScanCodecs.SIGNALS_RESPONSE, signals);

        final IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class,
            () -> decode(WebScanCodecs.SIGNALS_RESPONSE, Arrays.copyOf(bytes, bytes.length - 1)));
        assertTrue(truncated.getMessage().contains("SignalsResponse"), truncated.getMessage());
        final IllegalArgumentException trailing = assertThrows(IllegalArgumentException.class,
            () -> decode(WebScanCodecs.SIGNALS_RESPONSE, Arrays.copyOf(bytes, bytes.length + 1)));
        assertTrue(trailing.getMessage().contains("1 more"), trailing.getMessage());
        final IllegalArgumentException otherMessage = assertThrows(IllegalArgumentException.class,
            () -> decode(WebScanCodecs.FINGERPRINT_RESPONSE, bytes));
        assertTrue(otherMessage.getMessage().contains("expected a FingerprintResponse"), otherMessage.getMessage());
        assertThrows(IllegalArgumentException.class, () -> decode(WebScanCodecs.SIGNALS_RESPONSE, new byte[4]));
    }

    @Test
    void textLongerThanTheSchemaCarriesIsRefusedBeforeEncoding()
    {
        final String tooLong = "x".repeat(WebScanCodecs.MAX_TEXT_BYTES + 1);
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () ->
            encode(WebScanCodecs.SIGNALS_REQUEST, new SignalsRequest(tooLong, BODY)));
        assertTrue(ex.getMessage().startsWith("url is 65535 bytes"), ex.getMessage());
    }

    @Test
    void httpHeadersAndHeaderMapsBecomeOneHeaderPerValueInOrder()
    {
        final Map<String, List<String>> map = new LinkedHashMap<>();
        map.put(null, List.of("HTTP/1.1 200 OK")); // HttpURLConnection's status line
        map.put("Server", List.of("nginx"));
        map.put("Set-Cookie", List.of("a=1", "b=2"));
        assertEquals(List.of(
            new FingerprintRequest.Header("Server", "nginx"),
            new FingerprintRequest.Header("Set-Cookie", "a=1"),
            new FingerprintRequest.Header("Set-Cookie", "b=2")), WebScan.headers(map));

        final HttpHeaders http = HttpHeaders.of(Map.of("x-one", List.of("1")), (name, value) -> true);
        assertEquals(List.of(new FingerprintRequest.Header("x-one", "1")), WebScan.headers(http.map()));
    }
}
