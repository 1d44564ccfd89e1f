package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.IoUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The standalone media driver ({@link PolybridgeMediaDriver#main}) in a child JVM, and a
 * {@link Bridge} pointed at it by configuration: first spawning its own workers, then using a
 * worker started by someone else.
 */
class BridgeExternalDriverTest
{
    /** Served again after a driver restart: generous for a loaded 2-core machine, below the 10 s driver timeout. */
    private static final long SERVED_AGAIN_BOUND_MS = 6_000;

    private Path aeronDir;
    private Process driver;

    @BeforeAll
    static void buildWorkers() throws Exception
    {
        NativeWorkers.build();
    }

    @BeforeEach
    void startStandaloneDriver() throws Exception
    {
        aeronDir = Path.of(Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : System.getProperty("java.io.tmpdir"),
            "polybridge-external-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        driver = startDriver(aeronDir);
    }

    private static Process startDriver(final Path aeronDir) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "-Daeron.dir=" + aeronDir,
            "-cp", System.getProperty("java.class.path"),
            PolybridgeMediaDriver.class.getName()));
        final Process driver = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(Path.of("target", "external-driver.log").toFile()))
            .start();
        BridgeLifecycleTest.awaitTrue(() -> io.aeron.CommonContext.isDriverActive(aeronDir.toFile(), 1_000,
            (message) -> { }) || !driver.isAlive(), "standalone driver started");
        assertTrue(driver.isAlive(), "standalone driver exited; see target/external-driver.log");
        return driver;
    }

    @AfterEach
    void stopStandaloneDriver() throws Exception
    {
        driver.destroy(); // SIGTERM: the driver stops, deletes its directory and exits
        final boolean exited = driver.waitFor(30, TimeUnit.SECONDS);
        if (!exited)
        {
            driver.destroyForcibly();
            driver.waitFor();
        }
        final boolean left = Files.exists(aeronDir);
        IoUtil.delete(aeronDir.toFile(), true);
        assertTrue(exited, "the standalone driver did not exit within 30 s of SIGTERM; see target/external-driver.log");
        assertFalse(left, "the standalone driver left its directory behind: " + aeronDir);
    }

    @Test
    void bridgePointedAtAStandaloneDriverSpawnsItsWorkersThereAndStopsThemButNotTheDriver()
    {
        final List<ProcessHandle> workers;
        try (Bridge bridge = Bridge.launch(NativeWorkers.context(1, 1).aeronDirectoryName(aeronDir.toString())))
        {
            assertEquals(aeronDir.toString(), bridge.aeronDirectoryName());
            workers = List.copyOf(bridge.processes().values());
            assertArrayEquals(new byte[]{ 4 }, bridge.call("echo", new byte[]{ 4 }).join());
        }
        for (final ProcessHandle worker : workers)
        {
            assertFalse(worker.isAlive(), "worker " + worker.pid() + " outlived the bridge");
        }
        assertTrue(driver.isAlive(), "closing the bridge must not stop an external driver");
        assertTrue(Files.exists(aeronDir));
    }

    @Test
    void bridgeWithNoSpawnedWorkersUsesAWorkerStartedBySomeoneElse()
    {
        try (WorkerProcess someoneElses = WorkerProcess.start(NativeWorkers.binary(Language.RUST),
            aeronDir.toString(), "rust-external", 250, Path.of("target", "worker-logs", "rust-external.log"));
            Bridge bridge = Bridge.launch(new Bridge.Context()
                .aeronDirectoryName(aeronDir.toString())
                .livenessTimeout(Duration.ofSeconds(5)) // it announces every second
                .awaitHandlers("echo")))
        {
            assertTrue(bridge.processes().isEmpty());
            assertArrayEquals(new byte[]{ 5 }, bridge.call("echo", new byte[]{ 5 }, Duration.ofSeconds(30)).join());
            assertEquals("rust-external", bridge.liveWorkers().get(0).workerId());
        }
    }

    @Test
    void killNineOfTheDriverFailsCallsFastKeepsTheHostAliveAndARestartedDriverIsServedAgain() throws Exception
    {
        final Bridge.Context ctx = new Bridge.Context().aeronDirectoryName(aeronDir.toString())
            .worker(NativeWorkers.go()).worker(NativeWorkers.rust().options("--debug-handlers"));
        try (Bridge bridge = Bridge.launch(ctx))
        {
            assertArrayEquals(new byte[]{ 1 }, bridge.call("echo", new byte[]{ 1 }).join());
            final CompletableFuture<byte[]> inFlight =
                bridge.call("debug.sleep", BridgeLifecycleTest.littleEndian(30_000), Duration.ofSeconds(60));
            final CompletableFuture<Long> failedAtNs = inFlight.handle((r, e) -> System.nanoTime());

            final long killNs = System.nanoTime();
            driver.destroyForcibly(); // kill -9
            driver.waitFor();
            final PolybridgeException lost = BridgeLifecycleTest.failure(inFlight);
            final long failMs = TimeUnit.NANOSECONDS.toMillis(failedAtNs.get() - killNs);
            assertEquals(ErrorCode.WORKER_UNAVAILABLE, lost.errorCode(), lost.getMessage());
            assertTrue(failMs < 2_000, "the call in flight failed " + failMs + " ms after the driver died");
            BridgeLifecycleTest.awaitTrue(() -> bridge.workerStates().stream()
                .allMatch((s) -> s.status() == WorkerState.Status.DRIVER_LOST), "every worker DRIVER_LOST");
            final PolybridgeException refused = BridgeLifecycleTest.failure(bridge.call("echo", new byte[]{ 2 }));
            assertEquals(ErrorCode.WORKER_UNAVAILABLE, refused.errorCode());
            assertTrue(refused.getMessage().contains(aeronDir.toString()), refused.getMessage());

            final long restartNs = System.nanoTime();
            driver = startDriver(aeronDir); // the same directory
            final long upNs = System.nanoTime(); // the restarted driver answers
            long servedNs = 0;
            while (servedNs == 0 && System.nanoTime() - restartNs < TimeUnit.SECONDS.toNanos(30))
            {
                final CompletableFuture<byte[]> call = bridge.call("echo", new byte[]{ 3 }, Duration.ofSeconds(5));
                try
                {
                    call.get(10, TimeUnit.SECONDS);
                    servedNs = System.nanoTime();
                }
                catch (final java.util.concurrent.ExecutionException ex)
                {
                    // while the workers are respawned: WORKER_UNAVAILABLE "(re)starting", never NOT_FOUND
                    assertEquals(ErrorCode.WORKER_UNAVAILABLE, ((PolybridgeException)ex.getCause()).errorCode(),
                        ex.getCause().getMessage());
                    TimeUnit.MILLISECONDS.sleep(50);
                }
            }
            final long servedMs = TimeUnit.NANOSECONDS.toMillis(servedNs - restartNs);
            final long servedAfterUpMs = TimeUnit.NANOSECONDS.toMillis(servedNs - upNs);
            System.out.println("driver kill -9: in-flight call failed after " + failMs + " ms; served again " +
                servedMs + " ms after the driver restarted, " + servedAfterUpMs + " ms after it answered");
            assertTrue(servedNs != 0, "not served again within 30 s of the driver's restart: " + bridge.workerStates());
            // ~1-3 s (the 250 ms poll, the workers' start); reconnecting to the dead driver's files took 10 s
            assertTrue(servedAfterUpMs < SERVED_AGAIN_BOUND_MS, "served again " + servedAfterUpMs +
                " ms after the restarted driver answered; expected < " + SERVED_AGAIN_BOUND_MS + " ms");
            assertArrayEquals(new byte[]{ 6 }, bridge.call("echo", new byte[]{ 6 }, Duration.ofSeconds(30)).join());
            BridgeLifecycleTest.awaitTrue(() -> bridge.workerStates().stream()
                .allMatch((s) -> s.status() == WorkerState.Status.LIVE), "every worker LIVE again");
        }
    }
}
