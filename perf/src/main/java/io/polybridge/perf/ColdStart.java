package io.polybridge.perf;

import io.polybridge.client.ExecutableResource;
import io.polybridge.client.PolybridgeClient;
import io.polybridge.client.WorkerStub;
import io.polybridge.client.WorkerInfo;
import io.polybridge.client.WorkerProcess;
import io.polybridge.webscan.FingerprintRequest;
import io.polybridge.webscan.SignalsRequest;
import io.polybridge.webscan.WebScan;
import io.polybridge.webscan.WebScanWorkers;
import io.polybridge.codecs.Language;
import io.polybridge.driver.EmbeddedMediaDriver;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Cold start of a worker process, measured from Java: spawn → its announcement seen by the client →
 * first echo answered → first answer of its real handler (wappalyzer.fingerprint / html.signals).
 * Not JMH: each sample is one process start, and the interesting numbers are single events.
 * <pre>
 * java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -Dpolybridge.root=. \
 *   -cp perf/target/benchmarks.jar io.polybridge.perf.ColdStart [trials per language, default 10]
 * </pre>
 * The driver and the client are already running (as in {@code Bridge}, which starts them first),
 * so what is measured is the worker's own start: exec, Aeron connect, subscription, announcement,
 * and for the real handler whatever it initialises. The reference point is the ~4 ms start
 * penalty reported for launching a static Rust binary from inside a Node serverless function.
 * <p>
 * With the polybridge-web-scan jar on the classpath (it is, in benchmarks.jar) it also measures what a user's
 * project pays: extracting each worker from the jar into an empty cache, finding it again in the cache (a stat
 * against the record of its last check), finding it with that record gone (hashed again), and the same start-up
 * figures for the workers started from the cache.
 */
public final class ColdStart
{
    private static final byte[] PAGE = ("<html><head><title>cold</title><script src=\"https://cdn.example/" +
        "jquery-3.7.1.min.js\"></script></head><body><a href=\"/x\">x</a></body></html>")
        .getBytes(StandardCharsets.UTF_8);

