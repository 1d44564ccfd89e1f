package io.polybridge.driver;

import io.aeron.driver.MediaDriver;
import org.agrona.IoUtil;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A media driver inside this JVM, in a private directory of its own that is removed on close.
 * <p>
 * The Aeron directory is created inside a new owner-only ({@code rwx------}) directory under
 * /dev/shm (or java.io.tmpdir where there is no /dev/shm), so no other user can open the driver's
 * files even in the moment before their permissions are tightened.
 */
public final class EmbeddedMediaDriver implements AutoCloseable
{
    private final Path privateDir;
    private final MediaDriver driver;

    private EmbeddedMediaDriver(final Path privateDir, final MediaDriver driver)
    {
        this.privateDir = privateDir;
        this.driver = driver;
    }

    /**
     * Launch with {@link PolybridgeMediaDriver#context()} settings in a new private directory.
     *
     * @return the running driver.
     */
    public static EmbeddedMediaDriver launch()
    {
        return launch(PolybridgeMediaDriver.context());
    }

    /**
     * Launch with the given settings; its Aeron directory is replaced by a new private one.
     *
     * @param ctx the driver settings.
     * @return the running driver.
     */
    public static EmbeddedMediaDriver launch(final MediaDriver.Context ctx)
    {
        final Path privateDir = createPrivateDirectory();
        try
        {
            ctx.aeronDirectoryName(privateDir.resolve("aeron").toString()).dirDeleteOnShutdown(true);
            return new EmbeddedMediaDriver(privateDir, PolybridgeMediaDriver.launch(ctx));
        }
        catch (final RuntimeException ex)
        {
            IoUtil.delete(privateDir.toFile(), true);
            throw ex;
        }
    }

    /**
     * @return the directory clients and workers must be given to reach this driver.
     */
    public String aeronDirectoryName()
    {
        return driver.aeronDirectoryName();
    }

    /**
     * @return the driver's context, for its settings.
     */
    public MediaDriver.Context context()
    {
        return driver.context();
    }

    /** Stop the driver and remove its directory. */
    public void close()
    {
        try
        {
            driver.close();
        }
        finally
        {
            IoUtil.delete(privateDir.toFile(), true);
        }
    }

    private static Path createPrivateDirectory()
    {
        final Path shm = Path.of("/dev/shm");
        final Path base = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        try
        {
            return Files.createTempDirectory(
                base, "polybridge-", PosixFilePermissions.asFileAttribute(PolybridgeMediaDriver.OWNER_DIR));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not create a private directory for the media driver in " + base, ex);
        }
    }
}
