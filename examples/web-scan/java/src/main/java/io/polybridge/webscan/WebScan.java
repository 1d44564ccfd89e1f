package io.polybridge.webscan;

import io.polybridge.client.Bridge;
import io.polybridge.client.Method;

import java.net.URI;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The web-scan app from Java: technology fingerprints (wappalyzer, on the Go worker) and HTML signals (an HTML5
 * parse, on the Rust worker) of fetched pages, over a {@link Bridge} that runs the app's workers
 * ({@link WebScanWorkers}).
 * <pre>{@code
 * try (Bridge bridge = Bridge.launch(WebScanWorkers.addTo(new Bridge.Context(), 1, 1)))
 * {
 *     WebScan scan = new WebScan(bridge);
 *     HttpResponse<byte[]> page = http.send(request, BodyHandlers.ofByteArray());
 *     Fingerprint fingerprint = scan.fingerprint(page.uri(), page.headers(), page.body()).join();
 *     Signals signals = scan.signals(page.uri(), page.body()).join();
 * }
 * }</pre>
 * Nothing here is privileged: the app is polybridge's public API ({@link Method}s over
 * {@link io.polybridge.client.MessageCodec}s of its own SBE schema, {@link WebScanCodecs}) as any user's
 * service would use it. Thread-safe; the futures complete on the bridge's completion executor.
 */
public final class WebScan
{
    /** The Go worker's handler: wappalyzergo's FingerprintWithInfo over a page's headers and body. */
    public static final String FINGERPRINT_HANDLER = "wappalyzer.fingerprint";
    /** The Rust worker's handler: title, element counts, external hosts, favicon and digest of a page. */
    public static final String SIGNALS_HANDLER = "html.signals";

    /** {@code wappalyzer.fingerprint} as a typed method. */
    public static final Method<FingerprintRequest, Fingerprint> FINGERPRINT = Method.of(
        FINGERPRINT_HANDLER, WebScanCodecs.FINGERPRINT_REQUEST, WebScanCodecs.FINGERPRINT_RESPONSE);
    /** {@code html.signals} as a typed method. */
    public static final Method<SignalsRequest, Signals> SIGNALS = Method.of(
        SIGNALS_HANDLER, WebScanCodecs.SIGNALS_REQUEST, WebScanCodecs.SIGNALS_RESPONSE);

    /** The deadline of each call unless given: wappalyzer takes up to seconds on a large page on a busy machine. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private final Bridge bridge;
    private final Duration timeout;

    /**
     * @param bridge a bridge running the web-scan workers (or attached to a driver where they run).
     */
    public WebScan(final Bridge bridge)
    {
        this(bridge, DEFAULT_TIMEOUT);
    }

    /**
     * @param bridge  a bridge running the web-scan workers.
     * @param timeout the deadline of each call.
     */
    public WebScan(final Bridge bridge, final Duration timeout)
    {
        this.bridge = Objects.requireNonNull(bridge, "bridge");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    /**
     * Fingerprint a page fetched with {@code java.net.http}.
     *
     * @param url     where the page came from.
     * @param headers its response headers.
     * @param body    its raw bytes, any encoding (not copied: do not change them during the call).
     * @return the technologies found; fails with {@link io.polybridge.client.PolybridgeException} when the call
     *     fails, with IllegalArgumentException when a header or the URL is too long for the schema.
     */
    public CompletableFuture<Fingerprint> fingerprint(final URI url, final HttpHeaders headers, final byte[] body)
    {
        return fingerprint(url, Objects.requireNonNull(headers, "headers").map(), body);
    }

    /**
     * Fingerprint a page whose headers are a map (as Servlet, Spring or {@code HttpURLConnection} give them).
     *
     * @param url     where the page came from.
     * @param headers its response headers, each name with its values in order ({@code null} keys, such as
     *                {@code HttpURLConnection}'s status line, are skipped).
     * @param body    its raw bytes, any encoding.
     * @return the technologies found.
     */
    public CompletableFuture<Fingerprint> fingerprint(
        final URI url, final Map<String, List<String>> headers, final byte[] body)
    {
        return call(FINGERPRINT, new FingerprintRequest(url(url), headers(headers), body));
    }

    /**
     * Extract HTML signals from a page.
     *
     * @param url  where the page came from: hosts are external relative to it.
     * @param body its raw bytes, any encoding.
     * @return what the parse found.
     */
    public CompletableFuture<Signals> signals(final URI url, final byte[] body)
    {
        return call(SIGNALS, new SignalsRequest(url(url), body));
    }

    private <Req, Resp> CompletableFuture<Resp> call(final Method<Req, Resp> method, final Req request)
    {
        return bridge.call(method, request, timeout);
    }

    /**
     * @param headers response headers as a map.
     * @return one {@link FingerprintRequest.Header} per value, in the map's order.
     */
    public static List<FingerprintRequest.Header> headers(final Map<String, List<String>> headers)
    {
        Objects.requireNonNull(headers, "headers must not be null; use Map.of() for none");
        final List<FingerprintRequest.Header> list = new ArrayList<>(headers.size());
        for (final Map.Entry<String, List<String>> header : headers.entrySet())
        {
            if (header.getKey() == null || header.getValue() == null)
            {
                continue;
            }
            for (final String value : header.getValue())
            {
                list.add(new FingerprintRequest.Header(header.getKey(), value == null ? "" : value));
            }
        }
        return list;
    }

    private static String url(final URI url)
    {
        return Objects.requireNonNull(url, "url must not be null").toString();
    }
}