    private ColdStart()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int trials = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch();
            PolybridgeClient client = PolybridgeClient.connect(new PolybridgeClient.Context()
                .aeronDirectoryName(driver.aeronDirectoryName())))
        {
            for (final Language language : List.of(Language.GO, Language.RUST))
            {
                report(client, driver.aeronDirectoryName(), language,
                    language == Language.GO ? WebScanJobs.goWorker() : WebScanJobs.rustWorker(), trials, "");
            }
            extraction(client, driver.aeronDirectoryName(), trials);
        }
    }

    private static void report(
        final PolybridgeClient client,
        final String aeronDir,
        final Language language,
        final Path binary,
        final int trials,
        final String from)
    {
        measure(client, aeronDir, language, 1, binary); // warm the page cache, not counted
        final long[][] samples = measure(client, aeronDir, language, trials, binary);
        System.out.printf(Locale.ROOT, "%-4s %d starts%s   spawn->announced   spawn->first echo   " +
            "spawn->first %s%n", language, trials, from,
            language == Language.GO ? "wappalyzer.fingerprint" : "html.signals");
        System.out.printf(Locale.ROOT, "     min             %8.1f ms          %8.1f ms          %8.1f ms%n",
            ms(samples[0], 0), ms(samples[1], 0), ms(samples[2], 0));
        System.out.printf(Locale.ROOT, "     median          %8.1f ms          %8.1f ms          %8.1f ms%n",
            ms(samples[0], 50), ms(samples[1], 50), ms(samples[2], 50));
        System.out.printf(Locale.ROOT, "     max             %8.1f ms          %8.1f ms          %8.1f ms%n",
            ms(samples[0], 100), ms(samples[1], 100), ms(samples[2], 100));
    }

    /**
     * The workers jar's executables: extraction into an empty cache (a new directory per trial), then the
     * lookup a later JVM does (the cached file's SHA-256 checked against the jar's), then starts from the cache.
     */
    private static void extraction(final PolybridgeClient client, final String aeronDir, final int trials)
        throws IOException
    {
        for (final Language language : List.of(Language.GO, Language.RUST))
        {
            final String name = language == Language.GO ? WebScanWorkers.GO_EXECUTABLE : WebScanWorkers.RUST_EXECUTABLE;
            if (!ExecutableResource.isAvailable(name))
            {
                System.out.println(name + ": not on the classpath (io.polybridge:polybridge-web-scan), not measured");
                continue;
            }
            final long[][] samples = new long[3][trials];
            final Path cache = Files.createTempDirectory("polybridge-coldstart-cache-");
            try
            {
                Path extracted = null;
                for (int trial = 0; trial < trials; trial++)
                {
                    final Path directory = Files.createDirectory(cache.resolve("trial-" + trial));
                    final ExecutableResource.Context context = new ExecutableResource.Context()
                        .cacheDirectories(List.of(directory)).privateTemporaryFallback(false);
                    final long startNs = System.nanoTime();
                    extracted = ExecutableResource.extract(name, context);
                    samples[0][trial] = System.nanoTime() - startNs;
                    final long cachedNs = System.nanoTime();
                    ExecutableResource.extract(name, context);
                    samples[1][trial] = System.nanoTime() - cachedNs;
                    // Without its record of the last check, the cached file is hashed again.
                    Files.delete(extracted.resolveSibling(name + ".verified"));
                    final long hashedNs = System.nanoTime();
                    ExecutableResource.extract(name, context);
                    samples[2][trial] = System.nanoTime() - hashedNs;
                }
                System.out.printf(Locale.ROOT, "%-4s %s (%.1f MB) from the workers jar   first extraction   " +
                    "found in the cache   cached, hashed again%n", language, name, Files.size(extracted) / 1e6);
                System.out.printf(Locale.ROOT, "     min / median / max   %5.1f / %5.1f / %5.1f ms   " +
                    "%5.1f / %5.1f / %5.1f ms   %5.1f / %5.1f / %5.1f ms%n",
                    ms(samples[0], 0), ms(samples[0], 50), ms(samples[0], 100),
                    ms(samples[1], 0), ms(samples[1], 50), ms(samples[1], 100),
                    ms(samples[2], 0), ms(samples[2], 50), ms(samples[2], 100));
                report(client, aeronDir, language, extracted, trials, " from the cache");
            }
            finally
            {
                try (var paths = Files.walk(cache))
                {
                    for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
                    {
                        Files.deleteIfExists(path);
                    }
                }
            }
        }
    }

    private static long[][] measure(
        final PolybridgeClient client,
        final String aeronDir,
        final Language language,
        final int trials,
        final Path binary)
    {
        final long[][] samples = new long[3][trials];
        for (int trial = 0; trial < trials; trial++)
        {
            // A new stream per start: a killed predecessor's subscription would linger on the old one.
            final String workerId = "cold-" + language.name().toLowerCase(Locale.ROOT) + "-" + System.nanoTime();
            final int stream = (language == Language.GO ? 3000 : 4000) + (int)(System.nanoTime() % 1000);
            final long startNs = System.nanoTime();
            try (WorkerProcess process = WorkerProcess.start(binary, aeronDir, workerId, stream,
                Path.of(System.getProperty("java.io.tmpdir"), "polybridge-coldstart.log")))
            {
                final long pid = process.process().pid();
                while (!announced(client, workerId, pid))
                {
                    if (System.nanoTime() - startNs > TimeUnit.SECONDS.toNanos(30))
                    {
                        throw new IllegalStateException(workerId + " did not announce itself within 30 s");
                    }
                    LockSupport.parkNanos(20_000);
                }
                samples[0][trial] = System.nanoTime() - startNs;
                final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(30));
                worker.call("echo", new byte[]{ 1 }, Duration.ofSeconds(30)).join();
                samples[1][trial] = System.nanoTime() - startNs;
                if (language == Language.GO)
                {
                    worker.call(WebScan.FINGERPRINT, new FingerprintRequest("https://cold.example/",
                        List.of(new FingerprintRequest.Header("Server", "nginx")), PAGE), Duration.ofSeconds(30)).join();
                }
                else
                {
                    worker.call(WebScan.SIGNALS, new SignalsRequest("https://cold.example/", PAGE),
                        Duration.ofSeconds(30)).join();
                }
                samples[2][trial] = System.nanoTime() - startNs;
            }
        }
        return samples;
    }

    private static boolean announced(final PolybridgeClient client, final String workerId, final long pid)
    {
        for (final WorkerInfo info : client.workers())
        {
            if (info.workerId().equals(workerId) && info.pid() == pid)
            {
                return true;
            }
        }
        return false;
    }

    private static double ms(final long[] nanos, final int percentile)
    {
        final long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        final int index = Math.min(sorted.length - 1, (int)Math.round((sorted.length - 1) * percentile / 100.0));
        return sorted[index] / 1e6;
    }
}
