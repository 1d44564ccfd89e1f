package io.polybridge.webscan;

import java.util.Objects;

/**
 * The request of {@link WebScan#SIGNALS}: one page to parse, as the schema's SignalsRequest carries it.
 *
 * @param url  where the page came from: hosts are external relative to it ("" when unknown).
 * @param body the raw page bytes, any encoding (not copied: do not change them during the call).
 */
public record SignalsRequest(String url, byte[] body)
{
    /**
     * @param url  where the page came from.
     * @param body the raw page bytes.
     */
    public SignalsRequest
    {
        Objects.requireNonNull(url, "url must not be null; use \"\" when unknown");
        Objects.requireNonNull(body, "body must not be null; use new byte[0] for an empty page");
    }
}
