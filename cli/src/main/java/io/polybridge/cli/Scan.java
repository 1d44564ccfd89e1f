package io.polybridge.cli;

import io.polybridge.client.Bridge;
import io.polybridge.client.PolybridgeException;
import io.polybridge.webscan.Fingerprint;
import io.polybridge.webscan.Signals;
import io.polybridge.webscan.WebScan;
import io.polybridge.webscan.WebScanWorkers;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The web-scan app from the command line ({@code polybridge-cli scan}, {@code make demo}): fingerprint (Go,
 * wappalyzer) and extract signals (Rust, HTML5 parse) from HTML files through {@link WebScan}, one JSON object
 * per line per file on stdout, a summary on stderr.
 * <pre>
 * scan [--header 'Name: value']... [--aeron-dir DIR] [--go N] [--rust N] [--concurrency N]
 *      [--timeout-ms N] [--verbose] [FILE|DIR]...
 * </pre>
 * With no path it reads {@code ../shared/corpus/html} below the repository root
 * ({@code -Dpolybridge.root}, default the working directory). Folders are read recursively, files
 * in name order. The files have no URL: each is fetched as {@code https://<file-stem>.example/}
 * (the stem lower-cased, other than a-z, 0-9 and '-' replaced by '-'). Exit status: 0 when every
 * file was processed, 1 when any failed (its line has an "error" field), 2 for a bad command line.
 */
final class Scan
{
    private final Map<String, List<String>> headers = new LinkedHashMap<>();
    private final List<Path> inputs = new ArrayList<>();
    private String aeronDir;
    private int goInstances = 1;
    private int rustInstances = 1;
    private int concurrency = 8;
    private Duration timeout = Duration.ofSeconds(30);
    private boolean verbose;
    private Consumer<Bridge.Context> configure;

    private Scan()
    {
    }

    /**
     * @param args   the command line.
     * @param out    where the JSON lines go.
     * @param err    where the summary and problems go.
     * @return the exit status.
     */
    static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        return run(args, out, err, (ctx) -> {});
    }

    /**
     * As {@link #run(String[], PrintStream, PrintStream)}, with a last say on the bridge's settings
     * (the polybridge-cli jar's --modules and --worker options).
     *
     * @param args      the command line.
     * @param out       where the JSON lines go.
     * @param err       where the summary and problems go.
     * @param configure applied to the bridge's settings just before launch.
     * @return the exit status.
     */
    static int run(
        final String[] args, final PrintStream out, final PrintStream err, final Consumer<Bridge.Context> configure)
    {
        final Scan scan = new Scan();
        scan.configure = configure;
        final String problem = scan.parse(args);
        if (problem != null)
        {
            err.println("scan: " + problem);
            err.println("usage: scan [--header 'Name: value']... [--aeron-dir DIR] [--go N] [--rust N] " +
                "[--concurrency N] [--timeout-ms N] [--verbose] [FILE|DIR]...");
            return 2;
        }
        if (!scan.verbose)
        {
            quietenLogging();
        }
        final List<Path> files;
        try
        {
            files = scan.files();
        }
        catch (final IOException ex)
        {
            err.println("scan: " + ex);
            return 2;
        }
        return scan.scan(files, out, err);
    }

    private String parse(final String[] args)
    {
        try
        {
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                switch (arg)
                {
                    case "--header" ->
                    {
                        final String header = args[++i];
                        final int colon = header.indexOf(':');
                        if (colon <= 0)
                        {
                            return "--header takes 'Name: value', got '" + header + "'";
                        }
                        headers.computeIfAbsent(header.substring(0, colon).trim(), (name) -> new ArrayList<>())
                            .add(header.substring(colon + 1).trim());
                    }
                    case "--aeron-dir" -> aeronDir = args[++i];
                    case "--go" -> goInstances = Integer.parseInt(args[++i]);
                    case "--rust" -> rustInstances = Integer.parseInt(args[++i]);
                    case "--concurrency" -> concurrency = Integer.parseInt(args[++i]);
                    case "--timeout-ms" -> timeout = Duration.ofMillis(Long.parseLong(args[++i]));
                    case "--verbose" -> verbose = true;
                    case "-h", "--help" ->
                    {
                        return "help";
                    }
                    default ->
                    {
                        if (arg.startsWith("--"))
                        {
                            return "unknown option " + arg;
                        }
                        inputs.add(Path.of(arg));
                    }
                }
            }
        }
        catch (final ArrayIndexOutOfBoundsException ex)
        {
            return "option " + args[args.length - 1] + " needs a value";
        }
        catch (final NumberFormatException ex)
        {
            return "not a number: " + ex.getMessage();
        }
        if (concurrency < 1 || timeout.isNegative() || timeout.isZero() || goInstances < 1 || rustInstances < 1)
        {
            return "--concurrency, --timeout-ms, --go and --rust must be positive";
        }
        if (inputs.isEmpty())
        {
            final Path corpus = Path.of(System.getProperty("polybridge.root", ".")).resolve("../shared/corpus/html")
                .normalize();
            if (!Files.isDirectory(corpus))
            {
                return "no files given, and the default corpus " + corpus + " is not there";
            }
            inputs.add(corpus);
        }
        return null;
    }

    /** Files in the order given; folders expanded recursively in name order. Missing paths stay, to fail. */
    private List<Path> files() throws IOException
    {
        final List<Path> files = new ArrayList<>();
        for (final Path input : inputs)
        {
            if (Files.isDirectory(input))
            {
                try (Stream<Path> walk = Files.walk(input))
                {
                    walk.filter(Files::isRegularFile).sorted().forEach(files::add);
                }
            }
            else
            {
                files.add(input);
            }
        }
        return files;
    }

    private int scan(final List<Path> files, final PrintStream out, final PrintStream err)
    {
        final long startNs = System.nanoTime();
        final long[] goMicros = new long[files.size()];
        final long[] rustMicros = new long[files.size()];
        int answered = 0;
        int failed = 0;
        long totalBytes = 0;
        try (Bridge bridge = launch())
        {
            final WebScan webScan = new WebScan(bridge, timeout);
            final long launchedNs = System.nanoTime();
            final Deque<CompletableFuture<Result>> window = new ArrayDeque<>();
            for (int i = 0; i <= files.size(); i++)
            {
                if (i < files.size())
                {
                    window.addLast(process(webScan, files.get(i)));
                }
                while (!window.isEmpty() && (window.size() >= concurrency || i == files.size()))
                {
                    final Result result = window.removeFirst().join();
                    out.println(result.json);
                    if (result.failed)
                    {
                        failed++;
                    }
                    else
                    {
                        goMicros[answered] = result.goMicros;
                        rustMicros[answered] = result.rustMicros;
                        answered++;
                        totalBytes += result.bytes;
                    }
                }
            }
            out.flush();
            err.printf(Locale.ROOT, "scan: %d files (%d failed), %d bytes in %.2f s (launch %.2f s); round trip " +
                "p50/p99: go %s, rust %s%n",
                files.size(), failed, totalBytes, (System.nanoTime() - launchedNs) / 1e9, (launchedNs - startNs) / 1e9,
                percentiles(goMicros, answered), percentiles(rustMicros, answered));
        }
        catch (final RuntimeException ex)
        {
            err.println("scan: " + ex.getMessage());
            return 1;
        }
        return failed == 0 ? 0 : 1;
    }

    /** Inside the try: a worker that cannot be had (no resource for this platform, ...) is a failed scan. */
    private Bridge launch()
    {
        final Bridge.Context ctx = new Bridge.Context().aeronDirectoryName(aeronDir);
        WebScanWorkers.addTo(ctx, goInstances, rustInstances);
        configure.accept(ctx);
        return Bridge.launch(ctx);
    }

    private static String percentiles(final long[] micros, final int count)
    {
        if (count == 0)
        {
            return "n/a";
        }
        final long[] sorted = Arrays.copyOf(micros, count);
        Arrays.sort(sorted);
        return sorted[(count - 1) / 2] + "/" + sorted[(int)Math.ceil(count * 0.99) - 1] + " us";
    }

    private record Result(String json, boolean failed, long bytes, long goMicros, long rustMicros)
    {
    }

    private CompletableFuture<Result> process(final WebScan webScan, final Path file)
    {
        final byte[] body;
        try
        {
            body = Files.readAllBytes(file);
        }
        catch (final IOException | RuntimeException ex)
        {
            final StringBuilder json = new StringBuilder("{\"file\":");
            Json.string(json, file.toString()).append(",\"error\":");
            Json.string(json, "cannot read: " + ex).append('}');
            return CompletableFuture.completedFuture(new Result(json.toString(), true, 0, 0, 0));
        }
        final String url = url(file);
        final long sentNs = System.nanoTime();
        final CompletableFuture<Long> goDone = new CompletableFuture<>();
        final CompletableFuture<Long> rustDone = new CompletableFuture<>();
        final CompletableFuture<Fingerprint> fingerprint = call(() -> webScan.fingerprint(URI.create(url), headers, body))
            .whenComplete((r, e) -> goDone.complete(System.nanoTime()));
        final CompletableFuture<Signals> signals = call(() -> webScan.signals(URI.create(url), body))
            .whenComplete((r, e) -> rustDone.complete(System.nanoTime()));
        return fingerprint.handle((f, fe) -> null).thenCombine(signals.handle((s, se) -> null), (a, b) ->
        {
            final StringBuilder json = new StringBuilder(1024).append("{\"file\":");
            Json.string(json, file.toString()).append(",\"url\":");
            Json.string(json, url).append(",\"bytes\":").append(body.length);
            final Throwable error = firstError(fingerprint, signals);
            if (error != null)
            {
                json.append(",\"error\":");
                Json.string(json, error instanceof PolybridgeException ? error.getMessage() : error.toString());
                return new Result(json.append('}').toString(), true, body.length, 0, 0);
            }
            appendFingerprint(json, fingerprint.join());
            appendSignals(json, signals.join());
            final long goMicros = (goDone.join() - sentNs) / 1000;
            final long rustMicros = (rustDone.join() - sentNs) / 1000;
            json.append(",\"micros\":{\"go\":").append(goMicros).append(",\"rust\":").append(rustMicros).append("}}");
            return new Result(json.toString(), false, body.length, goMicros, rustMicros);
        });
    }

    /** A call refused before it is sent (IllegalArgumentException, ...) is a failed file, not a failed scan. */
    private static <T> CompletableFuture<T> call(final Supplier<CompletableFuture<T>> call)
    {
        try
        {
            return call.get();
        }
        catch (final RuntimeException ex)
        {
            return CompletableFuture.failedFuture(ex);
        }
    }

    private static Throwable firstError(final CompletableFuture<?>... calls)
    {
        for (final CompletableFuture<?> call : calls)
        {
            try
            {
                call.join();
            }
            catch (final CompletionException ex)
            {
                return ex.getCause() != null ? ex.getCause() : ex;
            }
            catch (final RuntimeException ex)
            {
                return ex;
            }
        }
        return null;
    }

    /** {@code https://<stem>.example/}: a stable, valid host per file, so "external" means another host. */
    static String url(final Path file)
    {
        String stem = file.getFileName().toString();
        final int dot = stem.lastIndexOf('.');
        if (dot > 0)
        {
            stem = stem.substring(0, dot);
        }
        final String host = stem.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
        return "https://" + (host.isEmpty() ? "page" : host) + ".example/";
    }

    private static void appendFingerprint(final StringBuilder json, final Fingerprint fingerprint)
    {
        json.append(",\"fingerprint\":{\"technologies\":[");
        boolean first = true;
        for (final Fingerprint.Technology technology : fingerprint.technologies())
        {
            json.append(first ? "" : ",").append("{\"name\":");
            Json.string(json, technology.name()).append(",\"version\":");
            Json.string(json, technology.version()).append(",\"categories\":");
            strings(json, technology.categories()).append('}');
            first = false;
        }
        json.append("]}");
    }

    private static void appendSignals(final StringBuilder json, final Signals signals)
    {
        json.append(",\"signals\":{\"title\":");
        Json.string(json, signals.title())
            .append(",\"links\":").append(signals.links())
            .append(",\"scripts\":").append(signals.scripts())
            .append(",\"stylesheets\":").append(signals.stylesheets())
            .append(",\"iframes\":").append(signals.iframes())
            .append(",\"forms\":").append(signals.forms())
            .append(",\"password_inputs\":").append(signals.passwordInputs())
            .append(",\"external_hosts\":");
        strings(json, signals.externalHosts()).append(",\"favicon\":");
        Json.string(json, signals.favicon()).append(",\"digest\":");
        Json.string(json, signals.digest()).append('}');
    }

    private static StringBuilder strings(final StringBuilder json, final List<String> values)
    {
        json.append('[');
        for (int i = 0; i < values.size(); i++)
        {
            Json.string(json.append(i == 0 ? "" : ","), values.get(i));
        }
        return json.append(']');
    }

    /** Worker output goes to the Java log at INFO; on the command line only warnings matter. */
    private static void quietenLogging()
    {
        final java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        root.setLevel(java.util.logging.Level.WARNING);
        for (final java.util.logging.Handler handler : root.getHandlers())
        {
            handler.setLevel(java.util.logging.Level.WARNING);
        }
    }
}
