package io.polybridge.client;

import io.polybridge.driver.EmbeddedMediaDriver;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JVM that owns a {@link Bridge} dies: by SIGTERM, its shutdown hook closes the bridge (workers
 * stopped, shared memory removed); by SIGKILL, no hook runs, so the workers notice on their own
 * ({@code --parent-pid}) and exit, and the next launch reclaims the dead driver's directory.
 */
class BridgeJvmDeathTest
{
    private static final long STARTUP_MS = 60_000;
    /** Workers check their parent every ~100-250 ms and must be gone within 1 s: 5 s on a loaded machine. */
    private static final long ORPHAN_EXIT_MS = 5_000;

    @BeforeAll
    static void buildWorkers() throws Exception
    {
        NativeWorkers.build();
    }

    @Test
    void sigtermRunsTheShutdownHookWhichStopsTheWorkersAndRemovesTheSharedMemory() throws Exception
    {
        try (ChildJvm child = serving())
        {
            final Path dir = Path.of(child.awaitLine("DIR ", STARTUP_MS));
            final List<ProcessHandle> workers = workers(child);
            child.process.destroy(); // SIGTERM
            assertTrue(child.awaitExit(30_000), () -> "the JVM did not exit on SIGTERM:\n" + child.output());
            for (final ProcessHandle worker : workers)
            {
                assertTrue(worker.onExit().get(ORPHAN_EXIT_MS, TimeUnit.MILLISECONDS) != null);
            }
            assertFalse(Files.exists(dir), "shared memory left in " + dir);
            assertFalse(Files.exists(dir.getParent()), "private directory left: " + dir.getParent());
            assertEquals(List.of(), ChildJvm.processesMentioning(dir.toString()), "processes left behind");
        }
    }

    @Test
    void sigkillLeavesNoWorkerAndTheNextLaunchReclaimsTheDeadDriversDirectory() throws Exception
    {
        try (ChildJvm child = serving())
        {
            final Path dir = Path.of(child.awaitLine("DIR ", STARTUP_MS));
            final List<ProcessHandle> workers = workers(child);
            child.process.destroyForcibly(); // SIGKILL: no hook runs
            assertTrue(child.awaitExit(30_000));
            final long killedNs = System.nanoTime();
            // Checked at once: a dead driver's directory may be reclaimed by any launch on the machine (other
            // test JVMs run in parallel) once its heartbeat is 1 s old, while the workers take ~1.5 s to go.
            assertTrue(Files.exists(dir), "nothing could have removed " + dir + " yet");
            for (final ProcessHandle worker : workers)
            {
                worker.onExit().get(ORPHAN_EXIT_MS, TimeUnit.MILLISECONDS);
            }
            final long orphanMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
            System.out.println("workers of a SIGKILLed JVM exited within " + orphanMs + " ms");

            // Its heartbeat must be older than the driver timeout before anyone may take it for dead.
            BridgeLifecycleTest.awaitTrue(() ->
            {
                EmbeddedMediaDriver.reclaimStaleDirectories();
                try (Bridge next = Bridge.launch(new Bridge.Context()))
                {
                    return !Files.exists(dir.getParent());
                }
            }, "the next launch reclaims " + dir.getParent());
            assertEquals(List.of(), ChildJvm.processesMentioning(dir.toString()), "processes left behind");
        }
    }

    private static ChildJvm serving() throws Exception
    {
        return ChildJvm.start(BridgeChild.class, Path.of("").toAbsolutePath(), List.of(
            "polybridge.root=" + Path.of(System.getProperty("polybridge.root", "..")).toAbsolutePath()), "serve");
    }

    private static List<ProcessHandle> workers(final ChildJvm child)
    {
        final List<ProcessHandle> workers = new ArrayList<>();
        for (final String pid : child.awaitLine("PIDS ", STARTUP_MS).trim().split(" "))
        {
            workers.add(ProcessHandle.of(Long.parseLong(pid)).orElseThrow());
        }
        assertEquals(2, workers.size());
        return workers;
    }
}
