package io.polybridge.webscan;

import io.polybridge.client.Bridge;
import io.polybridge.client.ExecutableResource;
import io.polybridge.client.WorkerSpec;

import java.nio.file.Path;
import java.util.List;

/**
 * The web-scan app's workers, which this jar carries as classpath resources for linux-x86_64, each with its
 * SHA-256 next to it (the layout {@link ExecutableResource} reads, documented in examples/web-scan/README.md):
 * <pre>
 * META-INF/polybridge/workers/linux-x86_64/web-scan-worker-go             Go (wappalyzergo), CGO_ENABLED=0: static
 * META-INF/polybridge/workers/linux-x86_64/web-scan-worker-go.sha256
 * META-INF/polybridge/workers/linux-x86_64/web-scan-worker-rust           Rust + the Aeron C client (static), x86-64-v2
 * META-INF/polybridge/workers/linux-x86_64/web-scan-worker-rust.sha256
 * </pre>
 * {@link #go()} and {@link #rust()} extract them once per content hash into the user's cache and return
 * {@link WorkerSpec}s for them; a system property ({@value #GO_PROP_NAME}, {@value #RUST_PROP_NAME}) names
 * another executable instead, e.g. one just built in a checkout.
 */
public final class WebScanWorkers
{
    /** The Go worker's file name in the jar (handlers echo and {@value WebScan#FINGERPRINT_HANDLER}). */
    public static final String GO_EXECUTABLE = "web-scan-worker-go";
    /** The Rust worker's file name in the jar (handlers echo and {@value WebScan#SIGNALS_HANDLER}). */
    public static final String RUST_EXECUTABLE = "web-scan-worker-rust";

    /** Name of the Go workers' spec: their ids are go-0, go-1, ... */
    public static final String GO = "go";
    /** Name of the Rust workers' spec: their ids are rust-0, rust-1, ... */
    public static final String RUST = "rust";

    /** System property naming a Go worker executable to run instead of the jar's. */
    public static final String GO_PROP_NAME = "polybridge.webscan.worker.go";
    /** System property naming a Rust worker executable to run instead of the jar's. */
    public static final String RUST_PROP_NAME = "polybridge.webscan.worker.rust";

    /** Platforms this jar carries executables for. */
    public static final List<String> PLATFORMS = List.of("linux-x86_64");

    private WebScanWorkers()
    {
    }

    /**
     * @return one Go worker serving {@value WebScan#FINGERPRINT_HANDLER}; set its instances and options as needed.
     * @throws IllegalStateException when the executable cannot be had (unsupported platform, missing or corrupt
     *                               resource, no writable cache), saying why.
     */
    public static WorkerSpec go()
    {
        return new WorkerSpec(GO, executable(GO_EXECUTABLE, GO_PROP_NAME));
    }

    /**
     * @return one Rust worker serving {@value WebScan#SIGNALS_HANDLER}.
     * @throws IllegalStateException when the executable cannot be had, saying why.
     */
    public static WorkerSpec rust()
    {
        return new WorkerSpec(RUST, executable(RUST_EXECUTABLE, RUST_PROP_NAME));
    }

    /**
     * Add the app's workers to a bridge's settings.
     *
     * @param ctx           the bridge's settings.
     * @param goInstances   Go workers to run (0 for none).
     * @param rustInstances Rust workers to run (0 for none).
     * @return ctx.
     */
    public static Bridge.Context addTo(final Bridge.Context ctx, final int goInstances, final int rustInstances)
    {
        if (goInstances > 0)
        {
            ctx.worker(go().instances(goInstances));
        }
        if (rustInstances > 0)
        {
            ctx.worker(rust().instances(rustInstances));
        }
        return ctx;
    }

    /**
     * @param name         the executable's file name in the jar.
     * @param propertyName the system property that may name another executable.
     * @return the executable to run: the property's, else the jar's, extracted (as {@link WorkerSpec#fromResource}).
     */
    public static Path executable(final String name, final String propertyName)
    {
        final String explicit = System.getProperty(propertyName);
        return explicit != null ? Path.of(explicit) : ExecutableResource.extract(name);
    }
}
