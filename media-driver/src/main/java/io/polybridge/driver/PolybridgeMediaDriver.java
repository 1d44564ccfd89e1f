package io.polybridge.driver;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.ShutdownSignalBarrier;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Aeron's media driver with the settings polybridge is tuned and tested for.
 * <p>
 * Defaults, each overridden by its usual Aeron system property when that is set:
 * <ul>
 *     <li>{@code aeron.threading.mode=SHARED}: conductor, sender and receiver share one thread, so
 *     on a 2-core machine the driver leaves a core for the client and the workers;</li>
 *     <li>{@code aeron.shared.idle.strategy}: {@link BackoffIdleStrategy} that spins briefly, yields,
 *     then parks up to 1 ms, so an idle driver costs almost no CPU;</li>
 *     <li>{@code aeron.ipc.term.buffer.length=16m}: the largest message is a term / 8 = 2 MiB, room
 *     for a 1 MiB payload and its envelope, with a log of 48 MiB per publication;</li>
 *     <li>the directory is deleted when the driver closes, and is made readable and writable by
 *     its owner only once the driver has started.</li>
 * </ul>
 * For the lowest latency on a machine with cores to spare, run with
 * {@code -Daeron.threading.mode=DEDICATED} and
 * {@code -Daeron.conductor.idle.strategy=..., -Daeron.sender.idle.strategy=noop}-style busy-spin settings
 * (see media-driver/README.md).
 */
public final class PolybridgeMediaDriver
{
    /** IPC term length when {@code aeron.ipc.term.buffer.length} is not set: 16 MiB. */
    public static final int DEFAULT_IPC_TERM_LENGTH = 16 * 1024 * 1024;

    static final Set<PosixFilePermission> OWNER_DIR = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> OWNER_FILE = PosixFilePermissions.fromString("rw-------");

    private PolybridgeMediaDriver()
    {
    }

    /**
     * A driver context with polybridge's defaults applied where no system property says otherwise.
     *
     * @return a new context, not yet concluded.
     */
    public static MediaDriver.Context context()
    {
        final MediaDriver.Context ctx = new MediaDriver.Context();
        if (System.getProperty("aeron.threading.mode") == null)
        {
            ctx.threadingMode(ThreadingMode.SHARED);
        }
        if (System.getProperty("aeron.shared.idle.strategy") == null)
        {
            ctx.sharedIdleStrategy(new BackoffIdleStrategy(
                100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)));
        }
        if (System.getProperty("aeron.ipc.term.buffer.length") == null)
        {
            ctx.ipcTermBufferLength(DEFAULT_IPC_TERM_LENGTH);
        }
        if (System.getProperty("aeron.dir.delete.on.shutdown") == null)
        {
            ctx.dirDeleteOnShutdown(true);
        }
        return ctx;
    }

    /**
     * Launch a driver and restrict its directory to the owner.
     *
     * @param ctx the settings, usually from {@link #context()}.
     * @return the running driver; close it to stop it.
     */
    public static MediaDriver launch(final MediaDriver.Context ctx)
    {
        final MediaDriver driver = MediaDriver.launch(ctx);
        try
        {
            restrictToOwner(Path.of(driver.aeronDirectoryName()));
            return driver;
        }
        catch (final RuntimeException ex)
        {
            driver.close();
            throw ex;
        }
    }

    /**
     * Make a directory tree readable and writable by its owner only: the driver's files are shared
     * memory that any process able to open them could read or corrupt.
     *
     * @param dir the directory to restrict.
     */
    public static void restrictToOwner(final Path dir)
    {
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path path : paths.toList())
            {
                Files.setPosixFilePermissions(path, Files.isDirectory(path) ? OWNER_DIR : OWNER_FILE);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not restrict " + dir + " to its owner", ex);
        }
    }

    /**
     * Standalone driver: runs until SIGINT or SIGTERM. The directory comes from {@code -Daeron.dir}
     * (Aeron's default is /dev/shm/aeron-USER); workers must be given the same directory.
     *
     * @param args unused; configuration is by system properties.
     */
    public static void main(final String[] args)
    {
        if (args.length > 0)
        {
            System.err.println("usage: java [-Daeron.dir=DIR] [-Daeron.PROPERTY=VALUE ...] -jar polybridge-media-driver-all.jar");
            System.err.println("configuration is by Aeron system properties; see media-driver/README.md");
            System.exit(2);
        }
        // The barrier must be closed too: its shutdown hook waits for that before the JVM may exit.
        try (ShutdownSignalBarrier barrier = new ShutdownSignalBarrier())
        {
            final MediaDriver.Context ctx = context().terminationHook(barrier::signalAll);
            try (MediaDriver driver = launch(ctx))
            {
                System.out.println("polybridge media driver running in " + driver.aeronDirectoryName() +
                    " (" + ctx.threadingMode() + ", ipc term " + ctx.ipcTermBufferLength() + " bytes); Ctrl-C stops it");
                barrier.await();
                System.out.println("polybridge media driver stopping");
            }
        }
    }
}
