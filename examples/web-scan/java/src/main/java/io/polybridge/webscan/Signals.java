package io.polybridge.webscan;

import java.util.List;

/**
 * What an HTML5 parse of a page found ({@code html.signals} on the web-scan Rust worker).
 *
 * @param title          the document title, or empty.
 * @param links          {@code a} elements with an href.
 * @param scripts        {@code script} elements.
 * @param stylesheets    {@code link rel=stylesheet} elements.
 * @param iframes        {@code iframe} elements.
 * @param forms          {@code form} elements.
 * @param passwordInputs {@code input type=password} elements.
 * @param externalHosts  hosts referenced by the page other than the page's own, sorted.
 * @param favicon        the favicon's absolute URL, or empty.
 * @param digest         a similarity digest: near-identical pages have near-identical digests.
 */
public record Signals(
    String title,
    long links,
    long scripts,
    long stylesheets,
    long iframes,
    long forms,
    long passwordInputs,
    List<String> externalHosts,
    String favicon,
    String digest)
{
}
