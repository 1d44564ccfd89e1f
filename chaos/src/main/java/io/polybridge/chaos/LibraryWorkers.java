package io.polybridge.chaos;

import io.polybridge.client.Bridge;
import io.polybridge.client.WorkerSpec;

import java.nio.file.Path;

/**
 * The library's test workers (echo and the debug handlers) as the checkout's build puts them
 * ({@code make workers}): the chaos harness spawns them as worker ids go-0.. and rust-0.., as before
 * the library stopped shipping them. {@code -Dpolybridge.root} is the repository root (default: here).
 */
final class LibraryWorkers
{
    private LibraryWorkers()
    {
    }

    static Path go()
    {
        return Path.of(System.getProperty("polybridge.worker.go",
            root().resolve("native-go/bin/polybridge-worker-go").toString()));
    }

    static Path rust()
    {
        return Path.of(System.getProperty("polybridge.worker.rust",
            root().resolve("native-rust/target/release/polybridge-worker-rust").toString()));
    }

    /** Adds that many Go and Rust test workers, first on request streams 100.. and 200.. as before. */
    static Bridge.Context spawn(final Bridge.Context ctx, final int goInstances, final int rustInstances)
    {
        if (goInstances > 0)
        {
            ctx.worker(new WorkerSpec("go", go()).firstRequestStream(100).instances(goInstances));
        }
        if (rustInstances > 0)
        {
            ctx.worker(new WorkerSpec("rust", rust()).firstRequestStream(200).instances(rustInstances));
        }
        return ctx;
    }

    private static Path root()
    {
        return Path.of(System.getProperty("polybridge.root", "."));
    }
}
