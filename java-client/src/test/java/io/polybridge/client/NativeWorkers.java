package io.polybridge.client;

import io.polybridge.codecs.Language;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Builds the worker binaries with their own toolchains (a no-op when they are up to date).
 * {@code -Dpolybridge.skipWorkerBuild=true} uses the binaries already built (by {@code make workers})
 * as they are, e.g. while someone else is editing a worker's source in the same tree.
 */
final class NativeWorkers
{
    private static boolean built;

    private NativeWorkers()
    {
    }

    static synchronized void build() throws IOException, InterruptedException
    {
        if (built)
        {
            return;
        }
        if (Boolean.getBoolean("polybridge.skipWorkerBuild"))
        {
            assertTrue(WorkerProcess.binary(Language.GO).toFile().canExecute(), "run make workers first");
            assertTrue(WorkerProcess.binary(Language.RUST).toFile().canExecute(), "run make workers first");
            built = true;
            return;
        }
        final Path root = Path.of(System.getProperty("polybridge.root", ".."));
        // CGO_ENABLED=0 as in make workers: this binary is also what the polybridge-workers jar ships.
        run(root.resolve("native-go"), List.of(
            "env", "CGO_ENABLED=0", "go", "build", "-o", "bin/polybridge-worker-go", "./cmd/polybridge-worker-go"));
        run(root.resolve("native-rust"), List.of(
            "./cargo.sh", "build", "--release", "--locked", "--bin", "polybridge-worker-rust"));
        assertTrue(WorkerProcess.binary(Language.GO).toFile().canExecute());
        assertTrue(WorkerProcess.binary(Language.RUST).toFile().canExecute());
        built = true;
    }

    private static void run(final Path dir, final List<String> command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command).directory(dir.toFile()).inheritIO().start();
        assertTrue(process.waitFor(20, TimeUnit.MINUTES), () -> command + " did not finish in 20 minutes");
        assertEquals(0, process.exitValue(), () -> command + " failed in " + dir);
    }
}
