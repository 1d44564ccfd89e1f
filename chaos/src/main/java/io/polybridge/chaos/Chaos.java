package io.polybridge.chaos;

import io.aeron.CommonContext;
import io.aeron.exceptions.AeronException;
import io.polybridge.driver.PolybridgeMediaDriver;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The chaos harness ({@code make chaos}, {@code make chaos-smoke}): a standalone media driver, a
 * host JVM with a {@link io.polybridge.client.Bridge} and 2 Go + 2 Rust workers under load from
 * several caller threads, a neighbour client JVM with its own small bridge, and a schedule of
 * faults drawn from a printed seed: SIGKILL and SIGSTOP/SIGCONT of workers, SIGKILL and restart of
 * the driver, SIGKILL and SIGTERM of the client JVM (then a new one), and all along a stream of
 * hostile frames into every worker's request stream ({@link HostileFrames}).
 * <p>
 * It ends with one line,
 * {@code chaos: calls=N ok=N failed=N lost=0 duplicated=0 max_stall_ms=N host_exits=0 orphans=0 leaked_shm_bytes=0 worker_restarts=N},
 * a JSON report, and exit status 0 only if nothing was lost, duplicated or echoed wrong, no
 * bridge JVM exited unasked or hung at exit, nothing is left running or in /dev/shm, and callers never
 * waited more than {@code --max-stall-ms} (1,000) for a completion while the driver was up. What each
 * figure means exactly: chaos/README.md.
 */
public final class Chaos
{
    /** The faults the harness injects. */
    enum Action
    {
        KILL_WORKER, STOP_WORKER, KILL_DRIVER, KILL_CLIENT, TERM_CLIENT, HOSTILE_BURST;

        String label()
        {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /** A fault at a time from the start of the chaos phase. */
    record Planned(long atMs, Action action)
    {
    }

    /** A fault as it happened, for the report. */
    record Event(long atMs, String action, String detail)
    {
    }

    private final Context ctx;
    private final Random random;
    private final String dirName;
    private final Path dir;
    private final ProcessTracker tracker;
    private final long runStartNs = System.nanoTime();
    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private final List<Stalls.Interval> driverDown = new CopyOnWriteArrayList<>();
    private final List<Stalls.Interval> hostStarved = new CopyOnWriteArrayList<>();
    private final List<ProcessHandle> stopped = new CopyOnWriteArrayList<>();
    private final List<HostRun> hosts = new CopyOnWriteArrayList<>();
    private final List<ClientRun> clients = new CopyOnWriteArrayList<>();
    /** A host worker hit (SIGKILL or SIGSTOP) within this long is not hit again, nor counted healthy. */
    static final long FAULT_RECOVERY_MS = 3_000;
    /** Workers that must stay LIVE and untouched when the harness faults another. */
    static final int MIN_HEALTHY_WORKERS = 2;

    private final Map<Long, Long> recentlyFaultedNs = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicInteger hostExits = new AtomicInteger();
    private final java.util.concurrent.ConcurrentSkipListMap<Long, String> loadSamples =
        new java.util.concurrent.ConcurrentSkipListMap<>();
    private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(2, (task) ->
    {
        final Thread thread = new Thread(task, "chaos-scheduler");
        thread.setDaemon(true);
        return thread;
    });
    private volatile ChildJvm driver;
    private volatile boolean driverDeliberatelyDown;
    private volatile boolean chaosOver;
    private volatile boolean driverExitCounted;
    private volatile boolean cleaningUp;
    private HostileFrames hostile;
    private Set<String> shmBefore;
    private int driverIncarnation;
    private int clientIncarnation;

    private Chaos(final Context ctx)
    {
        this.ctx = ctx;
        this.random = new Random(ctx.seed);
        this.dirName = "polybridge-chaos-" + ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime());
        this.dir = SharedMemory.root().resolve(dirName);
        this.tracker = new ProcessTracker(dir.toString());
    }

    /**
     * @param args see {@link Context#usage()}.
     */
    public static void main(final String[] args)
    {
        final Context ctx;
        try
        {
            ctx = Context.parse(args).conclude();
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("chaos: " + ex.getMessage());
            System.err.println(Context.usage());
            System.exit(2);
            return;
        }
        System.exit(new Chaos(ctx).run());
    }

    private int run()
    {
        log("seed=" + ctx.seed + " mode=" + ctx.mode + " duration=" + ctx.durationMs / 1000 + "s driver dir " + dir +
            " (rerun with --seed " + ctx.seed + " for the same schedule)");
        final Thread cleanupOnSignal = new Thread(this::forceCleanup, "chaos-cleanup-on-signal");
        Runtime.getRuntime().addShutdownHook(cleanupOnSignal);
        final Thread poller = new Thread(this::pollLoop, "chaos-poller");
        poller.setDaemon(true);
        Summary summary = null;
        try
        {
            shmBefore = SharedMemory.snapshot();
            clearLogs();
            poller.start();
            startDriver();
            startHost();
            startClient();
            hostile = new HostileFrames(dir.toString(), random.nextLong(), ctx.hostileRate);
            hostile.start();
            runSchedule(plan());
        }
        catch (final Exception ex)
        {
            errors.add("harness: " + ex);
            ex.printStackTrace();
        }
        finally
        {
            chaosOver = true;
            try
            {
                summary = teardownAndMeasure();
            }
            catch (final Exception ex)
            {
                errors.add("teardown: " + ex);
                ex.printStackTrace();
            }
            forceCleanup();
            scheduler.shutdownNow();
        }
        if (summary == null)
        {
            summary = new Summary();
        }
        System.out.println(summary.line());
        final List<String> reasons = summary.verdict(ctx, errors);
        writeReport(summary, reasons);
        if (!reasons.isEmpty())
        {
            keepFailedRun();
        }
        log(reasons.isEmpty() ? "PASSED; report " + ctx.report : "FAILED: " + String.join("; ", reasons) + "; report " +
            ctx.report + ", logs " + ctx.logDir);
        try
        {
            Runtime.getRuntime().removeShutdownHook(cleanupOnSignal);
        }
        catch (final IllegalStateException ex)
        {
            // already shutting down
        }
        return reasons.isEmpty() ? 0 : 1;
    }

    // ---------------------------------------------------------------- the processes

