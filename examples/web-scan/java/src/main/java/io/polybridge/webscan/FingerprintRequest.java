package io.polybridge.webscan;

import java.util.List;
import java.util.Objects;

/**
 * The request of {@link WebScan#FINGERPRINT}: one fetched page as the schema's FingerprintRequest carries it.
 * {@link WebScan#fingerprint} builds it from a {@code URI} and {@code HttpHeaders} or a header map.
 *
 * @param url     where the page came from ("" when unknown).
 * @param headers the response headers, one entry per value, in order.
 * @param body    the raw page bytes, any encoding (not copied: do not change them during the call).
 */
public record FingerprintRequest(String url, List<Header> headers, byte[] body)
{
    /**
     * @param url     where the page came from.
     * @param headers the response headers.
     * @param body    the raw page bytes.
     */
    public FingerprintRequest
    {
        Objects.requireNonNull(url, "url must not be null; use \"\" when unknown");
        headers = List.copyOf(Objects.requireNonNull(headers, "headers must not be null; use List.of() for none"));
        Objects.requireNonNull(body, "body must not be null; use new byte[0] for an empty page");
    }

    /**
     * One HTTP response header value.
     *
     * @param name  e.g. "Server".
     * @param value e.g. "nginx/1.25.3".
     */
    public record Header(String name, String value)
    {
        /**
         * @param name  the header name.
         * @param value the header value ("" for an empty one).
         */
        public Header
        {
            Objects.requireNonNull(name, "header names must not be null");
            Objects.requireNonNull(value, "header values must not be null; use \"\" for an empty one");
        }
    }
}
