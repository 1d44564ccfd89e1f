package io.polybridge.driver;

import io.aeron.CncFileDescriptor;
import org.agrona.BufferUtil;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Finds and removes media driver directories whose driver is dead, judged by the driver's heartbeat
 * in its cnc.dat (as Aeron's {@code CommonContext.isDriverActive} does) and its process id.
 * <p>
 * A directory is removed only when all of these hold: its name starts with {@code polybridge-},
 * it is a real directory (not a link) owned by this process's user, it is a driver directory
 * ({@code cnc.dat} in it, or in its {@code aeron} subdirectory for an embedded driver's private
 * directory) or an empty leftover of one, and its driver is dead:
 * <ul>
 *     <li>the heartbeat is older than {@link #STALE_HEARTBEAT_MS} and its process is not stopped
 *     (SIGSTOP), or the driver closed cleanly; or</li>
 *     <li>the heartbeat is older than the driver timeout and the process that wrote it is gone.</li>
 * </ul>
 * A cnc.dat that is not initialised yet (a driver starting) counts as live for
 * {@link #STARTING_GRACE_MS}. Nothing is followed through a symbolic link.
 */
final class DriverDirectories
{
    /** The prefix of every directory polybridge's drivers use under the shared memory base. */
    static final String PREFIX = "polybridge-";

    /** A heartbeat this old means a dead driver, whatever its process (Aeron's default driver timeout). */
    static final long STALE_HEARTBEAT_MS = 10_000;

    /** A directory or cnc.dat younger than this may belong to a driver that is still starting. */
    static final long STARTING_GRACE_MS = 60_000;

    private static final System.Logger LOGGER = System.getLogger("polybridge.driver");

    /** What a directory's cnc.dat says of its driver. */
    enum State
    {
        /** Heartbeating, starting, or not readable: left alone. */
        ACTIVE,
        /** Its driver is gone. */
        DEAD,
        /** No cnc.dat at all. */
        ABSENT
    }

    private DriverDirectories()
    {
    }

    /**
     * @return /dev/shm where it exists, else java.io.tmpdir: where polybridge's drivers live.
     */
    static Path sharedMemoryBase()
    {
        final Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    /**
     * Remove every stale polybridge directory of this user under base.
     *
     * @param base            where to look, usually {@link #sharedMemoryBase()}.
     * @param driverTimeoutMs heartbeat age after which a driver whose process is gone counts as dead.
     * @return the directories removed.
     */
    static List<Path> reclaim(final Path base, final long driverTimeoutMs)
    {
        final List<Path> removed = new ArrayList<>();
        final Object uid = uid(base);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(base, PREFIX + "*"))
        {
            for (final Path dir : entries)
            {
                try
                {
                    if (isStale(dir, uid, driverTimeoutMs))
                    {
                        deleteTree(dir);
                        removed.add(dir);
                        LOGGER.log(System.Logger.Level.INFO, "removed the stale media driver directory " + dir);
                    }
                }
                catch (final IOException | RuntimeException ex)
                {
                    LOGGER.log(System.Logger.Level.DEBUG, "left " + dir + ": " + ex);
                }
            }
        }
        catch (final IOException ex)
        {
            LOGGER.log(System.Logger.Level.WARNING, "could not look for stale media driver directories in " + base, ex);
        }
        return removed;
    }

    private static boolean isStale(final Path dir, final Object uid, final long driverTimeoutMs) throws IOException
    {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) ||
            !uid.equals(Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS)))
        {
            return false;
        }
        final Path embedded = dir.resolve("aeron");
        State state = state(dir, driverTimeoutMs);
        if (state == State.ABSENT && Files.isDirectory(embedded, LinkOption.NOFOLLOW_LINKS))
        {
            state = state(embedded, driverTimeoutMs);
        }
        if (state == State.ABSENT)
        {
            // A private directory left empty by a launch that failed, or one being created right now.
            return isEmptyLeftover(dir) && ageMs(dir) > STARTING_GRACE_MS;
        }
        return state == State.DEAD;
    }

    private static boolean isEmptyLeftover(final Path dir) throws IOException
    {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir))
        {
            for (final Path entry : entries)
            {
                if (!entry.getFileName().toString().equals("aeron") || !isEmptyDirectory(entry))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean isEmptyDirectory(final Path dir) throws IOException
    {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS))
        {
            return false;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir))
        {
            return !entries.iterator().hasNext();
        }
    }

    /**
     * A driver restarted right after its predecessor was killed would find a heartbeat younger than
     * the driver timeout and refuse the directory ("Active media driver detected"). When the process
     * that wrote the heartbeat is gone, wait until the heartbeat has aged past the timeout (at most
     * the timeout) instead.
     *
     * @param aeronDir        the directory a driver is about to be launched in.
     * @param driverTimeoutMs the new driver's timeout.
     */
    static void awaitHeartbeatOfGoneProcess(final Path aeronDir, final long driverTimeoutMs)
    {
        final long heartbeatMs = heartbeatOfGoneProcessMs(aeronDir);
        if (heartbeatMs > 0)
        {
            final long waitMs = heartbeatMs + driverTimeoutMs + 1 - System.currentTimeMillis();
            if (waitMs > 0)
            {
                try
                {
                    Thread.sleep(Math.min(waitMs, driverTimeoutMs + 1));
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The heartbeat in aeronDir's cnc.dat when the process that wrote it is gone, else 0. */
    private static long heartbeatOfGoneProcessMs(final Path aeronDir)
    {
        final Path cnc = aeronDir.resolve(CncFileDescriptor.CNC_FILE);
        try
        {
            if (!Files.isRegularFile(cnc, LinkOption.NOFOLLOW_LINKS) ||
                Files.size(cnc) <= CncFileDescriptor.END_OF_METADATA_OFFSET)
            {
                return 0;
            }
            final MappedByteBuffer mapped = IoUtil.mapExistingFile(cnc.toFile(), "cnc");
            try
            {
                final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(mapped);
                final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
                if (version == 0)
                {
                    return 0;
                }
                CncFileDescriptor.checkVersion(version);
                final long pid = metaData.getLong(CncFileDescriptor.pidOffset(0));
                if (pid <= 0 || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                {
                    return 0;
                }
                return new ManyToOneRingBuffer(CncFileDescriptor.createToDriverBuffer(mapped, metaData))
                    .consumerHeartbeatTime();
            }
            finally
            {
                BufferUtil.free(mapped);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return 0;
        }
    }

    /**
     * The process of the driver whose cnc.dat is in aeronDir, when this process can see it: the pid the
     * driver wrote at start names a live process that started no later than the driver did. A driver in
     * another pid namespace (a container) writes a pid that means nothing here: absent, or a process
     * started later, so it is not taken for the driver. The handle's {@link ProcessHandle#isAlive()}
     * also compares the start time, so a reused pid does not pass for the driver.
     *
     * @param aeronDir a driver directory.
     * @return the driver's process, or null when there is none to watch from here.
     */
    static ProcessHandle driverProcess(final Path aeronDir)
    {
        final Path cnc = aeronDir.resolve(CncFileDescriptor.CNC_FILE);
        try
        {
            if (!Files.isRegularFile(cnc, LinkOption.NOFOLLOW_LINKS) ||
                Files.size(cnc) <= CncFileDescriptor.END_OF_METADATA_OFFSET)
            {
                return null;
            }
            final long pid;
            final long startMs;
            final MappedByteBuffer mapped = IoUtil.mapExistingFile(cnc.toFile(), "cnc");
            try
            {
                final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(mapped);
                final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
                if (version == 0)
                {
                    return null;
                }
                CncFileDescriptor.checkVersion(version);
                pid = metaData.getLong(CncFileDescriptor.pidOffset(0));
                startMs = metaData.getLong(CncFileDescriptor.startTimestampOffset(0));
            }
            finally
            {
                BufferUtil.free(mapped);
            }
            final ProcessHandle process = pid > 0 ? ProcessHandle.of(pid).orElse(null) : null;
            if (process == null || !process.isAlive())
            {
                return null;
            }
            // A process started after the driver is not the driver (1 s of slack for clock granularity).
            final long processStartMs = process.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
            return processStartMs <= startMs + 1_000 ? process : null;
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
    }

    /**
     * What the cnc.dat in aeronDir says of its driver.
     *
     * @param aeronDir        a driver directory.
     * @param driverTimeoutMs heartbeat age after which a driver whose process is gone counts as dead.
     * @return its state; ACTIVE whenever in doubt.
     */
    static State state(final Path aeronDir, final long driverTimeoutMs)
    {
        final Path cnc = aeronDir.resolve(CncFileDescriptor.CNC_FILE);
        if (!Files.isRegularFile(cnc, LinkOption.NOFOLLOW_LINKS))
        {
            return Files.exists(cnc, LinkOption.NOFOLLOW_LINKS) ? State.ACTIVE : State.ABSENT;
        }
        try
        {
            if (Files.size(cnc) <= CncFileDescriptor.END_OF_METADATA_OFFSET)
            {
                return ageMs(cnc) > STARTING_GRACE_MS ? State.DEAD : State.ACTIVE;
            }
            final MappedByteBuffer mapped = IoUtil.mapExistingFile(cnc.toFile(), "cnc");
            try
            {
                final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(mapped);
                final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
                if (version == 0)
                {
                    return ageMs(cnc) > STARTING_GRACE_MS ? State.DEAD : State.ACTIVE; // never finished starting
                }
                CncFileDescriptor.checkVersion(version); // another layout: its heartbeat cannot be read here
                final long heartbeatMs = new ManyToOneRingBuffer(CncFileDescriptor.createToDriverBuffer(mapped, metaData))
                    .consumerHeartbeatTime();
                final long pid = metaData.getLong(CncFileDescriptor.pidOffset(0));
                final long ageMs = System.currentTimeMillis() - heartbeatMs;
                if (heartbeatMs <= 0)
                {
                    return State.DEAD; // closed cleanly: the heartbeat is reset
                }
                if (ageMs > STALE_HEARTBEAT_MS)
                {
                    return isStopped(pid) ? State.ACTIVE : State.DEAD; // silent for long, unless SIGSTOPped
                }
                final boolean processGone = pid > 0 && ProcessHandle.of(pid).map((p) -> !p.isAlive()).orElse(true);
                return processGone && ageMs > driverTimeoutMs ? State.DEAD : State.ACTIVE;
            }
            finally
            {
                BufferUtil.free(mapped);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return State.ACTIVE;
        }
    }

    /** A process stopped by a signal (or a debugger) is alive and will heartbeat again when continued. */
    static boolean isStopped(final long pid)
    {
        try
        {
            final String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            final int afterName = stat.lastIndexOf(')'); // the name may contain spaces and parentheses
            final char state = afterName > 0 && afterName + 2 < stat.length() ? stat.charAt(afterName + 2) : '?';
            return state == 'T' || state == 't';
        }
        catch (final IOException | RuntimeException ex)
        {
            return false;
        }
    }

    /**
     * Delete a directory tree without following links: a link found inside is removed, never what it
     * points to.
     *
     * @param root the directory to delete.
     * @throws IOException if something could not be deleted.
     */
    static void deleteTree(final Path root) throws IOException
    {
        Files.walkFileTree(root, new SimpleFileVisitor<>()
        {
            public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs) throws IOException
            {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            public FileVisitResult visitFileFailed(final Path file, final IOException ex) throws IOException
            {
                if (ex instanceof NoSuchFileException)
                {
                    return FileVisitResult.CONTINUE;
                }
                throw ex;
            }

            public FileVisitResult postVisitDirectory(final Path dir, final IOException ex) throws IOException
            {
                if (ex != null && !(ex instanceof NoSuchFileException))
                {
                    throw ex;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static long ageMs(final Path path) throws IOException
    {
        return System.currentTimeMillis() -
            Files.getLastModifiedTime(path, LinkOption.NOFOLLOW_LINKS).to(TimeUnit.MILLISECONDS);
    }

    /** This process's user id, as the files it creates under base get it. */
    private static Object uid(final Path base)
    {
        try
        {
            return Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        }
        catch (final IOException | RuntimeException ex)
        {
            try
            {
                final Path probe = Files.createTempFile(base, PREFIX + "uid-", ".probe");
                try
                {
                    return Files.getAttribute(probe, "unix:uid");
                }
                finally
                {
                    Files.deleteIfExists(probe);
                }
            }
            catch (final IOException | RuntimeException ignore)
            {
                return "unknown"; // matches no directory: nothing is removed
            }
        }
    }
}
