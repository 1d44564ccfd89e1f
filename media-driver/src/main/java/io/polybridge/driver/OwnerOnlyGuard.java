package io.polybridge.driver;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps a media driver's directory owner-only while the driver runs. Aeron creates its directories
 * and files (cnc.dat, loss-report.dat, a log buffer per publication) with the process's umask and has
 * no setting for their permissions, and Java cannot change the umask; so every entry is restricted as
 * soon as the kernel reports it (inotify, through a {@link WatchService}), and everything already
 * there once at start.
 * <p>
 * The directory itself is restricted first: from then on nobody else can open anything in it,
 * whatever the modes inside, so the moment between a file's creation and its restriction exposes
 * nothing. The guard ends by itself when the directory goes (the driver deleted it on close) or its
 * driver is dead, and on {@link #close()}.
 */
final class OwnerOnlyGuard implements AutoCloseable
{
    private static final System.Logger LOGGER = System.getLogger("polybridge.driver");
    private static final long DRIVER_CHECK_INTERVAL_MS = 1000;

    private final Path aeronDir;
    private final WatchService watchService;
    private final Thread thread;

    private OwnerOnlyGuard(final Path aeronDir) throws IOException
    {
        this.aeronDir = aeronDir;
        watchService = aeronDir.getFileSystem().newWatchService();
        try
        {
            watchTree(aeronDir); // watch first, then restrict: nothing created in between is missed
            thread = new Thread(this::run, "polybridge-owner-only " + aeronDir);
            thread.setDaemon(true);
            thread.start();
        }
        catch (final IOException | RuntimeException ex)
        {
            watchService.close();
            throw ex;
        }
    }

    /**
     * Restrict aeronDir and everything in it to the owner now, and whatever is created in it later.
     *
     * @param aeronDir a running driver's directory.
     * @return the guard; close it after the driver, or let it end with the directory.
     */
    static OwnerOnlyGuard start(final Path aeronDir)
    {
        try
        {
            return new OwnerOnlyGuard(aeronDir);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not keep " + aeronDir + " owner-only", ex);
        }
    }

    public void close()
    {
        try
        {
            watchService.close();
        }
        catch (final IOException ex)
        {
            LOGGER.log(System.Logger.Level.DEBUG, "closing the watch on " + aeronDir, ex);
        }
        if (Thread.currentThread() != thread)
        {
            try
            {
                thread.join(TimeUnit.SECONDS.toMillis(5));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run()
    {
        try
        {
            long nextDriverCheckMs = System.currentTimeMillis() + DRIVER_CHECK_INTERVAL_MS;
            while (true)
            {
                final WatchKey key = watchService.poll(DRIVER_CHECK_INTERVAL_MS, TimeUnit.MILLISECONDS);
                if (key != null)
                {
                    final Path dir = (Path)key.watchable();
                    for (final WatchEvent<?> event : key.pollEvents())
                    {
                        if (event.kind() == StandardWatchEventKinds.OVERFLOW)
                        {
                            watchTree(aeronDir); // events were lost: go over everything again
                        }
                        else
                        {
                            restrictNew(dir.resolve((Path)event.context()));
                        }
                    }
                    key.reset();
                }
                final long nowMs = System.currentTimeMillis();
                if (nowMs - nextDriverCheckMs > 0)
                {
                    nextDriverCheckMs = nowMs + DRIVER_CHECK_INTERVAL_MS;
                    if (!Files.isDirectory(aeronDir, LinkOption.NOFOLLOW_LINKS) ||
                        DriverDirectories.state(aeronDir, DriverDirectories.STALE_HEARTBEAT_MS) !=
                        DriverDirectories.State.ACTIVE)
                    {
                        return;
                    }
                }
            }
        }
        catch (final ClosedWatchServiceException | InterruptedException ex)
        {
            // closed
        }
        catch (final IOException | RuntimeException ex)
        {
            LOGGER.log(System.Logger.Level.WARNING, "stopped keeping " + aeronDir + " owner-only", ex);
        }
        finally
        {
            try
            {
                watchService.close();
            }
            catch (final IOException ignore)
            {
                // nothing more to release
            }
        }
    }

    private void restrictNew(final Path path) throws IOException
    {
        try
        {
            if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS))
            {
                watchTree(path);
            }
            else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS))
            {
                Files.setPosixFilePermissions(path, PolybridgeMediaDriver.OWNER_FILE);
            }
        }
        catch (final NoSuchFileException ignore)
        {
            // created and removed again before it was seen
        }
    }

    /** Watch a directory and every directory below it, and restrict all of it. */
    private void watchTree(final Path dir) throws IOException
    {
        try
        {
            Files.setPosixFilePermissions(dir, PolybridgeMediaDriver.OWNER_DIR);
            dir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE);
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir))
            {
                for (final Path entry : entries)
                {
                    restrictNew(entry);
                }
            }
        }
        catch (final NoSuchFileException ignore)
        {
            // removed meanwhile
        }
    }
}
