package io.polybridge.driver;

import io.aeron.Aeron;
import io.aeron.driver.ThreadingMode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddedMediaDriverTest
{
    @Test
    void directoryIsOwnerOnlyWhileRunningAndGoneAfterClose() throws IOException
    {
        final Path aeronDir;
        final Path privateDir;
        try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch())
        {
            aeronDir = Path.of(driver.aeronDirectoryName());
            privateDir = aeronDir.getParent();
            assertEquals(PolybridgeMediaDriver.OWNER_DIR, Files.getPosixFilePermissions(privateDir));
            try (Stream<Path> paths = Files.walk(aeronDir))
            {
                for (final Path path : paths.toList())
                {
                    final Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(path);
                    assertTrue(
                        PolybridgeMediaDriver.OWNER_DIR.containsAll(permissions),
                        () -> path + " is readable by others: " + permissions);
                }
            }
            assertTrue(Files.exists(aeronDir.resolve("cnc.dat")));
        }
        assertFalse(Files.exists(aeronDir), "aeron directory left behind");
        assertFalse(Files.exists(privateDir), "private directory left behind");
    }

    @Test
    void defaultsSuitASmallMachineAndAllowMegabytePayloads()
    {
        try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch())
        {
            assertEquals(ThreadingMode.SHARED, driver.context().threadingMode());
            assertEquals(PolybridgeMediaDriver.DEFAULT_IPC_TERM_LENGTH, driver.context().ipcTermBufferLength());

            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
                var publication = aeron.addPublication("aeron:ipc", 1))
            {
                assertTrue(publication.maxMessageLength() >= 1024 * 1024 + 1024);
            }
        }
    }
}
