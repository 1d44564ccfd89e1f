package io.polybridge.driver;

import io.aeron.Aeron;
import io.aeron.Publication;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static io.polybridge.driver.ChildJvm.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Aeron creates the driver's files with the process's umask; under the common 022 they would be
 * readable by everyone. Both drivers run here in a child JVM under umask 022, and every directory
 * and file they create, including a publication's log buffer created later, must be owner-only.
 */
class OwnerOnlyTest
{
    private static final Path LOGS = Path.of("target", "owner-only");

    private Path scratch;

    @BeforeEach
    void scratch() throws IOException
    {
        scratch = Files.createTempDirectory(DriverDirectories.sharedMemoryBase(), "owner-only-test-");
    }

    @AfterEach
    void removeScratch() throws IOException
    {
        DriverDirectories.deleteTree(scratch);
    }

    @Test
    void embeddedDriverKeepsEverythingOwnerOnlyUnderUmask022() throws Exception
    {
        final Path dirFile = scratch.resolve("dir.txt");
        final Path aeronDir;
        try (ChildJvm child = ChildJvm.start(LOGS.resolve("embedded.log"), List.of(), Probes.EmbeddedDriver.class,
            dirFile.toString()))
        {
            awaitTrue(() -> Files.exists(dirFile) || !child.process.isAlive(), "embedded driver started");
            assertTrue(child.process.isAlive(), "the probe exited; see " + LOGS.resolve("embedded.log"));
            assertUmask022(child.process);
            aeronDir = Path.of(Files.readString(dirFile, StandardCharsets.UTF_8));
            assertEquals(PolybridgeMediaDriver.OWNER_DIR, Files.getPosixFilePermissions(aeronDir.getParent()));
            assertOwnerOnlyWithAPublication(aeronDir);
            child.process.getOutputStream().close(); // the probe closes its driver and exits
            assertEquals(0, child.process.waitFor());
        }
        assertFalse(Files.exists(aeronDir.getParent()), "the embedded driver left its directory behind");
    }

    @Test
    void standaloneDriverKeepsEverythingOwnerOnlyUnderUmask022() throws Exception
    {
        final Path aeronDir = scratch.resolve("polybridge-standalone");
        try (ChildJvm driver = ChildJvm.standaloneDriver(aeronDir, LOGS.resolve("standalone.log")))
        {
            assertUmask022(driver.process);
            assertOwnerOnlyWithAPublication(aeronDir);
        }
        assertFalse(Files.exists(aeronDir), "the standalone driver left its directory behind");
    }

    /** Opens a publication (the driver creates its log buffer) and checks every mode in the directory. */
    private static void assertOwnerOnlyWithAPublication(final Path aeronDir) throws IOException
    {
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString())
            .errorHandler((error) -> { }));
            Publication publication = aeron.addPublication("aeron:ipc", 4242))
        {
            final Path publications = aeronDir.resolve("publications");
            awaitTrue(() -> logBuffers(publications).stream().anyMatch(OwnerOnlyTest::isOwnerOnlyFile),
                "the log buffer of publication " + publication.registrationId() + " is owner-only");

            assertEquals(PolybridgeMediaDriver.OWNER_DIR, Files.getPosixFilePermissions(aeronDir), "the directory");
            assertEquals(PolybridgeMediaDriver.OWNER_FILE, Files.getPosixFilePermissions(aeronDir.resolve("cnc.dat")));
            assertEquals(PolybridgeMediaDriver.OWNER_FILE,
                Files.getPosixFilePermissions(aeronDir.resolve("loss-report.dat")));
            assertEquals(PolybridgeMediaDriver.OWNER_DIR, Files.getPosixFilePermissions(publications));
            try (Stream<Path> paths = Files.walk(aeronDir))
            {
                for (final Path path : paths.toList())
                {
                    final Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(path);
                    assertTrue(PolybridgeMediaDriver.OWNER_DIR.containsAll(permissions),
                        () -> path + " is open to others: " + PosixFilePermissions.toString(permissions));
                }
            }
        }
    }

    private static List<Path> logBuffers(final Path publications)
    {
        try (Stream<Path> files = Files.list(publications))
        {
            return files.filter((path) -> path.toString().endsWith(".logbuffer")).toList();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    private static boolean isOwnerOnlyFile(final Path path)
    {
        try
        {
            return PolybridgeMediaDriver.OWNER_FILE.equals(Files.getPosixFilePermissions(path));
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    /** The child really runs under umask 022 (Linux reports it in /proc/PID/status). */
    private static void assertUmask022(final Process process) throws IOException
    {
        final List<String> status = Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"));
        assertTrue(status.contains("Umask:\t0022"), "the child's umask: " +
            status.stream().filter((line) -> line.startsWith("Umask")).toList());
    }
}
