package io.polybridge.driver;

import io.aeron.driver.MediaDriver;
import org.agrona.CloseHelper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * A media driver inside this JVM, in a private directory of its own that is removed on close.
 * <p>
 * The Aeron directory is created inside a new owner-only ({@code rwx------}) directory under
 * /dev/shm (or java.io.tmpdir where there is no /dev/shm), so no other user can open the driver's
 * files even in the moment before their permissions are tightened; those are then kept owner-only
 * (see {@link PolybridgeMediaDriver#launch(MediaDriver.Context)}). Launching first removes stale
 * polybridge directories whose driver is dead ({@link #reclaimStaleDirectories()}).
 */
public final class EmbeddedMediaDriver implements AutoCloseable
{
    private final Path privateDir;
    private final MediaDriver driver;
    private final OwnerOnlyGuard guard;

    private EmbeddedMediaDriver(final Path privateDir, final PolybridgeMediaDriver.Guarded guarded)
    {
        this.privateDir = privateDir;
        this.driver = guarded.driver();
        this.guard = guarded.guard();
    }

    /**
     * Remove stale polybridge driver directories of this user (their driver dead), as
     * {@link #launch()} does first; never a live driver's. See
     * {@link PolybridgeMediaDriver#reclaimStaleDirectories()}.
     *
     * @return the directories removed.
     */
    public static List<Path> reclaimStaleDirectories()
    {
        return PolybridgeMediaDriver.reclaimStaleDirectories();
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
        reclaimStaleDirectories();
        final Path privateDir = createPrivateDirectory();
        try
        {
            ctx.aeronDirectoryName(privateDir.resolve("aeron").toString()).dirDeleteOnShutdown(true);
            return new EmbeddedMediaDriver(privateDir, PolybridgeMediaDriver.launchGuarded(ctx));
        }
        catch (final RuntimeException ex)
        {
            deletePrivateDirectory(privateDir);
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
            CloseHelper.closeAll(driver, guard);
        }
        finally
        {
            deletePrivateDirectory(privateDir);
        }
    }

    private static void deletePrivateDirectory(final Path privateDir)
    {
        try
        {
            DriverDirectories.deleteTree(privateDir);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not remove the media driver's directory " + privateDir, ex);
        }
    }

    private static Path createPrivateDirectory()
    {
        final Path base = DriverDirectories.sharedMemoryBase();
        try
        {
            return Files.createTempDirectory(
                base, DriverDirectories.PREFIX, PosixFilePermissions.asFileAttribute(PolybridgeMediaDriver.OWNER_DIR));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not create a private directory for the media driver in " + base, ex);
        }
    }
}
