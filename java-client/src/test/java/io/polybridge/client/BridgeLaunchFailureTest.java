package io.polybridge.client;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A launch that fails says why and what to do, and leaves nothing: no process (not even a wrapper
 * script's child), no shared memory, no thread that keeps the JVM alive. Each case runs in a child
 * JVM ({@link BridgeChild}) whose main returns without System.exit: it must end by itself.
 */
class BridgeLaunchFailureTest
{
    private static final Pattern DRIVER_DIR = Pattern.compile("embedded media driver in (\\S+) is closed");
    private static final long EXIT_MS = 60_000;

    @BeforeAll
    static void buildWorkers() throws Exception
    {
        NativeWorkers.build();
    }

    @Test
    void outsideTheRepositoryTheLaunchSaysWhereTheBinaryWasLookedForAndTheJvmExitsLeavingNoSharedMemory(
        @TempDir final Path elsewhere) throws Exception
    {
        try (ChildJvm child = ChildJvm.start(BridgeChild.class, elsewhere, List.of(), "launch"))
        {
            final String failure = child.awaitLine("FAILED ", EXIT_MS);
            assertTrue(failure.contains("could not launch the bridge") &&
                failure.contains("is missing or not executable") && failure.contains(elsewhere.toString()), failure);
            assertExitsLeavingNothing(child, failure);
        }
    }

    @Test
    void aWorkerThatExitsBeforeAnnouncingFailsTheLaunchWithItsExitCodeAndOutputAndTheJvmExits() throws Exception
    {
        try (ChildJvm child = ChildJvm.start(BridgeChild.class, Path.of("").toAbsolutePath(), rootProperty(),
            "bogus-option"))
        {
            final String failure = child.awaitLine("FAILED ", EXIT_MS);
            assertTrue(failure.contains("worker 'go-0'") && failure.contains("exited with code 2 before announcing"),
                failure);
            assertTrue(failure.contains("no-such-option"), "the worker's own complaint is quoted: " + failure);
            assertExitsLeavingNothing(child, failure);
        }
    }

    @Test
    void aWorkerStartedThroughAWrapperScriptDoesNotOutliveAFailedLaunch() throws Exception
    {
        try (ChildJvm child = ChildJvm.start(BridgeChild.class, Path.of("").toAbsolutePath(), rootProperty(),
            "wrapper-then-failure"))
        {
            final String failure = child.awaitLine("FAILED ", EXIT_MS);
            assertTrue(failure.contains("worker 'rust-0'") && failure.contains("before announcing"), failure);
            assertExitsLeavingNothing(child, failure);
        }
    }

    private static List<String> rootProperty()
    {
        return List.of("polybridge.root=" + Path.of(System.getProperty("polybridge.root", "..")).toAbsolutePath());
    }

    private static void assertExitsLeavingNothing(final ChildJvm child, final String failure) throws Exception
    {
        assertTrue(child.awaitExit(EXIT_MS), () -> "the JVM did not exit by itself after the failed launch; " +
            "its output:\n" + child.output());
        assertEquals(0, child.process.exitValue(), child::output);
        assertTrue(child.output().contains("MAIN RETURNED"), child::output);
        final Matcher dir = DRIVER_DIR.matcher(failure);
        assertTrue(dir.find(), "the message names the driver's directory: " + failure);
        final Path aeronDir = Path.of(dir.group(1));
        assertFalse(Files.exists(aeronDir), "shared memory left in " + aeronDir);
        assertFalse(Files.exists(aeronDir.getParent()), "private directory left: " + aeronDir.getParent());
        assertEquals(List.of(), ChildJvm.processesMentioning(aeronDir.toString()).stream()
            .map((p) -> p.pid() + " " + p.info().commandLine().orElse("?")).toList(), "processes left behind");
    }
}
