package io.polybridge.webscan;

import io.polybridge.client.Bridge;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * wappalyzer.fingerprint through Java → Aeron → the web-scan Go worker → Java ({@link WebScan#fingerprint}, the
 * worker this module's jar carries) gives exactly what wappalyzergo gives when called directly in process on
 * the same page and headers.
 * <p>
 * The reference side is the web-scan app's {@code cmd/fingerprint-reference}: a Go program that calls
 * wappalyzergo's {@code FingerprintWithInfo} with an {@code http.Header} and prints its raw result (keys "name"
 * or "name:version", with category names), with no polybridge code in between. The worker's answer is turned
 * back into such keys here and compared as a map, and checked to be sorted by name.
 * <p>
 * Every page runs twice: with no headers, and with every header the test knows at once (a server and a
 * language with versions, and two cookies wappalyzer knows). wappalyzergo checks headers, cookies and the body
 * independently and merges what they find into one answer, so one call with all of them exercises what
 * separate calls with a few each would, plus the merge of a version from a header with the body's detection;
 * the body check, which costs the time, runs twice per page instead of once per header set. The reference
 * runs in one process per header set while the worker serves the same pages. For a quicker local look,
 * {@code -Dpolybridge.parity.sample=true} runs each page with one header set (page i with set i mod 2) and
 * pages under 64 KiB with both.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GoFingerprintParityTest
{
    private static final Duration LIVENESS_TIMEOUT = Duration.ofMinutes(1);
    private static final int SMALL_PAGE = 64 * 1024;
    private static final int WINDOW = 4;
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(2);

    /** Header sets: none; a server and language with versions and cookies wappalyzer knows (PHP, Laravel). */
    private static final List<List<String>> HEADER_SETS = List.of(
        List.of(),
        List.of("Server: nginx/1.25.3", "X-Powered-By: PHP/8.2",
            "Set-Cookie: PHPSESSID=0123456789abcdef; path=/", "Set-Cookie: laravel_session=eyJpdiI6; path=/; httponly"));


    private Path root;
    private Path pagesDir;
    private Path outDir;
    private Path reference;
    private Bridge bridge;
    private WebScan webScan;

    @BeforeAll
    void buildReferenceAndLaunch() throws Exception
    {
        root = Path.of(System.getProperty("polybridge.root", "../../..")).toAbsolutePath().normalize();
        pagesDir = root.resolve("../shared/corpus/html").normalize();
        if (!Files.isDirectory(pagesDir))
        {
            fail("the shared corpus is missing: expected the HTML pages in " + pagesDir +
                " (../shared/corpus/html relative to the repository root, -Dpolybridge.root=" + root + ")");
        }
        outDir = Path.of("target", "go-fingerprint-parity").toAbsolutePath();
        Files.createDirectories(outDir);
        reference = outDir.resolve("fingerprint-reference");
        // Built here from the web-scan Go module, so the reference is never older than its source.
        run(root.resolve("examples/web-scan/go"),
            List.of("go", "build", "-o", reference.toString(), "./cmd/fingerprint-reference"));

        // Parity, not hang detection: with the references parsing beside it on a busy machine a worker may
        // miss its announcements for a while, which must not get it killed as hung.
        bridge = Bridge.launch(new Bridge.Context().worker(WebScanWorkers.go()).livenessTimeout(LIVENESS_TIMEOUT));
        webScan = new WebScan(bridge, CALL_TIMEOUT);
    }

    @AfterAll
    void closeBridge()
    {
        if (bridge != null)
        {
            bridge.close();
        }
    }

    @Test
    void everyPageFingerprintsTheSameThroughTheGoWorkerAsWithWappalyzergoInProcess() throws Exception
    {
        final boolean full = !Boolean.getBoolean("polybridge.parity.sample");
        final List<Path> pages;
        try (Stream<Path> listing = Files.list(pagesDir))
        {
            pages = listing.filter((p) -> p.toString().endsWith(".html")).sorted().toList();
        }
        assertTrue(pages.size() > 0, "no .html pages in " + pagesDir);

        // Which header sets each page runs with.
        final List<List<Path>> pagesBySet = new ArrayList<>();
        for (int set = 0; set < HEADER_SETS.size(); set++)
        {
            pagesBySet.add(new ArrayList<>());
        }
        for (int i = 0; i < pages.size(); i++)
        {
            final Path page = pages.get(i);
            final boolean all = full || Files.size(page) < SMALL_PAGE;
            for (int set = 0; set < HEADER_SETS.size(); set++)
            {
                if (all || set == i % HEADER_SETS.size())
                {
                    pagesBySet.get(set).add(page);
                }
            }
        }

        // The reference runs in separate processes while the worker serves the same pages.
        final List<Process> references = new ArrayList<>();
        for (int set = 0; set < HEADER_SETS.size(); set++)
        {
            final List<String> command = new ArrayList<>(List.of(reference.toString()));
            for (final String header : HEADER_SETS.get(set))
            {
                command.add("-H");
                command.add(header);
            }
            pagesBySet.get(set).forEach((page) -> command.add(page.toString()));
            references.add(new ProcessBuilder(command)
                .redirectOutput(outDir.resolve("reference-" + set + ".txt").toFile())
                .redirectError(outDir.resolve("reference-" + set + ".err").toFile())
                .start());
        }

        final Map<String, Map<String, List<String>>> viaWorker = new ConcurrentHashMap<>();
        final Map<String, String> problems = new ConcurrentHashMap<>();
        final Semaphore window = new Semaphore(WINDOW);
        final List<CompletableFuture<Void>> calls = new ArrayList<>();
        int requests = 0;
        for (int set = 0; set < HEADER_SETS.size(); set++)
        {
            for (final Path page : pagesBySet.get(set))
            {
                final String key = set + " " + page;
                final Map<String, List<String>> headers = new LinkedHashMap<>();
                for (final String header : HEADER_SETS.get(set))
                {
                    final int colon = header.indexOf(':');
                    headers.computeIfAbsent(header.substring(0, colon).trim(), (name) -> new ArrayList<>())
                        .add(header.substring(colon + 1).trim());
                }
                final byte[] body = Files.readAllBytes(page);
                window.acquire();
                requests++;
                calls.add(webScan.fingerprint(URI.create("https://example.org/" + page.getFileName()), headers, body)
                    .handle((response, error) ->
                {
                    window.release();
                    if (error != null)
                    {
                        problems.put(key, "call failed: " + error);
                    }
                    else
                    {
                        try
                        {
                            viaWorker.put(key, asReferenceKeys(response));
                        }
                        catch (final RuntimeException ex)
                        {
                            problems.put(key, ex.toString());
                        }
                    }
                    return null;
                }));
            }
        }
        CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);

        final Map<String, Map<String, List<String>>> inProcess = new HashMap<>();
        for (int set = 0; set < HEADER_SETS.size(); set++)
        {
            final Process reference = references.get(set);
            assertTrue(reference.waitFor(10, TimeUnit.MINUTES), "fingerprint-reference did not finish");
            final int s = set;
            assertEquals(0, reference.exitValue(), () -> "fingerprint-reference failed; see " +
                outDir.resolve("reference-" + s + ".err"));
            parseReference(set, outDir.resolve("reference-" + set + ".txt"), inProcess);
        }

        int technologies = 0;
        for (int set = 0; set < HEADER_SETS.size(); set++)
        {
            for (final Path page : pagesBySet.get(set))
            {
                final String key = set + " " + page;
                final Map<String, List<String>> expected = inProcess.get(key);
                final Map<String, List<String>> actual = viaWorker.get(key);
                if (expected == null)
                {
                    problems.putIfAbsent(key, "no reference result");
                }
                else if (actual != null && !expected.equals(actual))
                {
                    problems.put(key, "worker " + actual + "\n    in process " + expected);
                }
                technologies += expected == null ? 0 : expected.size();
            }
        }
        System.out.printf("wappalyzer.fingerprint parity: %d requests over %d pages, %d technologies, %d mismatches%n",
            requests, pages.size(), technologies, problems.size());
        assertEquals(Map.of(), new TreeMap<>(problems).entrySet().stream().limit(10)
            .collect(LinkedHashMap::new, (m, e) -> m.put(e.getKey(), e.getValue()), Map::putAll));
        assertTrue(technologies > pages.size(), "suspiciously few technologies detected: " + technologies);
    }

    /** The answer as wappalyzergo's keys: "name" or "name:version" → categories. Checks the name order too. */
    private static Map<String, List<String>> asReferenceKeys(final Fingerprint fingerprint)
    {
        final Map<String, List<String>> technologies = new HashMap<>();
        byte[] previous = null;
        for (final Fingerprint.Technology technology : fingerprint.technologies())
        {
            final byte[] name = technology.name().getBytes(StandardCharsets.UTF_8);
            if (previous != null && Arrays.compareUnsigned(previous, name) > 0)
            {
                throw new IllegalStateException("technologies not sorted by name: " + technology.name() + " after " +
                    new String(previous, StandardCharsets.UTF_8));
            }
            previous = name;
            technologies.put(technology.version().isEmpty() ? technology.name() :
                technology.name() + ":" + technology.version(), technology.categories());
        }
        return technologies;
    }

    /** Reads fingerprint-reference's output: "page P", "tech KEY\tCAT...", "end"; fields escaped. */
    private static void parseReference(final int set, final Path output, final Map<String, Map<String, List<String>>> into)
        throws IOException
    {
        Map<String, List<String>> current = null;
        for (final String line : Files.readAllLines(output, StandardCharsets.UTF_8))
        {
            if (line.startsWith("page "))
            {
                current = new HashMap<>();
                into.put(set + " " + unescape(line.substring(5)), current);
            }
            else if (line.startsWith("tech "))
            {
                final String[] fields = line.substring(5).split("\t", -1);
                final List<String> categories = new ArrayList<>();
                for (int i = 1; i < fields.length; i++)
                {
                    categories.add(unescape(fields[i]));
                }
                current.put(unescape(fields[0]), categories);
            }
        }
    }

    private static String unescape(final String s)
    {
        final StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length())
            {
                final char next = s.charAt(++i);
                out.append(switch (next)
                {
                    case 't' -> '\t';
                    case 'r' -> '\r';
                    case 'n' -> '\n';
                    default -> next;
                });
            }
            else
            {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static void run(final Path dir, final List<String> command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command).directory(dir.toFile()).inheritIO().start();
        assertTrue(process.waitFor(20, TimeUnit.MINUTES), () -> command + " did not finish in 20 minutes");
        assertEquals(0, process.exitValue(), () -> command + " failed in " + dir);
    }
}
