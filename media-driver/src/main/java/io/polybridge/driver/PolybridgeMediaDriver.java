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
import java.util.List;
import java.util.Optional;
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
 *     <li>{@code aeron.timer.interval=100ms}, {@code aeron.client.liveness.timeout=1.5s},
 *     {@code aeron.driver.timeout=1s}, {@code aeron.publication.unblock.timeout=2s}: a dead driver,
 *     worker or client, or a frame left half-written by one, is noticed within about a second or two
 *     instead of ten or fifteen (see the constants);</li>
 *     <li>the directory is deleted when the driver closes, and everything in it is kept readable and
 *     writable by its owner only while it runs ({@link #launch(MediaDriver.Context)}).</li>
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

    /**
     * The driver checks its timers (client liveness, its own heartbeat in cnc.dat) this often when
     * {@code aeron.timer.interval} is not set: 100 ms rather than Aeron's 1 s, so clients and workers
     * can take a driver silent for ~1 s as dead, and a dead client is noticed promptly.
     */
    public static final long DEFAULT_TIMER_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);

    /**
     * A client (a worker, a JVM) that has sent no keepalive for this long is dead and its publications
     * and subscriptions are removed, when {@code aeron.client.liveness.timeout} is not set: 3 s, six of
     * the Aeron clients' 500 ms keepalives, rather than Aeron's 10 s. It is also the longest an Aeron
     * client's own conductor thread may go unscheduled (a GC pause, a starved core) before that client
     * gives up for good ({@code ConductorServiceTimeoutException}): at 1.5 s that happened to healthy
     * clients in the test suite and the chaos harness on a loaded 2-core machine. A dead worker's
     * lingering subscription holds nothing back meanwhile: every incarnation has a fresh request stream.
     */
    public static final long DEFAULT_CLIENT_LIVENESS_TIMEOUT_NS = TimeUnit.MILLISECONDS.toNanos(3000);

    /**
     * A driver whose heartbeat in cnc.dat is older than this is dead, when {@code aeron.driver.timeout}
     * is not set: 1 s rather than Aeron's 10 s, so a driver restarted after a crash (kill -9) can take
     * over its directory after 1 s instead of failing with "Active media driver detected".
     */
    public static final long DEFAULT_DRIVER_TIMEOUT_MS = 1000;

    /**
     * A frame claimed on a shared log but not committed for this long (its writer SIGKILLed in the
     * middle) is padded over so the frames behind it flow again, when
     * {@code aeron.publication.unblock.timeout} is not set: 4 s rather than Aeron's 15 s; Aeron requires
     * it to exceed the client liveness timeout (3 s). A writer that is merely paused that long mid-frame loses
     * that frame (its call then ends at its deadline or with its worker).
     */
    public static final long DEFAULT_PUBLICATION_UNBLOCK_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(4);

    /**
     * Longest park of the driver's threads when idle: {@value} ms. Each wake-up of a parked thread costs
     * ~15-20 µs of CPU on a small VM, so 1 ms parks (1,000 wake-ups a second) cost ~1.7 % of a core for
     * nothing; at 16 ms (Aeron's own client conductor sleeps as long) an idle driver wakes ~60 times a
     * second. A command (adding a publication) that arrives while it sleeps waits up to that long; IPC
     * data never waits for the driver.
     */
    public static final long DEFAULT_IDLE_MAX_PARK_MS = 16;

    /**
     * Shortest park of the driver's threads: {@value} µs. Linux wakes a parked thread no sooner than its
     * timer slack (50 µs by default), so shorter parks only add wake-ups on the way to the longest.
     */
    public static final long DEFAULT_IDLE_MIN_PARK_US = 50;

    /**
     * Longest park of the driver's async executor thread, which only resolves the host names of UDP
     * channels: {@value} ms, so an idle one wakes ~10 times a second; adding a UDP channel may wait that
     * long once, IPC never does.
     */
    static final long EXECUTOR_MAX_PARK_MS = 100;

    static final Set<PosixFilePermission> OWNER_DIR = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> OWNER_FILE = PosixFilePermissions.fromString("rw-------");

    private PolybridgeMediaDriver()
    {
    }

    /**
     * The driver's idle strategy: spin, yield, then park from {@link #DEFAULT_IDLE_MIN_PARK_US} doubling up to
     * {@link #DEFAULT_IDLE_MAX_PARK_MS}; any work starts it over.
     *
     * @return a new idle strategy (each agent needs its own).
     */
    static BackoffIdleStrategy idleStrategy()
    {
        return new BackoffIdleStrategy(
            100, 10, TimeUnit.MICROSECONDS.toNanos(DEFAULT_IDLE_MIN_PARK_US), TimeUnit.MILLISECONDS.toNanos(DEFAULT_IDLE_MAX_PARK_MS));
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
            ctx.sharedIdleStrategy(idleStrategy());
        }
        if (System.getProperty("aeron.driver.async.executor.idle.strategy") == null)
        {
            ctx.asyncExecutorIdleStrategy(new BackoffIdleStrategy(100, 10,
                TimeUnit.MICROSECONDS.toNanos(DEFAULT_IDLE_MIN_PARK_US), TimeUnit.MILLISECONDS.toNanos(EXECUTOR_MAX_PARK_MS)));
        }
        if (System.getProperty("aeron.ipc.term.buffer.length") == null)
        {
            ctx.ipcTermBufferLength(DEFAULT_IPC_TERM_LENGTH);
        }
        if (System.getProperty("aeron.dir.delete.on.shutdown") == null)
        {
            ctx.dirDeleteOnShutdown(true);
        }
        if (System.getProperty("aeron.timer.interval") == null)
        {
            ctx.timerIntervalNs(DEFAULT_TIMER_INTERVAL_NS);
        }
        if (System.getProperty("aeron.client.liveness.timeout") == null)
        {
            ctx.clientLivenessTimeoutNs(DEFAULT_CLIENT_LIVENESS_TIMEOUT_NS);
        }
        if (System.getProperty("aeron.publication.unblock.timeout") == null)
        {
            ctx.publicationUnblockTimeoutNs(DEFAULT_PUBLICATION_UNBLOCK_TIMEOUT_NS);
        }
        if (System.getProperty("aeron.driver.timeout") == null)
        {
            ctx.driverTimeoutMs(DEFAULT_DRIVER_TIMEOUT_MS);
        }
        return ctx;
    }

    /**
     * Launch a driver and keep its directory owner-only: everything in it is restricted at once and
     * whatever the driver creates later (a log buffer per publication) as soon as it appears, whatever
     * the umask. A directory left by a dead driver is removed first (rather than by Aeron, which
     * would write the old error log next to it with the umask's permissions).
     *
     * @param ctx the settings, usually from {@link #context()}.
     * @return the running driver; close it to stop it.
     */
    public static MediaDriver launch(final MediaDriver.Context ctx)
    {
        return launchGuarded(ctx).driver();
    }

    /** A running driver and what keeps its directory owner-only. */
    record Guarded(MediaDriver driver, OwnerOnlyGuard guard)
    {
    }

    static Guarded launchGuarded(final MediaDriver.Context ctx)
    {
        final Path dir = Path.of(ctx.aeronDirectoryName());
        DriverDirectories.awaitHeartbeatOfGoneProcess(dir, ctx.driverTimeoutMs());
        if (DriverDirectories.state(dir, ctx.driverTimeoutMs()) == DriverDirectories.State.DEAD)
        {
            try
            {
                DriverDirectories.deleteTree(dir);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("could not remove " + dir + ", left by a dead media driver", ex);
            }
        }
        final MediaDriver driver = MediaDriver.launch(ctx);
        try
        {
            return new Guarded(driver, OwnerOnlyGuard.start(Path.of(driver.aeronDirectoryName())));
        }
        catch (final RuntimeException ex)
        {
            driver.close();
            throw ex;
        }
    }

    /**
     * Remove this user's polybridge driver directories under /dev/shm (or java.io.tmpdir) whose driver
     * is dead: its heartbeat in cnc.dat older than 10 s, or older than {@link #DEFAULT_DRIVER_TIMEOUT_MS}
     * and its process gone, or it closed without deleting them. A live driver's directory, one whose
     * driver is still starting, and anything that is not a polybridge driver directory (name
     * {@code polybridge-*}, with a cnc.dat in it or in its {@code aeron} subdirectory) are left alone;
     * links are never followed.
     *
     * @return the directories removed.
     */
    public static List<Path> reclaimStaleDirectories()
    {
        return reclaimStaleDirectories(DriverDirectories.sharedMemoryBase());
    }

    /**
     * Whether a driver runs (or is starting) in a directory: its cnc.dat heartbeat is younger than
     * the driver timeout, or younger than 10 s while its process exists. Unlike Aeron's
     * {@code CommonContext.isDriverActive} it never waits and never throws.
     *
     * @param aeronDirectoryName the driver's directory.
     * @return true when a client may expect to connect there now.
     */
    public static boolean isDriverActive(final String aeronDirectoryName)
    {
        return DriverDirectories.state(Path.of(aeronDirectoryName), DEFAULT_DRIVER_TIMEOUT_MS) ==
            DriverDirectories.State.ACTIVE;
    }

    /**
     * The process of the driver running in a directory, read from its cnc.dat, when it is visible from
     * this process (not in another pid namespace). A client can watch it to notice at once that the
     * driver exited, instead of waiting a whole driver timeout for its heartbeat to go stale.
     *
     * @param aeronDirectoryName the driver's directory.
     * @return the driver's live process; empty when there is no driver there, or it cannot be seen.
     */
    public static Optional<ProcessHandle> driverProcess(final String aeronDirectoryName)
    {
        return Optional.ofNullable(DriverDirectories.driverProcess(Path.of(aeronDirectoryName)));
    }

    /**
     * {@link #reclaimStaleDirectories()} under another base directory.
     *
     * @param base where to look for {@code polybridge-*} directories.
     * @return the directories removed.
     */
    public static List<Path> reclaimStaleDirectories(final Path base)
    {
        return DriverDirectories.reclaim(base, DEFAULT_DRIVER_TIMEOUT_MS);
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
