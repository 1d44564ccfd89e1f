package io.polybridge.workers;

import java.util.List;

/**
 * The worker executables this jar carries as classpath resources, one folder per platform:
 * <pre>
 * META-INF/polybridge/workers/linux-x86_64/polybridge-worker-go            Go, CGO_ENABLED=0 (static)
 * META-INF/polybridge/workers/linux-x86_64/polybridge-worker-go.sha256     its SHA-256 in hex
 * META-INF/polybridge/workers/linux-x86_64/polybridge-worker-rust          Rust + the Aeron C client (static), x86-64-v2
 * META-INF/polybridge/workers/linux-x86_64/polybridge-worker-rust.sha256
 * </pre>
 * With this jar on the classpath, {@code Bridge.launch()} finds its default Go and Rust workers here (through
 * {@code io.polybridge.client.ExecutableResource}) when no binary is configured and no checkout's build is at
 * hand. Nothing here needs to be called: the class exists to name the resources and to document the layout, which
 * a jar of one's own workers can follow.
 */
public final class ShippedWorkers
{
    /**
     * Folder below which the executables live, one sub-folder per platform.
     */
    public static final String RESOURCE_ROOT = "META-INF/polybridge/workers";

    /**
     * The Go worker's file name (handlers echo and wappalyzer.fingerprint).
     */
    public static final String GO = "polybridge-worker-go";

    /**
     * The Rust worker's file name (handlers echo and html.signals).
     */
    public static final String RUST = "polybridge-worker-rust";

    /**
     * Platforms this jar carries executables for.
     */
    public static final List<String> PLATFORMS = List.of("linux-x86_64");

    private ShippedWorkers()
    {
    }
}
