package io.polybridge.perf;

import io.polybridge.webscan.FingerprintRequest;
import io.polybridge.webscan.SignalsRequest;
import io.polybridge.webscan.WebScan;
import io.polybridge.webscan.WebScanWorkers;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The "real job" of the benchmarks: the web-scan app's typed {@link io.polybridge.client.Method}s
 * ({@link WebScan#FINGERPRINT}, {@link WebScan#SIGNALS}) called on a web-scan worker, which is what
 * a user of the app does; the benchmarks return a count from the decoded response.
 */
final class WebScanJobs
{
    private WebScanJobs()
    {
    }

    /** The web-scan Go worker (wappalyzer.fingerprint): {@code -Dpolybridge.webscan.worker.go}, else the app jar's. */
    static Path goWorker()
    {
        return WebScanWorkers.executable(WebScanWorkers.GO_EXECUTABLE, WebScanWorkers.GO_PROP_NAME);
    }

    /** The web-scan Rust worker (html.signals). */
    static Path rustWorker()
    {
        return WebScanWorkers.executable(WebScanWorkers.RUST_EXECUTABLE, WebScanWorkers.RUST_PROP_NAME);
    }

    /** One page through the Go or the Rust worker: technologies found, or links. */
    static int run(final Endpoint.Polybridge endpoint, final boolean go, final String url, final byte[] body,
        final Duration timeout)
    {
        return go ?
            endpoint.worker.call(WebScan.FINGERPRINT, new FingerprintRequest(url, List.of(), body), timeout).join()
                .technologies().size() :
            (int)endpoint.worker.call(WebScan.SIGNALS, new SignalsRequest(url, body), timeout).join().links();
    }
}
