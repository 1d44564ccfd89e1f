package io.polybridge.perf;

import io.polybridge.codecs.Language;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real job, one page at a time: one operation is a pass over the pages, each fingerprinted by
 * the Go worker (wappalyzergo) or parsed for HTML signals by the Rust worker, through the typed
 * calls. Compare with the same handler in-process, timed the same way by
 * {@code perf/uds-baseline/bin/inprocess-fingerprint} (Go, the same {@code goPages}) and
 * {@code native-rust}'s {@code cargo bench --bench signals} (Rust, all pages).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED" })
@State(Scope.Benchmark)
public class RealJobBenchmark
{
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    /** Which worker does what. */
    public enum Job
    {
        GO_FINGERPRINT, RUST_SIGNALS
    }

    @Param({ "GO_FINGERPRINT", "RUST_SIGNALS" })
    public Job job;

    /** Pages the Go job runs over (wappalyzergo takes ~35 s for all): all, sample or smoke. */
    @Param({ "all" })
    public String goPages;

    private Endpoint.Polybridge endpoint;
    private List<Corpus.Page> pages;
    private String[] urls;

    @Setup(Level.Trial)
    public void setUp()
    {
        final boolean go = job == Job.GO_FINGERPRINT;
        pages = Corpus.pages(go ? goPages : "all");
        urls = pages.stream().map(p -> "https://corpus.polybridge.test/" + p.name() + ".html").toArray(String[]::new);
        endpoint = Endpoint.polybridge(go ? Language.GO : Language.RUST,
            go ? WebScanJobs.goWorker() : WebScanJobs.rustWorker(), 0, TIMEOUT, "backoff");
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        endpoint.close();
    }

    @Benchmark
    public int corpusPass()
    {
        int found = 0;
        for (int i = 0; i < urls.length; i++)
        {
            found += WebScanJobs.run(endpoint, job == Job.GO_FINGERPRINT, urls[i], pages.get(i).body(), TIMEOUT);
        }
        return found;
    }
}
