package io.polybridge.client;

import io.polybridge.codecs.Language;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library's test workers (echo and the debug handlers, built on the Go and Rust SDKs) for the
 * tests: where the checkout's build puts them, their {@link WorkerSpec}s, and building them with their
 * own toolchains (a no-op when they are up to date). {@code -Dpolybridge.skipWorkerBuild=true} uses
 * the binaries already built (by {@code make workers}) as they are, e.g. while someone else is editing
 * a worker's source in the same tree. {@code -Dpolybridge.worker.go} / {@code -Dpolybridge.worker.rust}
 * name other binaries.
 */
final class NativeWorkers
{
    private static boolean built;

    private NativeWorkers()
    {
    }

    private static Path root()
    {
        return Path.of(System.getProperty("polybridge.root", ".."));
    }

    /**
     * @param language GO or RUST.
     * @return the library test worker's binary in the checkout.
     */
    static Path binary(final Language language)
    {
        return switch (language)
        {
            case GO -> Path.of(System.getProperty("polybridge.worker.go",
                root().resolve("native-go/bin/polybridge-worker-go").toString()));
            case RUST -> Path.of(System.getProperty("polybridge.worker.rust",
                root().resolve("native-rust/target/release/polybridge-worker-rust").toString()));
            default -> throw new IllegalArgumentException("no test worker for " + language);
        };
    }

    /** The Go test worker: instances go-0, go-1, ... first on request streams 100, 101, ... */
    static WorkerSpec go()
    {
        return new WorkerSpec("go", binary(Language.GO)).firstRequestStream(100);
    }

    /** The Rust test worker: instances rust-0, rust-1, ... first on request streams 200, 201, ... */
    static WorkerSpec rust()
    {
        return new WorkerSpec("rust", binary(Language.RUST)).firstRequestStream(200);
    }

    /** A bridge context spawning this many Go and Rust test workers. */
    static Bridge.Context context(final int goInstances, final int rustInstances)
    {
        final Bridge.Context ctx = new Bridge.Context();
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

    static synchronized void build() throws IOException, InterruptedException
    {
        if (built)
        {
            return;
        }
        if (Boolean.getBoolean("polybridge.skipWorkerBuild"))
        {
            assertTrue(binary(Language.GO).toFile().canExecute(), "run make workers first");
            assertTrue(binary(Language.RUST).toFile().canExecute(), "run make workers first");
            built = true;
            return;
        }
        final Path root = root();
        // CGO_ENABLED=0 as in make workers. One Go module at the root once go.mod moved there.
        if (Files.exists(root.resolve("go.mod")))
        {
            run(root, List.of("env", "CGO_ENABLED=0", "go", "build", "-o", "native-go/bin/polybridge-worker-go",
                "./native-go/cmd/polybridge-worker-go"));
        }
        else
        {
            run(root.resolve("native-go"), List.of(
                "env", "CGO_ENABLED=0", "go", "build", "-o", "bin/polybridge-worker-go", "./cmd/polybridge-worker-go"));
        }
        run(root.resolve("native-rust"), List.of(
            "./cargo.sh", "build", "--release", "--locked", "--bin", "polybridge-worker-rust"));
        assertTrue(binary(Language.GO).toFile().canExecute());
        assertTrue(binary(Language.RUST).toFile().canExecute());
        built = true;
    }

    private static void run(final Path dir, final List<String> command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command).directory(dir.toFile()).inheritIO().start();
        assertTrue(process.waitFor(20, TimeUnit.MINUTES), () -> command + " did not finish in 20 minutes");
        assertEquals(0, process.exitValue(), () -> command + " failed in " + dir);
    }
}
