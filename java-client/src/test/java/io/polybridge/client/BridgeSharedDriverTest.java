package io.polybridge.client;

import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.IoUtil;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two {@link Bridge}s on one standalone media driver (a child JVM), as the chaos harness runs a host
 * and a neighbour: before request streams were unique per bridge on an external driver both bridges'
 * first Rust incarnations read stream 200, every call was executed twice and one bridge tracked, and
 * at close signalled, the other's worker.
 */
class BridgeSharedDriverTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    @BeforeAll
    static void buildWorkers() throws Exception
    {
        NativeWorkers.build();
    }

    @Test
    void twoBridgesOnOneExternalDriverUseDistinctStreamsAnswerOnceAndCloseOnlyTheirOwnWorkers() throws Exception
    {
        final Path aeronDir = Path.of(Files.isDirectory(Path.of("/dev/shm")) ?
            "/dev/shm" : System.getProperty("java.io.tmpdir"),
            "polybridge-shared-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        final Process driver = startDriver(aeronDir);
        Bridge first = null;
        Bridge second = null;
        try
        {
            first = Bridge.launch(context(aeronDir));
            second = Bridge.launch(context(aeronDir));

            final List<WorkerState> states = new ArrayList<>(first.workerStates());
            states.addAll(second.workerStates());
            final Set<Integer> streams = new HashSet<>();
            for (final WorkerState state : states)
            {
                assertEquals(WorkerState.Status.LIVE, state.status(), state.toString());
                assertNotEquals(200, state.requestStreamId(), "fixed first stream on a shared driver: " + state);
                assertTrue(streams.add(state.requestStreamId()), "request streams shared: " + states);
            }
            final ProcessHandle firstWorker = first.processes().get("rust-0");
            final ProcessHandle secondWorker = second.processes().get("rust-0");
            assertNotEquals(firstWorker.pid(), secondWorker.pid());

            callEachOnce(first, (byte)1);
            callEachOnce(second, (byte)2);

            first.close();
            first = null;
            BridgeLifecycleTest.awaitTrue(() -> !firstWorker.isAlive(), "the first bridge's worker stopped");
            assertTrue(secondWorker.isAlive(), "closing the first bridge stopped the second's worker " +
                secondWorker.pid());
            final Bridge survivor = second;
            // The survivor's client saw the first bridge's worker too (any announced worker is routable); it
            // is dropped once its announcements stop (the liveness timeout).
            BridgeLifecycleTest.awaitTrue(() -> survivor.client().links().stream()
                .noneMatch((link) -> link.live && link.info != null && link.info.pid() != secondWorker.pid()),
                "the first bridge's worker no longer live to the second");
            assertEquals(WorkerState.Status.LIVE, survivor.workerStates().get(0).status());
            callEachOnce(second, (byte)3);
            assertTrue(secondWorker.isAlive());
            assertEquals(0, second.restarts("rust-0"), "the second bridge's worker was restarted");
        }
        finally
        {
            try
            {
                if (first != null)
                {
                    first.close();
                }
            }
            finally
            {
                if (second != null)
                {
                    second.close();
                }
            }
            driver.destroy(); // SIGTERM: the driver stops and deletes its directory
            if (!driver.waitFor(30, TimeUnit.SECONDS))
            {
                driver.destroyForcibly();
                driver.waitFor();
            }
            IoUtil.delete(aeronDir.toFile(), true);
        }
    }

    private static Bridge.Context context(final Path aeronDir)
    {
        return NativeWorkers.context(0, 1).aeronDirectoryName(aeronDir.toString())
            .startTimeout(Duration.ofSeconds(60))
            .livenessTimeout(Duration.ofSeconds(5)); // not what this test is about: a loaded 2-core machine
    }

    /** Distinct payloads, each answered with itself; a second answer to any of them counts as unmatched. */
    private static void callEachOnce(final Bridge bridge, final byte tag) throws Exception
    {
        final long unmatchedBefore = bridge.client().unmatchedResponses();
        final List<CompletableFuture<byte[]>> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++)
        {
            calls.add(bridge.call("echo", new byte[]{ tag, (byte)i }, DEADLINE));
        }
        for (int i = 0; i < calls.size(); i++)
        {
            assertArrayEquals(new byte[]{ tag, (byte)i }, calls.get(i).get(60, TimeUnit.SECONDS));
        }
        TimeUnit.MILLISECONDS.sleep(500); // time for a duplicate answer to arrive
        assertEquals(unmatchedBefore, bridge.client().unmatchedResponses(), "duplicate answers");
    }

    private static Process startDriver(final Path aeronDir) throws Exception
    {
        final Process driver = new ProcessBuilder(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "-Daeron.dir=" + aeronDir,
            "-cp", System.getProperty("java.class.path"),
            PolybridgeMediaDriver.class.getName()))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(Path.of("target", "shared-driver.log").toFile()))
            .start();
        try
        {
            BridgeLifecycleTest.awaitTrue(() -> isDriverActive(aeronDir) || !driver.isAlive(),
                "standalone driver started");
            assertTrue(driver.isAlive(), "standalone driver exited; see target/shared-driver.log");
        }
        catch (final Throwable ex)
        {
            driver.destroyForcibly();
            driver.waitFor();
            IoUtil.delete(aeronDir.toFile(), true);
            throw ex;
        }
        return driver;
    }

    private static boolean isDriverActive(final Path aeronDir)
    {
        try
        {
            return io.aeron.CommonContext.isDriverActive(aeronDir.toFile(), 1_000, (message) -> { });
        }
        catch (final RuntimeException ex)
        {
            return false; // its cnc.dat exists but is not initialised yet
        }
    }
}
