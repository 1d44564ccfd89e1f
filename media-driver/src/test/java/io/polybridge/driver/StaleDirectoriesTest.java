package io.polybridge.driver;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Stale directory reclaim, in a scratch base directory so other drivers on the machine are never
 * at stake: directories of dead drivers go, a live driver's directory and anything that is not a
 * polybridge driver directory stay, and links are never followed.
 */
class StaleDirectoriesTest
{
    private Path base;
    private MediaDriver live;

    @BeforeEach
    void base() throws IOException
    {
        base = Files.createTempDirectory(DriverDirectories.sharedMemoryBase(), "reclaim-test-");
    }

    @AfterEach
    void cleanUp() throws IOException
    {
        CloseHelper.close(live);
        DriverDirectories.deleteTree(base);
    }

    @Test
    void reclaimRemovesDeadDriversDirectoriesAndNeverALiveOne() throws Exception
    {
        final Path liveDir = base.resolve("polybridge-live");
        live = PolybridgeMediaDriver.launch(PolybridgeMediaDriver.context().aeronDirectoryName(liveDir.toString()));

        final Path closedDir = base.resolve("polybridge-closed");
        closedWithoutDeleting(closedDir);
        final Path embeddedDir = base.resolve("polybridge-embedded");
        Files.createDirectory(embeddedDir);
        closedWithoutDeleting(embeddedDir.resolve("aeron"));

        final Path killedDir = base.resolve("polybridge-killed");
        ChildJvm.standaloneDriver(killedDir, Path.of("target", "stale-directories", "killed.log")).kill();
        final long killedNs = System.nanoTime();

        final Path notADriver = base.resolve("polybridge-notes");
        Files.createDirectory(notADriver);
        Files.writeString(notADriver.resolve("notes.txt"), "mine");
        final Path otherPrefix = base.resolve("aeron-closed");
        closedWithoutDeleting(otherPrefix);
        final Path link = Files.createSymbolicLink(base.resolve("polybridge-link"), otherPrefix);
        final Path youngEmpty = Files.createDirectory(base.resolve("polybridge-starting"));
        final Path oldEmpty = Files.createDirectory(base.resolve("polybridge-abandoned"));
        Files.setLastModifiedTime(oldEmpty, FileTime.from(Instant.now().minusSeconds(120)));

        // A SIGKILLed driver's heartbeat must first be older than the driver timeout (1 s).
        final long waitMs = PolybridgeMediaDriver.DEFAULT_DRIVER_TIMEOUT_MS + 500 -
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
        if (waitMs > 0)
        {
            Thread.sleep(waitMs);
        }

        assertTrue(PolybridgeMediaDriver.isDriverActive(liveDir.toString()));
        assertTrue(!PolybridgeMediaDriver.isDriverActive(killedDir.toString()) &&
            !PolybridgeMediaDriver.isDriverActive(closedDir.toString()) &&
            !PolybridgeMediaDriver.isDriverActive(base.resolve("nowhere").toString()));

        final List<Path> removed = PolybridgeMediaDriver.reclaimStaleDirectories(base);

        assertEquals(Set.of(closedDir, embeddedDir, killedDir, oldEmpty), new HashSet<>(removed));
        for (final Path kept : List.of(liveDir.resolve("cnc.dat"), notADriver.resolve("notes.txt"),
            otherPrefix.resolve("cnc.dat"), link, youngEmpty))
        {
            assertTrue(Files.exists(kept, java.nio.file.LinkOption.NOFOLLOW_LINKS), kept + " was removed");
        }
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(liveDir.toString())))
        {
            assertTrue(aeron.clientId() >= 0, "the live driver still serves");
        }
        assertEquals(List.of(), PolybridgeMediaDriver.reclaimStaleDirectories(base), "a second pass finds nothing");
    }

    @Test
    void launchingADriverWhereADeadOneWasReplacesItAndALiveOneIsRefused()
    {
        final Path dir = base.resolve("polybridge-reused");
        closedWithoutDeleting(dir);
        live = PolybridgeMediaDriver.launch(PolybridgeMediaDriver.context().aeronDirectoryName(dir.toString()));
        assertEquals(DriverDirectories.State.ACTIVE, DriverDirectories.state(dir, 1000));

        final RuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
            () -> PolybridgeMediaDriver.launch(PolybridgeMediaDriver.context().aeronDirectoryName(dir.toString())));
        assertTrue(refused.getMessage().contains("Active media driver"), refused.getMessage());
        assertTrue(Files.exists(dir.resolve("cnc.dat")), "the live driver's directory was touched");
    }

    @Test
    void aStoppedProcessCountsAsAliveSoItsSilentDriverIsKept() throws Exception
    {
        final Process sleeper = new ProcessBuilder("sleep", "60").start();
        try
        {
            assertTrue(!DriverDirectories.isStopped(sleeper.pid()));
            new ProcessBuilder("kill", "-STOP", Long.toString(sleeper.pid())).start().waitFor();
            ChildJvm.awaitTrue(() -> DriverDirectories.isStopped(sleeper.pid()), "sleep stopped");
        }
        finally
        {
            sleeper.destroyForcibly();
            sleeper.waitFor();
        }
    }

    private static void closedWithoutDeleting(final Path aeronDir)
    {
        PolybridgeMediaDriver.launch(PolybridgeMediaDriver.context()
            .aeronDirectoryName(aeronDir.toString())
            .dirDeleteOnShutdown(false)).close();
    }
}