    private void startDriver() throws InterruptedException
    {
        driverIncarnation++;
        final ChildJvm started = ChildJvm.start("driver-" + driverIncarnation, PolybridgeMediaDriver.class.getName(),
            List.of("-Daeron.dir=" + dir, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"),
            List.of(), ctx.logDir, null);
        tracker.root(started.process.toHandle(), "media driver #" + driverIncarnation + " pid " + started.pid());
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        long nextReportNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!driverActive(dir, 1_000))
        {
            if (System.nanoTime() - nextReportNs > 0)
            {
                nextReportNs += TimeUnit.SECONDS.toNanos(5);
                final List<String> said = new ArrayList<>();
                driverActive(dir, 1_000, said::add);
                final Path dump = ctx.logDir.resolve(started.name + "-threads-" +
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - runStartNs) + "ms.txt");
                writeThreadDump(started, dump);
                log("media driver #" + driverIncarnation + " pid " + started.pid() + " not answering yet (threads: " +
                    dump + "); " +
                    (started.firstOutputNs() == 0 ? "no output yet" : "printed its first line " +
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started.firstOutputNs()) + " ms ago") +
                    "; cnc.dat check: " + said);
            }
            if (!started.isAlive())
            {
                throw new IllegalStateException("the media driver exited with " + started.process.exitValue() +
                    "; see " + started.log + ": " + started.tail(5));
            }
            if (System.nanoTime() - deadlineNs > 0)
            {
                throw new IllegalStateException("the media driver did not start within 30 s; see " + started.log);
            }
            Thread.sleep(20);
        }
        driver = started;
    }

    static boolean driverActive(final Path dir, final long timeoutMs)
    {
        return driverActive(dir, timeoutMs, (message) -> { });
    }

    static boolean driverActive(final Path dir, final long timeoutMs, final java.util.function.Consumer<String> said)
    {
        try
        {
            return CommonContext.isDriverActive(new File(dir.toString()), timeoutMs, said);
        }
        catch (final AeronException | IllegalStateException ex)
        {
            said.accept(ex.toString());
            return false; // a cnc.dat being created, or left half-written by a killed driver
        }
    }

    private void startHost() throws InterruptedException
    {
        final int incarnation = hosts.size() + 1;
        final HostRun host = new HostRun(incarnation);
        final Path detail = ctx.logDir.resolve("host-" + incarnation + ".json");
        final List<String> args = new ArrayList<>(List.of(
            "--aeron-dir", dir.toString(),
            "--go", Integer.toString(ctx.goInstances),
            "--rust", Integer.toString(ctx.rustInstances),
            "--callers", Integer.toString(ctx.callers),
            "--window", Integer.toString(ctx.window),
            "--rate", Integer.toString(ctx.rate),
            "--seed", Long.toString(random.nextLong()),
            "--min-deadline-ms", Long.toString(ctx.minDeadlineMs),
            "--max-deadline-ms", Long.toString(ctx.maxDeadlineMs),
            "--max-payload", Integer.toString(ctx.maxPayload),
            "--grace-ms", Long.toString(ctx.graceMs),
            "--detail", detail.toString(),
            "--epoch-ns", Long.toString(runStartNs)));
        host.detail = detail;
        host.jvm = ChildJvm.start("host-" + incarnation, ChaosHost.class.getName(),
            List.of("-Xmx512m", "-XX:+UseSerialGC",
                "-Xlog:gc,safepoint:file=" + ctx.logDir.resolve("host-" + incarnation + "-gc.log")), args, ctx.logDir,
            host::onMessage);
        hosts.add(host);
        tracker.root(host.jvm.process.toHandle(), "host JVM #" + incarnation + " pid " + host.jvm.pid());
        final Protocol.Message ready = host.jvm.await("ready", ctx.startTimeoutMs);
        if (ready == null)
        {
            throw new IllegalStateException("host JVM #" + incarnation + " did not become ready within " +
                ctx.startTimeoutMs + " ms (alive: " + host.jvm.isAlive() + "); see " + host.jvm.log + ": " +
                host.jvm.tail(10));
        }
        host.readyNs = System.nanoTime();
        event("host-ready", "host JVM #" + incarnation + " pid " + host.jvm.pid() + " launched its bridge in " +
            ready.text("launch_ms") + " ms; workers " + ready.text("workers"));
    }

    private void startClient() throws InterruptedException
    {
        final ClientRun client = new ClientRun(++clientIncarnation);
        client.jvm = ChildJvm.start("client-" + client.incarnation, ChaosClientJvm.class.getName(),
            List.of("-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"),
            List.of("--aeron-dir", dir.toString(), "--go", "1", "--rust", "1"), ctx.logDir, client::onMessage);
        clients.add(client);
        tracker.root(client.jvm.process.toHandle(), "client JVM #" + client.incarnation + " pid " + client.jvm.pid());
        final Protocol.Message ready = client.jvm.await("ready", ctx.startTimeoutMs);
        if (ready == null && client.launchFailure != null)
        {
            // Bridge.launch failed cleanly (the driver is down, say): a new client JVM once it is up.
            event("client-launch-failed", "client JVM #" + client.incarnation + ": " + client.launchFailure);
            scheduleClientStart(2_000);
            return;
        }
        if (ready == null)
        {
            errors.add("client JVM #" + client.incarnation + " did not become ready within " + ctx.startTimeoutMs +
                " ms (alive: " + client.jvm.isAlive() + "); see " + client.jvm.log);
            return;
        }
        client.ready = true;
        event("client-ready", "client JVM #" + client.incarnation + " pid " + client.jvm.pid());
    }

    private HostRun currentHost()
    {
        return hosts.isEmpty() ? null : hosts.get(hosts.size() - 1);
    }

    private ClientRun currentClient()
    {
        return clients.isEmpty() ? null : clients.get(clients.size() - 1);
    }

    /** Every 250 ms: record new processes; notice a bridge JVM that exited unasked; sample the load. */
    private void pollLoop()
    {
        long polls = 0;
        while (true)
        {
            try
            {
                tracker.poll();
                if (cleaningUp)
                {
                    Thread.sleep(250);
                    continue;
                }
                if (polls++ % 4 == 0)
                {
                    final String load = readQuietly(Path.of("/proc/loadavg"));
                    loadSamples.put(System.nanoTime(), load == null ? "?" : load.split(" ")[0]);
                }
                final ChildJvm currentDriver = driver;
                if (currentDriver != null && !currentDriver.isAlive() && !driverDeliberatelyDown && !chaosOver &&
                    !driverExitCounted)
                {
                    driverExitCounted = true;
                    errors.add("media driver pid " + currentDriver.pid() + " exited unasked with code " +
                        currentDriver.process.exitValue() + "; log tail: " + String.join(" | ", currentDriver.tail(10)));
                }
                for (final HostRun host : hosts)
                {
                    if (host.jvm != null && host.jvm.exitedAndRead() && !host.stopRequested && !host.exitCounted)
                    {
                        host.exitCounted = true;
                        hostExits.incrementAndGet();
                        final String what = "host JVM #" + host.incarnation + " pid " + host.jvm.pid() +
                            " exited unasked with code " + host.jvm.process.exitValue();
                        errors.add(what + "; log tail: " + String.join(" | ", host.jvm.tail(15)));
                        event("host-exit", what);
                        if (!chaosOver)
                        {
                            scheduler.execute(this::restartHostQuietly);
                        }
                    }
                }
                for (final ClientRun client : clients)
                {
                    if (client.jvm != null && client.jvm.exitedAndRead() && !client.signalled && !client.stopRequested &&
                        !client.exitCounted && client.launchFailure == null)
                    {
                        client.exitCounted = true;
                        hostExits.incrementAndGet();
                        final String what = "client JVM #" + client.incarnation + " pid " + client.jvm.pid() +
                            " exited unasked with code " + client.jvm.process.exitValue();
                        errors.add(what + "; log tail: " + String.join(" | ", client.jvm.tail(15)));
                        event("client-exit", what);
                    }
                }
                Thread.sleep(250);
            }
            catch (final InterruptedException ex)
            {
                return;
            }
            catch (final RuntimeException ex)
            {
                errors.add("poller: " + ex);
            }
        }
    }

    private void restartHostQuietly()
    {
        if (chaosOver)
        {
            return;
        }
        try
        {
            startHost();
        }
        catch (final Exception ex)
        {
            errors.add("could not start a new host JVM: " + ex);
        }
    }

    // ---------------------------------------------------------------- the schedule

    /** The faults and their times, all drawn from the seed. */
    List<Planned> plan()
    {
        final List<Planned> plan = new ArrayList<>();
        final long span = ctx.durationMs;
        final int driverKills = ctx.actions.contains(Action.KILL_DRIVER) ? (int)Math.max(1, span / 80_000) : 0;
        for (int i = 0; i < driverKills; i++)
        {
            // Spread out, each early enough that the restart (~10-12 s) ends inside the run.
            final double slot = 0.8 / driverKills;
            plan.add(new Planned((long)(span * (0.15 + slot * i + slot * 0.5 * random.nextDouble())), Action.KILL_DRIVER));
        }
        final List<Action> clientFaults = new ArrayList<>();
        for (final Action action : List.of(Action.KILL_CLIENT, Action.TERM_CLIENT))
        {
            if (ctx.actions.contains(action))
            {
                clientFaults.add(action);
                plan.add(new Planned((long)(span * (0.05 + 0.8 * random.nextDouble())), action)); // at least once
            }
        }
        if (!clientFaults.isEmpty())
        {
            long at = 0;
            while ((at += (long)(-Math.log(1 - random.nextDouble()) * ctx.meanClientFaultIntervalMs)) < span * 0.9)
            {
                plan.add(new Planned(at, clientFaults.get(random.nextInt(clientFaults.size()))));
            }
        }
        if (ctx.actions.contains(Action.HOSTILE_BURST))
        {
            for (int i = 0; i < Math.max(1, span / 30_000); i++)
            {
                plan.add(new Planned((long)(span * (0.05 + 0.85 * random.nextDouble())), Action.HOSTILE_BURST));
            }
        }
        final List<Action> workerFaults = new ArrayList<>();
        if (ctx.actions.contains(Action.KILL_WORKER))
        {
            workerFaults.add(Action.KILL_WORKER);
        }
        if (ctx.actions.contains(Action.STOP_WORKER))
        {
            workerFaults.add(Action.STOP_WORKER);
        }
        if (!workerFaults.isEmpty())
        {
            // Each kind at least once, early; then a Poisson process of either.
            for (int i = 0; i < workerFaults.size(); i++)
            {
                plan.add(new Planned((long)(span * (0.05 + 0.1 * i + 0.05 * random.nextDouble())), workerFaults.get(i)));
            }
            long at = (long)(span * 0.1);
            while (true)
            {
                at += (long)(-Math.log(1 - random.nextDouble()) * ctx.meanWorkerFaultIntervalMs);
                if (at > span * 0.92)
                {
                    break;
                }
                plan.add(new Planned(at, workerFaults.get(random.nextInt(workerFaults.size()))));
            }
        }
        plan.sort((a, b) -> Long.compare(a.atMs(), b.atMs()));
        return plan;
    }

    private void runSchedule(final List<Planned> planned) throws InterruptedException
    {
        List<Planned> plan = new ArrayList<>(planned);
        final Set<Action> injected = EnumSet.noneOf(Action.class);
        final long chaosStartNs = System.nanoTime();
        long nextProgressMs = 10_000;
        int next = 0;
        while (true)
        {
            final long nowMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - chaosStartNs);
            if (nowMs >= ctx.durationMs)
            {
                break;
            }
            if (nowMs >= nextProgressMs)
            {
                progress();
                nextProgressMs += 10_000;
            }
            if (next < plan.size() && plan.get(next).atMs() <= nowMs)
            {
                final Action action = plan.get(next++).action();
                if (!perform(action) && !injected.contains(action) && nowMs + 3_000 < ctx.durationMs)
                {
                    // Every kind of fault at least once: try a skipped one again in 2 s.
                    final List<Planned> rest = new ArrayList<>(plan.subList(next, plan.size()));
                    rest.add(new Planned(nowMs + 2_000, action));
                    rest.sort((a, b) -> Long.compare(a.atMs(), b.atMs()));
                    plan = new ArrayList<>(plan.subList(0, next));
                    plan.addAll(rest);
                }
                else
                {
                    injected.add(action);
                }
                continue;
            }
            Thread.sleep(20);
        }
    }

    private void progress()
    {
        final HostRun host = currentHost();
        final Protocol.Message stats = host == null ? null : host.lastStats;
        log(String.format(Locale.ROOT, "+%.1fs calls=%s ok=%s failed=%s outstanding=%s restarts=%s hostile_frames=%d",
            relativeMs(System.nanoTime()) / 1000.0, text(stats, "calls"), text(stats, "ok"), text(stats, "failed"), text(stats, "outstanding"),
            text(stats, "restarts"), hostile == null ? 0 : hostile.totalSent()));
    }

    private static String text(final Protocol.Message message, final String key)
    {
        return message == null ? "?" : message.text(key);
    }

    /** @return false when the fault could not be injected now (no target), so it is tried again later. */
    private boolean perform(final Action action) throws InterruptedException
    {
        switch (action)
        {
            case KILL_WORKER:
                return killWorker();
            case STOP_WORKER:
                return stopWorker();
            case KILL_DRIVER:
                killAndRestartDriver();
                return true;
            case KILL_CLIENT:
                return signalClient(true);
            case TERM_CLIENT:
                return signalClient(false);
            case HOSTILE_BURST:
                hostileBurst();
                return true;
            default:
                throw new IllegalStateException("unknown action " + action);
        }
    }

    /**
     * A random worker of the host to fault, waiting up to 3 s for one. Only a worker the bridge
     * reports LIVE (in the host's latest stats), not hit in the last {@link #FAULT_RECOVERY_MS}, and
     * only while at least {@link #MIN_HEALTHY_WORKERS} other such workers remain: the stall measure
     * asks whether callers are held up while healthy workers exist. With every worker hung or down
     * at once (harness faults, plus workers whose restart budget is spent), calls wait for the
     * liveness timeout whatever the bridge does.
     */
    private ProcessHandle randomHostWorker() throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        while (true)
        {
            final HostRun host = currentHost();
            final long nowNs = System.nanoTime();
            recentlyFaultedNs.values().removeIf((atNs) -> nowNs - atNs > TimeUnit.MILLISECONDS.toNanos(FAULT_RECOVERY_MS));
            final Protocol.Message stats = host == null ? null : host.lastStats;
            if (host != null && host.jvm.isAlive() && stats != null)
            {
                final Set<Long> live = new java.util.HashSet<>();
                for (final String pid : stats.text("live_pids").split(","))
                {
                    if (!pid.isEmpty())
                    {
                        live.add(Long.parseLong(pid));
                    }
                }
                final List<ProcessHandle> healthy = new ArrayList<>();
                for (final ProcessHandle worker : ProcessTracker.workersOf(host.jvm.process.toHandle()))
                {
                    if (live.contains(worker.pid()) && !stopped.contains(worker) &&
                        !recentlyFaultedNs.containsKey(worker.pid()))
                    {
                        healthy.add(worker);
                    }
                }
                if (healthy.size() > MIN_HEALTHY_WORKERS)
                {
                    healthy.sort((a, b) -> Long.compare(a.pid(), b.pid()));
                    final ProcessHandle chosen = healthy.get(random.nextInt(healthy.size()));
                    recentlyFaultedNs.put(chosen.pid(), nowNs);
                    return chosen;
                }
            }
            if (System.nanoTime() - deadlineNs > 0)
            {
                return null;
            }
            Thread.sleep(50);
        }
    }

    private boolean killWorker() throws InterruptedException
    {
        final ProcessHandle worker = randomHostWorker();
        if (worker == null)
        {
            event(Action.KILL_WORKER.label(), "skipped: for 3 s no LIVE worker of the host could be spared");
            return false;
        }
        final String description = ProcessTracker.describe(worker);
        worker.destroyForcibly();
        event(Action.KILL_WORKER.label(), "SIGKILL " + description);
        return true;
    }

    private boolean stopWorker() throws InterruptedException
    {
        final ProcessHandle worker = randomHostWorker();
        if (worker == null)
        {
            event(Action.STOP_WORKER.label(), "skipped: for 3 s no LIVE worker of the host could be spared");
            return false;
        }
        final long pauseMs = 200 + random.nextInt(2_300);
        final String description = ProcessTracker.describe(worker);
        if (!ProcessTracker.signal(worker, "STOP"))
        {
            event(Action.STOP_WORKER.label(), "could not SIGSTOP " + description);
            return false;
        }
        stopped.add(worker);
        event(Action.STOP_WORKER.label(), "SIGSTOP " + description + " for " + pauseMs + " ms");
        scheduler.schedule(() ->
        {
            final boolean sent = ProcessTracker.signal(worker, "CONT");
            stopped.remove(worker);
            event("cont-worker", (sent ? "SIGCONT " : "not continued (it is gone) ") + description);
        }, pauseMs, TimeUnit.MILLISECONDS);
        return true;
    }

    /**
     * SIGKILL the driver, wait until a new one may start at the same directory (the old one's
     * heartbeat must be older than the driver timeout, {@link PolybridgeMediaDriver#DEFAULT_DRIVER_TIMEOUT_MS},
     * or the new one refuses with "active driver detected"), start it the way an operator's
     * supervisor would (same command) and wait until it answers. That whole interval is excluded
     * from the stall measure.
     */
    private void killAndRestartDriver() throws InterruptedException
    {
        final ChildJvm old = driver;
        hostile.pause(); // the harness's own Aeron client lets go first: it is not under test
        final long downNs = System.nanoTime();
        driverDeliberatelyDown = true;
        old.process.destroyForcibly();
        old.process.waitFor(10, TimeUnit.SECONDS);
        event(Action.KILL_DRIVER.label(), "SIGKILL media driver pid " + old.pid());
        Thread.sleep(random.nextInt(1_000));
        final long driverTimeoutMs = PolybridgeMediaDriver.DEFAULT_DRIVER_TIMEOUT_MS;
        final long staleDeadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(driverTimeoutMs + 10_000);
        while (driverActive(dir, driverTimeoutMs) && System.nanoTime() - staleDeadlineNs < 0)
        {
            Thread.sleep(50);
        }
        final long restartNs = System.nanoTime();
        try
        {
            startDriver();
        }
        catch (final IllegalStateException ex)
        {
            errors.add("restarting the driver: " + ex.getMessage());
            Thread.sleep(1_000);
            startDriver();
        }
        final long upNs = System.nanoTime();
        driverDown.add(new Stalls.Interval(downNs, upNs));
        driverDeliberatelyDown = false;
        event("driver-up", "media driver #" + driverIncarnation + " pid " + driver.pid() + " answering " +
            TimeUnit.NANOSECONDS.toMillis(upNs - downNs) + " ms after the kill (started at +" +
            TimeUnit.NANOSECONDS.toMillis(restartNs - downNs) + " ms, when the old heartbeat was stale; printed " +
            "'running' at +" + (driver.firstOutputNs() == 0 ? "?" :
            Long.toString(TimeUnit.NANOSECONDS.toMillis(driver.firstOutputNs() - downNs))) + " ms)");
        hostile.resume();
    }

    /** SIGKILL (or SIGTERM) the client JVM, time its workers' exit, start a new one a little later. */
    private boolean signalClient(final boolean kill)
    {
        final Action action = kill ? Action.KILL_CLIENT : Action.TERM_CLIENT;
        final ClientRun client = currentClient();
        if (client == null || !client.ready || client.signalled || !client.jvm.isAlive())
        {
            event(action.label(), "skipped: no client JVM running");
            return false;
        }
        final List<ProcessHandle> workers = ProcessTracker.workersOf(client.jvm.process.toHandle());
        final Map<ProcessHandle, String> described = new java.util.HashMap<>();
        workers.forEach((worker) -> described.put(worker, ProcessTracker.describe(worker)));
        client.signalled = true;
        final long signalledNs = System.nanoTime();
        if (kill)
        {
            client.jvm.process.destroyForcibly();
        }
        else
        {
            // Not Process.destroy(): it also closes the child's stdin, which the client JVM reads as
            // "stop" and closes its bridge from main, racing the shutdown hook under test.
            ProcessTracker.signal(client.jvm.process.toHandle(), "TERM");
        }
        event(action.label(), (kill ? "SIGKILL" : "SIGTERM") + " client JVM #" + client.incarnation + " pid " +
            client.jvm.pid() + " with workers " + workers.stream().map(ProcessTracker::describe).toList());
        scheduler.execute(() ->
        {
            final long deadlineNs = signalledNs + TimeUnit.SECONDS.toNanos(10);
            List<String> aliveAtJvmExit = null;
            while ((workers.stream().anyMatch(ProcessHandle::isAlive) || client.jvm.isAlive()) &&
                System.nanoTime() - deadlineNs < 0)
            {
                if (aliveAtJvmExit == null && !client.jvm.isAlive())
                {
                    client.jvmExitMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalledNs);
                    aliveAtJvmExit = workers.stream().filter(ProcessHandle::isAlive).map(described::get).toList();
                    client.workersAliveAtJvmExit = aliveAtJvmExit;
                }
                sleepQuietly(10);
            }
            if (client.jvmExitMs < 0 && !client.jvm.isAlive())
            {
                client.jvmExitMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalledNs); // at most this
            }
            final long goneMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalledNs);
            final List<String> left = workers.stream().filter(ProcessHandle::isAlive).map(described::get).toList();
            client.workersGoneMs = left.isEmpty() ? goneMs : -1;
            event("client-workers-gone", (left.isEmpty() ?
                "the workers of client JVM #" + client.incarnation + " exited " + goneMs + " ms after its " +
                (kill ? "SIGKILL" : "SIGTERM") :
                "workers of client JVM #" + client.incarnation + " still running 10 s after its " +
                (kill ? "SIGKILL" : "SIGTERM") + ": " + left) + "; the JVM exited after " + client.jvmExitMs +
                " ms, leaving running " + client.workersAliveAtJvmExit);
        });
        scheduleClientStart(500 + random.nextInt(1_500));
        return true;
    }

    /** A new client JVM after a delay; while the driver is deliberately down, once it is back. */
    private void scheduleClientStart(final long delayMs)
    {
        scheduler.schedule(() ->
        {
            while (driverDeliberatelyDown && !chaosOver)
            {
                sleepQuietly(50);
            }
            if (chaosOver)
            {
                return;
            }
            try
            {
                startClient();
            }
            catch (final Exception ex)
            {
                errors.add("could not start a new client JVM: " + ex);
            }
        }, delayMs, TimeUnit.MILLISECONDS);
    }

    private void hostileBurst()
    {
        event(Action.HOSTILE_BURST.label(), "hostile frames at 10x rate for 2 s");
        hostile.burst(10, 2_000);
    }

    // ---------------------------------------------------------------- the end

    private Summary teardownAndMeasure() throws InterruptedException
    {
        final Summary summary = new Summary();
        for (final ProcessHandle worker : stopped)
        {
            ProcessTracker.signal(worker, "CONT");
        }
        if (driverDeliberatelyDown || driver == null || !driver.isAlive())
        {
            errors.add("the media driver was not running at the end");
        }

        final HostRun host = currentHost();
        if (host != null && host.jvm.isAlive())
        {
            host.stopRequested = true;
            host.jvm.send("stop");
            host.result = host.jvm.await("result",
                ctx.maxDeadlineMs * 2 + ctx.graceMs + TimeUnit.SECONDS.toMillis(30));
            if (host.result == null)
            {
                errors.add("host JVM #" + host.incarnation + " sent no result after stop");
            }
            final Protocol.Message closed = host.jvm.await("closed", TimeUnit.SECONDS.toMillis(40));
            if (closed == null)
            {
                errors.add("host JVM #" + host.incarnation + ": Bridge.close() did not return within 40 s");
            }
            else
            {
                summary.closeMs = closed.number("close_ms");
            }
            if (!host.jvm.process.waitFor(20, TimeUnit.SECONDS))
            {
                summary.hostHangs++;
                errors.add("host JVM #" + host.incarnation + " did not exit within 20 s of returning from main " +
                    "(a non-daemon thread is left): " + threadsOf(host.jvm));
            }
            else if (host.jvm.process.exitValue() != 0)
            {
                errors.add("host JVM #" + host.incarnation + " exited with " + host.jvm.process.exitValue());
            }
            host.detailJson = readQuietly(host.detail);
        }
        for (final ClientRun client : clients)
        {
            if (client.jvm.isAlive() && !client.signalled)
            {
                client.stopRequested = true;
                client.jvm.send("stop");
            }
        }
        for (final ClientRun client : clients)
        {
            if (client.stopRequested && !client.jvm.process.waitFor(40, TimeUnit.SECONDS))
            {
                summary.hostHangs++;
                errors.add("client JVM #" + client.incarnation + " did not exit within 40 s of stop: " +
                    threadsOf(client.jvm));
            }
        }
        if (hostile != null)
        {
            hostile.close();
        }
        if (driver != null && driver.isAlive())
        {
            driver.process.destroy();
            if (!driver.process.waitFor(30, TimeUnit.SECONDS))
            {
                errors.add("the media driver did not exit within 30 s of SIGTERM");
            }
        }

        // Workers exit within ~1 s of losing their parent or driver; give them a few.
        tracker.awaitAllGone(ctx.orphanGraceMs);
        for (final ProcessTracker.Tracked process : tracker.alive())
        {
            summary.orphans.add(process.description() + " (first seen +" +
                TimeUnit.NANOSECONDS.toMillis(process.firstSeenNs() - runStartNs) + " ms)");
        }
        tracker.killAll();
        tracker.awaitAllGone(5_000);

        for (final SharedMemory.Entry entry : SharedMemory.newEntries(shmBefore, "polybridge-chaos-" +
            ProcessHandle.current().pid() + "-", tracker.pids()))
        {
            (entry.ours() ? summary.leakedShm : summary.foreignShm).add(entry);
        }

        for (final HostRun run : hosts)
        {
            summary.add(run);
        }
        final List<Stalls.Interval> gaps = new ArrayList<>();
        hosts.forEach((run) -> gaps.addAll(run.gaps));
        hosts.forEach((run) -> hostStarved.addAll(run.starved));
        summary.maxStallNs = Stalls.maxStallNs(gaps, notCounted());
        summary.maxStallDriverDownOnlyNs = Stalls.maxStallNs(gaps, driverDown);
        summary.gaps = gaps;
        summary.hostExits = hostExits.get();
        return summary;
    }

    /** jstack of a child into a file, for a report of where it was stuck. */
    private static void writeThreadDump(final ChildJvm jvm, final Path file)
    {
        try
        {
            final Process jstack = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "jstack").toString(), Long.toString(jvm.pid()))
                .redirectErrorStream(true)
                .redirectOutput(file.toFile())
                .start();
            jstack.waitFor(10, TimeUnit.SECONDS);
        }
        catch (final IOException ex)
        {
            log("could not run jstack: " + ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    private static String threadsOf(final ChildJvm jvm)
    {
        try
        {
            final Process jstack = new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "jstack").toString(), Long.toString(jvm.pid()))
                .redirectErrorStream(true).start();
            final String dump = new String(jstack.getInputStream().readAllBytes());
            jstack.waitFor(10, TimeUnit.SECONDS);
            final List<String> nonDaemon = new ArrayList<>();
            for (final String line : dump.split("\n"))
            {
                if (line.startsWith("\"") && !line.contains(" daemon ") && !line.contains("DestroyJavaVM"))
                {
                    nonDaemon.add(line.substring(0, line.indexOf('"', 1) + 1));
                }
            }
            return "non-daemon threads " + nonDaemon;
        }
        catch (final IOException | InterruptedException | RuntimeException ex)
        {
            return "(no thread dump: " + ex + ")";
        }
    }

    /** Last resort, also on Ctrl-C: continue, kill and remove everything the run started and made. */
    private synchronized void forceCleanup()
    {
        chaosOver = true;
        cleaningUp = true; // the poller stops judging exits: everything is being killed now
        for (final ProcessHandle worker : stopped)
        {
            ProcessTracker.signal(worker, "CONT");
        }
        tracker.killAll();
        SharedMemory.delete(dir);
        if (shmBefore != null)
        {
            for (final SharedMemory.Entry entry : SharedMemory.newEntries(shmBefore, "polybridge-chaos-" +
                ProcessHandle.current().pid() + "-", tracker.pids()))
            {
                if (entry.ours())
                {
                    SharedMemory.delete(SharedMemory.root().resolve(entry.name()));
                }
            }
        }
    }

    // ---------------------------------------------------------------- the report

    private void writeReport(final Summary summary, final List<String> reasons)
    {
        final JsonOut json = new JsonOut().beginObject();
        json.field("summary_line", summary.line());
        json.field("passed", reasons.isEmpty());
        json.beginArray("verdict_reasons");
        reasons.forEach(json::element);
        json.endArray();
        json.field("seed", ctx.seed);
        json.field("mode", ctx.mode);
        json.field("started", Instant.now().minusNanos(System.nanoTime() - runStartNs).toString());
        json.field("duration_s", ctx.durationMs / 1000);
        json.beginObject("machine");
        json.field("cores", Runtime.getRuntime().availableProcessors());
        json.field("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        json.field("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        json.field("load_average_at_end", readQuietly(Path.of("/proc/loadavg")).trim());
        json.endObject();
        json.beginObject("settings");
        json.field("go_workers", ctx.goInstances);
        json.field("rust_workers", ctx.rustInstances);
        json.field("callers", ctx.callers);
        json.field("window_per_caller", ctx.window);
        json.field("rate_per_s", ctx.rate);
        json.field("deadline_ms", ctx.minDeadlineMs + ".." + ctx.maxDeadlineMs);
        json.field("max_payload", ctx.maxPayload);
        json.field("hostile_frames_per_s", ctx.hostileRate);
        json.field("mean_worker_fault_interval_ms", ctx.meanWorkerFaultIntervalMs);
        json.field("mean_client_fault_interval_ms", ctx.meanClientFaultIntervalMs);
        json.field("max_stall_ms", ctx.maxStallMs);
        json.endObject();
        json.beginObject("summary");
        json.field("calls", summary.calls);
        json.field("ok", summary.ok);
        json.field("failed", summary.failed);
        json.field("lost", summary.lost);
        json.field("duplicated", summary.duplicated);
        json.field("wrong_payload", summary.wrongPayload);
        json.field("late", summary.late);
        json.field("max_stall_ms", TimeUnit.NANOSECONDS.toMillis(summary.maxStallNs));
        json.field("host_exits", summary.hostExits);
        json.field("host_hangs", summary.hostHangs);
        json.field("orphans", summary.orphans.size());
        json.field("leaked_shm_bytes", summary.leakedShmBytes());
        json.field("worker_restarts", summary.restarts);
        json.field("bridge_close_ms", summary.closeMs);
        json.endObject();
        json.beginArray("errors");
        errors.forEach(json::element);
        json.endArray();
        json.beginObject("stall");
        json.field("measured", "longest time between two consecutive completions (ok or failed) seen by the host's " +
            "caller callbacks, from the callers' start to their stop, not counting time while the driver was " +
            "deliberately down (SIGKILL until the restarted driver answers) nor time the host JVM's threads were " +
            "not scheduled (a 10 ms sleep waking over 100 ms late)");
        json.field("max_stall_ms_not_counting_driver_down_only",
            TimeUnit.NANOSECONDS.toMillis(summary.maxStallDriverDownOnlyNs));
        json.field("host_unscheduled_intervals", hostStarved.size());
        json.field("host_unscheduled_longest_ms", hostStarved.stream().mapToLong(Stalls.Interval::lengthNs).max()
            .stream().map(TimeUnit.NANOSECONDS::toMillis).findFirst().orElse(0));
        json.field("host_unscheduled_total_ms", TimeUnit.NANOSECONDS.toMillis(
            hostStarved.stream().mapToLong(Stalls.Interval::lengthNs).sum()));
        json.beginArray("driver_down_ms");
        for (final Stalls.Interval down : driverDown)
        {
            json.element(relativeMs(down.fromNs()) + ".." + relativeMs(down.toNs()) + ": " + recovery(down));
        }
        json.endArray();
        json.beginArray("longest_gaps");
        final List<Stalls.Interval> longest = new ArrayList<>(summary.gaps);
        final List<Stalls.Interval> excluded = notCounted();
        longest.sort((a, b) -> Long.compare(Stalls.longestCountedNs(b, excluded), Stalls.longestCountedNs(a, excluded)));
        for (final Stalls.Interval gap : longest.subList(0, Math.min(10, longest.size())))
        {
            final Map.Entry<Long, String> load = loadSamples.floorEntry(gap.toNs());
            json.element("+" + relativeMs(gap.fromNs()) + "..+" + relativeMs(gap.toNs()) + " ms: " +
                TimeUnit.NANOSECONDS.toMillis(gap.lengthNs()) + " ms, counted " +
                TimeUnit.NANOSECONDS.toMillis(Stalls.longestCountedNs(gap, excluded)) + " ms (" +
                TimeUnit.NANOSECONDS.toMillis(Stalls.overlapNs(gap, hostStarved)) + " ms host unscheduled, " +
                TimeUnit.NANOSECONDS.toMillis(Stalls.overlapNs(gap, driverDown)) + " ms driver down), load average " +
                (load == null ? "?" : load.getValue()));
        }
        json.endArray();
        json.endObject();
        json.beginArray("actions");
        for (final Event event : events)
        {
            json.beginObject();
            json.field("t_ms", event.atMs());
            json.field("action", event.action());
            json.field("detail", event.detail());
            json.endObject();
        }
        json.endArray();
        json.beginArray("hosts");
        for (final HostRun run : hosts)
        {
            json.beginObject();
            json.field("incarnation", run.incarnation);
            json.field("pid", run.jvm.pid());
            json.field("exit_code", run.jvm.isAlive() ? -1 : run.jvm.process.exitValue());
            json.field("stopped_by_harness", run.stopRequested);
            json.field("log", run.jvm.log.toString());
            json.rawField("detail", run.detailJson);
            json.endObject();
        }
        json.endArray();
        json.beginArray("client_jvms");
        for (final ClientRun run : clients)
        {
            json.beginObject();
            json.field("incarnation", run.incarnation);
            json.field("pid", run.jvm.pid());
            json.field("ready", run.ready);
            json.field("signalled", run.signalled);
            json.field("workers_gone_ms", run.workersGoneMs);
            json.field("jvm_exit_ms", run.jvmExitMs);
            json.beginArray("workers_alive_at_jvm_exit");
            run.workersAliveAtJvmExit.forEach(json::element);
            json.endArray();
            json.field("launch_failure", run.launchFailure == null ? "" : run.launchFailure);
            json.field("exit_code", run.jvm.isAlive() ? -1 : run.jvm.process.exitValue());
            json.endObject();
        }
        json.endArray();
        json.beginObject("hostile_frames");
        json.field("sent_total", hostile == null ? 0 : hostile.totalSent());
        json.beginObject("sent_by_kind");
        if (hostile != null)
        {
            hostile.sentByKind().forEach(json::field);
        }
        json.endObject();
        json.beginObject("not_delivered_by_kind");
        if (hostile != null)
        {
            hostile.refusedByKind().forEach(json::field);
        }
        json.endObject();
        json.beginObject("replies_by_code");
        if (hostile != null)
        {
            hostile.repliesByCode().forEach(json::field);
        }
        json.endObject();
        json.field("client_errors", hostile == null ? 0 : hostile.clientErrors());
        json.field("largest_reply_bytes", hostile == null ? 0 : hostile.largestReply());
        json.beginArray("request_streams_served_by_two_processes");
        if (hostile != null)
        {
            hostile.streamConflicts().forEach((conflict) -> json.element(conflict + describePids(conflict)));
        }
        json.endArray();
        json.endObject();
        json.beginObject("processes");
        json.field("tracked", tracker.trackedCount());
        json.beginObject("by_pid");
        tracker.all().stream().sorted((a, b) -> Long.compare(a.handle().pid(), b.handle().pid())).forEach(
            (process) -> json.field(Long.toString(process.handle().pid()), process.description()));
        json.endObject();
        json.beginArray("orphans");
        summary.orphans.forEach(json::element);
        json.endArray();
        json.endObject();
        json.beginObject("shm");
        json.beginArray("leaked");
        summary.leakedShm.forEach((entry) -> json.element(entry.name() + " " + entry.bytes() + " bytes" +
            (entry.driverPid() > 0 ? " (driver pid " + entry.driverPid() + ")" : "")));
        json.endArray();
        json.beginArray("foreign_new_entries_ignored");
        summary.foreignShm.forEach((entry) -> json.element(entry.name() + " " + entry.bytes() + " bytes" +
            (entry.driverPid() > 0 ? " (driver pid " + entry.driverPid() + ")" : "")));
        json.endArray();
        json.endObject();
        json.field("logs", ctx.logDir.toString());
        json.endObject();
        try
        {
            Files.createDirectories(ctx.report.toAbsolutePath().getParent());
            Files.writeString(ctx.report, json.toString() + "\n");
        }
        catch (final IOException ex)
        {
            log("could not write " + ctx.report + ": " + ex);
        }
    }

    /**
     * How long after the restarted driver answered the host's calls succeeded again, from the
     * host's stats lines (every 500 ms, so to within 500 ms).
     */
    private String recovery(final Stalls.Interval down)
    {
        for (final HostRun host : hosts)
        {
            final Map.Entry<Long, Long> before = host.okTimeline.floorEntry(down.toNs());
            if (before == null)
            {
                continue;
            }
            for (final Map.Entry<Long, Long> later : host.okTimeline.tailMap(down.toNs(), false).entrySet())
            {
                if (later.getValue() > before.getValue())
                {
                    return "calls succeeded again within " + TimeUnit.NANOSECONDS.toMillis(later.getKey() - down.toNs()) +
                        " ms of the restarted driver answering (host stats every 500 ms)";
                }
            }
        }
        return "no call succeeded after the restarted driver answered";
    }

    /** Time that does not count for stalls: the driver deliberately down, the host JVM not scheduled. */
    private List<Stalls.Interval> notCounted()
    {
        final List<Stalls.Interval> excluded = new ArrayList<>(driverDown);
        excluded.addAll(hostStarved);
        return excluded;
    }

    /** The tracked processes behind the pids in a text, e.g. " (go worker go-0 pid 1 (parent 2), ...)". */
    private String describePids(final String text)
    {
        final List<String> described = new ArrayList<>();
        for (final ProcessTracker.Tracked process : tracker.all())
        {
            if (text.matches(".*\\b" + process.handle().pid() + "\\b.*"))
            {
                described.add(process.description());
            }
        }
        return described.isEmpty() ? "" : " " + described;
    }

    /** The previous run's child logs go: file names repeat (host-1.log), incarnation counts do not. */
    private void clearLogs() throws IOException
    {
        if (Files.isDirectory(ctx.logDir))
        {
            try (java.util.stream.Stream<Path> logs = Files.list(ctx.logDir))
            {
                for (final Path log : logs.toList())
                {
                    Files.deleteIfExists(log);
                }
            }
        }
    }

    /** A failed run's report and logs are copied aside, so the next run does not overwrite them. */
    private void keepFailedRun()
    {
        final Path kept = ctx.logDir.resolveSibling("chaos-failed-" + ctx.mode + "-" + ctx.seed);
        try
        {
            Files.createDirectories(kept);
            Files.copy(ctx.report, kept.resolve(ctx.report.getFileName()),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (java.util.stream.Stream<Path> logs = Files.list(ctx.logDir))
            {
                for (final Path log : logs.toList())
                {
                    Files.copy(log, kept.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            log("the report and logs of this failed run are kept in " + kept);
        }
        catch (final IOException ex)
        {
            log("could not keep the failed run in " + kept + ": " + ex);
        }
    }

    private long relativeMs(final long ns)
    {
        return TimeUnit.NANOSECONDS.toMillis(ns - runStartNs);
    }

    private void event(final String action, final String detail)
    {
        final long atMs = relativeMs(System.nanoTime());
        events.add(new Event(atMs, action, detail));
        log(String.format(Locale.ROOT, "+%.1fs %s: %s", atMs / 1000.0, action, detail));
    }

    private static void log(final String message)
    {
        System.err.println("chaos: " + message);
    }

    private static String readQuietly(final Path file)
    {
        try
        {
            return file == null ? null : Files.readString(file);
        }
        catch (final IOException ex)
        {
            return null;
        }
    }

    private static void sleepQuietly(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- state

    /** One host JVM, from start to exit. */
    private static final class HostRun
    {
        final int incarnation;
        final List<Stalls.Interval> gaps = new CopyOnWriteArrayList<>();
        final List<Stalls.Interval> starved = new CopyOnWriteArrayList<>();
        final java.util.concurrent.ConcurrentSkipListMap<Long, Long> okTimeline =
            new java.util.concurrent.ConcurrentSkipListMap<>();
        ChildJvm jvm;
        Path detail;
        volatile Protocol.Message lastStats;
        volatile Protocol.Message result;
        volatile boolean stopRequested;
        volatile boolean exitCounted;
        volatile long readyNs;
        String detailJson;

        HostRun(final int incarnation)
        {
            this.incarnation = incarnation;
        }

        void onMessage(final Protocol.Message message)
        {
            switch (message.kind())
            {
                case "stats" ->
                {
                    lastStats = message;
                    okTimeline.put(System.nanoTime(), message.number("ok"));
                }
                case "gap" -> gaps.add(new Stalls.Interval(message.number("from"), message.number("to")));
                case "starved" -> starved.add(new Stalls.Interval(message.number("from"), message.number("to")));
                case "result" -> result = message;
                default ->
                {
                }
            }
        }
    }

    /** One client JVM, from start to exit. */
    private static final class ClientRun
    {
        final int incarnation;
        ChildJvm jvm;
        volatile boolean ready;
        volatile boolean signalled;
        volatile boolean stopRequested;
        volatile boolean exitCounted;
        volatile long workersGoneMs = -1;
        volatile String launchFailure;
        volatile long jvmExitMs = -1;
        volatile List<String> workersAliveAtJvmExit = List.of();

        ClientRun(final int incarnation)
        {
            this.incarnation = incarnation;
        }

        void onMessage(final Protocol.Message message)
        {
            if (message.kind().equals("launch-failed"))
            {
                launchFailure = message.text("error");
            }
        }
    }

    /** The figures of the summary line, summed over host incarnations. */
    static final class Summary
    {
        long calls;
        long ok;
        long failed;
        long lost;
        long duplicated;
        long wrongPayload;
        long late;
        long restarts;
        long maxStallNs;
        long maxStallDriverDownOnlyNs;
        long closeMs = -1;
        int hostExits;
        int hostHangs;
        final List<String> orphans = new ArrayList<>();
        final List<SharedMemory.Entry> leakedShm = new ArrayList<>();
        final List<SharedMemory.Entry> foreignShm = new ArrayList<>();
        List<Stalls.Interval> gaps = List.of();

        /** A host that sent its result counts by it; one that died by its last stats, the rest lost. */
        void add(final HostRun run)
        {
            final Protocol.Message figures = run.result != null ? run.result : run.lastStats;
            if (figures == null)
            {
                return;
            }
            calls += figures.number("calls");
            ok += figures.number("ok");
            failed += figures.number("failed");
            lost += run.result != null ? figures.number("lost") :
                figures.number("calls") - figures.number("ok") - figures.number("failed");
            duplicated += figures.number("duplicated");
            wrongPayload += figures.number("wrong_payload");
            late += figures.number("late");
            restarts += figures.number("restarts");
        }

        long leakedShmBytes()
        {
            return leakedShm.stream().mapToLong(SharedMemory.Entry::bytes).sum();
        }

        String line()
        {
            return "chaos: calls=" + calls + " ok=" + ok + " failed=" + failed + " lost=" + lost +
                " duplicated=" + duplicated + " max_stall_ms=" + TimeUnit.NANOSECONDS.toMillis(maxStallNs) +
                " host_exits=" + hostExits + " orphans=" + orphans.size() + " leaked_shm_bytes=" + leakedShmBytes() +
                " worker_restarts=" + restarts;
        }

        List<String> verdict(final Context ctx, final List<String> errors)
        {
            final List<String> reasons = new ArrayList<>();
            if (calls == 0)
            {
                reasons.add("no calls were made");
            }
            if (lost != 0)
            {
                reasons.add(lost + " calls lost");
            }
            if (duplicated != 0)
            {
                reasons.add(duplicated + " calls completed more than once");
            }
            if (wrongPayload != 0)
            {
                reasons.add(wrongPayload + " echoes came back with other bytes");
            }
            if (hostExits != 0)
            {
                reasons.add(hostExits + " bridge JVMs exited unasked");
            }
            if (hostHangs != 0)
            {
                reasons.add(hostHangs + " bridge JVMs did not exit after closing their bridge");
            }
            if (!orphans.isEmpty())
            {
                reasons.add(orphans.size() + " processes outlived the run: " + orphans);
            }
            if (leakedShmBytes() != 0)
            {
                reasons.add(leakedShmBytes() + " bytes left in " + SharedMemory.root());
            }
            if (TimeUnit.NANOSECONDS.toMillis(maxStallNs) > ctx.maxStallMs)
            {
                reasons.add("callers saw no completion for " + TimeUnit.NANOSECONDS.toMillis(maxStallNs) +
                    " ms while the driver was up (limit " + ctx.maxStallMs + " ms)");
            }
            if (!errors.isEmpty())
            {
                reasons.add(errors.size() + " harness errors (see errors)");
            }
            return reasons;
        }
    }

    /**
     * Settings: {@link #parse(String[])} reads {@code --name value} options, {@link #conclude()}
     * fills what depends on the mode and validates.
     */
    static final class Context
    {
        String mode = "full";
        long durationMs = -1;
        long seed = System.nanoTime() ^ ProcessHandle.current().pid();
        Path report;
        Path logDir;
        int goInstances = 2;
        int rustInstances = 2;
        int callers = 4;
        int window = 8;
        int rate = -1;
        int maxPayload = 256 * 1024;
        long minDeadlineMs = 1_000;
        long maxDeadlineMs = 3_000;
        long graceMs = 3_000;
        int hostileRate = 200;
        long meanWorkerFaultIntervalMs = -1;
        long meanClientFaultIntervalMs = 30_000;
        long maxStallMs = 1_000;
        long startTimeoutMs = 60_000;
        long orphanGraceMs = 5_000;
        Set<Action> actions = EnumSet.allOf(Action.class);

        static String usage()
        {
            return String.join("\n",
                "usage: java -jar chaos/target/chaos.jar [options]",
                "  --mode smoke|full        smoke: 25 s of chaos (make chaos-smoke); full: 180 s (make chaos)",
                "  --duration-s N           length of the chaos phase",
                "  --seed N                 the schedule's seed (printed at the start)",
                "  --go N --rust N          the host's workers (2 and 2)",
                "  --callers N --window N   caller threads and calls each keeps in flight (4, 8)",
                "  --rate N                 calls per second over all callers (smoke 400, full 600)",
                "  --hostile-rate N         hostile frames per second (200)",
                "  --worker-fault-ms N      mean time between worker SIGKILL/SIGSTOP (smoke 3000, full 4000)",
                "  --client-fault-ms N      mean time between client JVM SIGKILL/SIGTERM (30000; each at least once)",
                "  --actions a,b,...        kill-worker,stop-worker,kill-driver,kill-client,term-client,hostile-burst",
                "  --max-stall-ms N         the stall limit (1000)",
                "  --report FILE            the JSON report (chaos/target/chaos-report.json)",
                "  --logs DIR               child logs (chaos/target/chaos-logs)");
        }

        static Context parse(final String[] args)
        {
            final Context ctx = new Context();
            for (int i = 0; i < args.length; i++)
            {
                final String name = args[i];
                if (i + 1 >= args.length)
                {
                    throw new IllegalArgumentException(name + " needs a value");
                }
                final String value = args[++i];
                switch (name)
                {
                    case "--mode" -> ctx.mode = value;
                    case "--duration-s" -> ctx.durationMs = TimeUnit.SECONDS.toMillis(Long.parseLong(value));
                    case "--seed" -> ctx.seed = Long.parseLong(value);
                    case "--go" -> ctx.goInstances = Integer.parseInt(value);
                    case "--rust" -> ctx.rustInstances = Integer.parseInt(value);
                    case "--callers" -> ctx.callers = Integer.parseInt(value);
                    case "--window" -> ctx.window = Integer.parseInt(value);
                    case "--rate" -> ctx.rate = Integer.parseInt(value);
                    case "--hostile-rate" -> ctx.hostileRate = Integer.parseInt(value);
                    case "--worker-fault-ms" -> ctx.meanWorkerFaultIntervalMs = Long.parseLong(value);
                    case "--client-fault-ms" -> ctx.meanClientFaultIntervalMs = Long.parseLong(value);
                    case "--max-stall-ms" -> ctx.maxStallMs = Long.parseLong(value);
                    case "--report" -> ctx.report = Path.of(value);
                    case "--logs" -> ctx.logDir = Path.of(value);
                    case "--actions" ->
                    {
                        final Set<Action> chosen = EnumSet.noneOf(Action.class);
                        for (final String label : value.split(","))
                        {
                            chosen.add(Action.valueOf(label.trim().toUpperCase(Locale.ROOT).replace('-', '_')));
                        }
                        ctx.actions = chosen;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + name);
                }
            }
            return ctx;
        }

        Context conclude()
        {
            final boolean smoke;
            switch (mode)
            {
                case "smoke" -> smoke = true;
                case "full" -> smoke = false;
                default -> throw new IllegalArgumentException("--mode is smoke or full, not " + mode);
            }
            final Path root = Path.of(System.getProperty("polybridge.root", "."));
            if (durationMs < 0)
            {
                durationMs = smoke ? 25_000 : 180_000;
            }
            if (rate < 0)
            {
                rate = smoke ? 400 : 600;
            }
            if (meanWorkerFaultIntervalMs < 0)
            {
                meanWorkerFaultIntervalMs = smoke ? 3_000 : 4_000;
            }
            if (report == null)
            {
                report = root.resolve("chaos/target/chaos-report" + (smoke ? "-smoke" : "") + ".json");
            }
            if (logDir == null)
            {
                logDir = root.resolve("chaos/target/chaos-logs" + (smoke ? "-smoke" : ""));
            }
            if (durationMs < 10_000)
            {
                throw new IllegalArgumentException("--duration-s must be at least 10");
            }
            if (goInstances < 1 || rustInstances < 1 || callers < 1 || window < 1 || rate < 1 || hostileRate < 0)
            {
                throw new IllegalArgumentException("--go, --rust, --callers, --window and --rate must be at least 1");
            }
            if (actions.contains(Action.KILL_DRIVER) && durationMs < 20_000)
            {
                throw new IllegalArgumentException("kill-driver needs --duration-s 20 or more (the restart and " +
                    "the reconnection take seconds), or leave it out of --actions");
            }
            return this;
        }
    }

    /** For tests: the plan a seed gives. */
    static List<Planned> planFor(final Context ctx)
    {
        return Collections.unmodifiableList(new Chaos(ctx).plan());
    }
}
