package io.polybridge.webscan;

import io.polybridge.client.Bridge;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.parser.Parser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * html.signals parity: for every page of the shared corpus, the title and element counts the web-scan Rust
 * worker computes (html5ever, reached through {@link WebScan#signals}: Java → Aeron → Rust → Java) equal what
 * jsoup computes for the same page, with the definitions of the worker's signals module
 * (examples/web-scan/rust) restated here for jsoup. The worker is the one this module's jar carries.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RustSignalsParityTest
{
    private static final Duration LIVENESS_TIMEOUT = Duration.ofMinutes(1);
    private static final int CORPUS_PAGES = 98;
    private static final int REQUIRED_AGREEMENT = 95;

    /**
     * Pages where the two parsers legitimately disagree, with the reason. Every entry must really
     * disagree (a stale entry fails the test), and every disagreement must be listed here.
     */
    private static final Map<String, String> KNOWN_DIFFERENCES = Map.of();

    private Bridge bridge;
    private WebScan webScan;
    private Path corpus;

    @BeforeAll
    void launchBridgeWithTheRustWorker()
    {
        corpus = Path.of(System.getProperty("polybridge.root", "../../..")).resolve("../shared/corpus/html").normalize();
        if (!Files.isDirectory(corpus))
        {
            fail("the shared HTML corpus is missing at " + corpus.toAbsolutePath() +
                " (expected ../shared/corpus/html next to the project root, 98 pages)");
        }
        // Parity, not hang detection: with the references parsing beside it on a busy machine a worker may
        // miss its announcements for a while, which must not get it killed as hung.
        bridge = Bridge.launch(new Bridge.Context().worker(WebScanWorkers.rust()).livenessTimeout(LIVENESS_TIMEOUT));
        webScan = new WebScan(bridge, Duration.ofMinutes(1));
    }

    @AfterAll
    void closeBridge()
    {
        if (bridge != null)
        {
            bridge.close();
        }
    }

    /** What both sides report for one page. */
    record PageSignals(
        String title, long links, long scripts, long stylesheets, long iframes, long forms, long passwordInputs)
    {
    }

    @Test
    void titleAndElementCountsMatchJsoupOnTheWholeCorpus() throws Exception
    {
        final List<Path> pages;
        try (Stream<Path> files = Files.list(corpus))
        {
            pages = files.filter((p) -> p.getFileName().toString().endsWith(".html")).sorted().toList();
        }
        assertEquals(CORPUS_PAGES, pages.size(), "pages in " + corpus);

        // All requests go out at once through the typed call: the worker's pool parses while
        // jsoup does its share here.
        final Map<String, CompletableFuture<Signals>> calls = new TreeMap<>();
        final Map<String, byte[]> bodies = new TreeMap<>();
        for (final Path page : pages)
        {
            final String name = page.getFileName().toString();
            final byte[] body = Files.readAllBytes(page);
            bodies.put(name, body);
            calls.put(name, webScan.signals(URI.create(urlOf(name)), body));
        }

        final List<String> disagreements = new ArrayList<>();
        int agreements = 0;
        long titled = 0;
        long elements = 0;
        for (final Map.Entry<String, byte[]> page : bodies.entrySet())
        {
            final String name = page.getKey();
            final PageSignals expected = jsoupSignals(name, page.getValue());
            final Signals signals = calls.get(name).get(1, TimeUnit.MINUTES);
            final PageSignals actual = new PageSignals(signals.title(), signals.links(), signals.scripts(),
                signals.stylesheets(), signals.iframes(), signals.forms(), signals.passwordInputs());
            titled += actual.title().isEmpty() ? 0 : 1;
            elements += actual.links() + actual.scripts() + actual.stylesheets() + actual.iframes() + actual.forms() +
                actual.passwordInputs();
            if (expected.equals(actual))
            {
                agreements++;
                assertFalse(KNOWN_DIFFERENCES.containsKey(name),
                    name + " agrees now: remove it from KNOWN_DIFFERENCES");
            }
            else if (!KNOWN_DIFFERENCES.containsKey(name))
            {
                disagreements.add(name + ":\n  jsoup " + expected + "\n  rust  " + actual);
            }
        }
        System.out.printf("html.signals parity: %d of %d pages agree with jsoup (%d with a title, %d elements counted)%n",
            agreements, pages.size(), titled, elements);
        assertEquals(List.of(), disagreements, "pages where html.signals and jsoup disagree");
        assertTrue(agreements >= REQUIRED_AGREEMENT,
            agreements + " of " + pages.size() + " pages agree; at least " + REQUIRED_AGREEMENT + " must");
    }

    private static String urlOf(final String page)
    {
        return "https://corpus.polybridge.test/" + page;
    }

    /**
     * The definitions of the web-scan Rust worker (examples/web-scan/rust), with jsoup: HTML-namespace
     * elements only; the body decoded as UTF-8 (every corpus page is valid UTF-8, which is what the
     * worker's decoder picks first after a byte order mark).
     */
    static PageSignals jsoupSignals(final String name, final byte[] body)
    {
        final Document document = Jsoup.parse(strictUtf8(name, body), urlOf(name));
        String title = null;
        long links = 0;
        long scripts = 0;
        long stylesheets = 0;
        long iframes = 0;
        long forms = 0;
        long passwordInputs = 0;
        for (final Element element : document.getAllElements())
        {
            if (!Parser.NamespaceHtml.equals(element.tag().namespace()))
            {
                continue;
            }
            switch (element.normalName())
            {
                case "title" -> title = title == null ? collapseWhitespace(element.wholeText()) : title;
                case "a" -> links += element.hasAttr("href") ? 1 : 0;
                case "script" -> scripts++;
                case "link" -> stylesheets += hasToken(element.attr("rel"), "stylesheet") ? 1 : 0;
                case "iframe" -> iframes++;
                case "form" -> forms++;
                case "input" -> passwordInputs += element.attr("type").equalsIgnoreCase("password") ? 1 : 0;
                default ->
                {
                }
            }
        }
        return new PageSignals(
            title == null ? "" : title, links, scripts, stylesheets, iframes, forms, passwordInputs);
    }

    private static String strictUtf8(final String name, final byte[] body)
    {
        try
        {
            final String text = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(body))
                .toString();
            return text.startsWith("\uFEFF") ? text.substring(1) : text;
        }
        catch (final CharacterCodingException ex)
        {
            throw new AssertionError(name + " is not valid UTF-8; this test decodes as the worker does only for UTF-8", ex);
        }
    }

    /** HTML's "strip and collapse ASCII whitespace" (TAB, LF, FF, CR, SPACE; not NBSP). */
    static String collapseWhitespace(final String text)
    {
        return Arrays.stream(text.split("[\t\n\f\r ]+"))
            .filter((word) -> !word.isEmpty())
            .reduce((a, b) -> a + " " + b)
            .orElse("");
    }

    private static boolean hasToken(final String value, final String token)
    {
        return Arrays.stream(value.split("[\t\n\f\r ]+"))
            .anyMatch((t) -> t.toLowerCase(Locale.ROOT).equals(token));
    }
}
