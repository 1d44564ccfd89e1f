package io.polybridge.webscan;

import java.util.List;

/**
 * What wappalyzer recognised on a page ({@code wappalyzer.fingerprint} on the web-scan Go worker).
 *
 * @param technologies what was detected, sorted by name.
 */
public record Fingerprint(List<Technology> technologies)
{
    /**
     * One detected technology.
     *
     * @param name       e.g. "Nginx".
     * @param version    e.g. "1.25.3", or empty when the page does not tell.
     * @param categories e.g. ["Web servers", "Reverse proxies"].
     */
    public record Technology(String name, String version, List<String> categories)
    {
    }
}
