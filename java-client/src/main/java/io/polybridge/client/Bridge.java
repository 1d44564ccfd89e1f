package io.polybridge.client;

import io.aeron.Publication;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.codecs.RequestEncoder;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Everything polybridge needs, started and watched from Java: a media driver (embedded in a private
 * directory, or an external one), Go and Rust worker processes (spawned and supervised, or started
 * by someone else), and a {@link PolybridgeClient} that routes each call to the least-loaded live
 * worker serving its handler.
 * <pre>{@code
 * try (Bridge bridge = Bridge.launch())
 * {
 *     Fingerprint fp = bridge.fingerprint(url, headers, body, Duration.ofSeconds(5)).join();
 *     Signals signals = bridge.signals(url, body, Duration.ofSeconds(5)).join();
 * }
 * }</pre>
 * Lifecycle (docs/lifecycle.md): a worker is routable once it has announced itself with this
 * client's schema; announcements double as heartbeats, so a worker silent for
 * {@link Context#livenessTimeout()} is declared dead, as is a spawned one whose process exits, and
 * every call in flight to it fails at once with WORKER_UNAVAILABLE. A crashed or hung spawned
 * worker is (killed and) restarted with exponential backoff within a restart budget. {@link #close()}
 * stops taking calls, drains those in flight, stops the workers with SIGTERM, then the driver.
 */
public final class Bridge implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger("polybridge.bridge");
    private static final long GRACEFUL_EXIT_MS = 5_000;

    private final Context ctx;
    private final EmbeddedMediaDriver driver;
    private final PolybridgeClient client;
    private final ScheduledExecutorService supervisor;
    private final List<ManagedWorker> managed = new ArrayList<>();
    private final AtomicInteger rotation = new AtomicInteger();
    private volatile WorkerLink[] routes = new WorkerLink[0];
    private volatile boolean starting = true;
    private volatile boolean closing;
    private boolean closed;

    private Bridge(final Context ctx)
    {
        this.ctx = ctx;
        EmbeddedMediaDriver embedded = null;
        PolybridgeClient connected = null;
        ScheduledExecutorService scheduler = null;
        try
        {
            if (ctx.aeronDirectoryName == null)
            {
                embedded = EmbeddedMediaDriver.launch();
            }
            final String dir = embedded != null ? embedded.aeronDirectoryName() : ctx.aeronDirectoryName;
            scheduler = Executors.newSingleThreadScheduledExecutor((task) ->
            {
                final Thread thread = new Thread(task, "polybridge-supervisor");
                thread.setDaemon(true);
                return thread;
            });
            final ScheduledExecutorService deathHandler = scheduler;
            final PolybridgeClient.Context clientCtx = ctx.client
                .aeronDirectoryName(dir)
                .workerLivenessTimeout(ctx.livenessTimeout);
            clientCtx.deathListener = (link) -> deathHandler.execute(() -> onDeclaredDead(link));
            connected = PolybridgeClient.connect(clientCtx);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietCloseAll(connected, embedded);
            if (scheduler != null)
            {
                scheduler.shutdownNow();
            }
            throw ex;
        }
        driver = embedded;
        client = connected;
        supervisor = scheduler;
    }

    /**
     * Launch with the defaults: an embedded driver, one Go and one Rust worker spawned from the
     * binaries the project's build puts in place ({@link WorkerProcess#binary(Language)}).
     *
     * @return a bridge whose workers have all announced themselves; close it when done.
     */
    public static Bridge launch()
    {
        return launch(new Context());
    }

    /**
     * Launch as configured: returns once every spawned worker has announced itself and every
     * handler of {@link Context#awaitHandlers(String...)} has a live worker.
     *
     * @param ctx settings, validated here.
     * @return a bridge ready to call; close it when done.
     */
    public static Bridge launch(final Context ctx)
    {
        final Bridge bridge = new Bridge(ctx.conclude());
        try
        {
            bridge.startWorkers();
            bridge.starting = false;
            return bridge;
        }
        catch (final RuntimeException ex)
        {
            bridge.close();
            throw ex;
        }
    }

    private void startWorkers()
    {
        for (int i = 0; i < ctx.goInstances; i++)
        {
            managed.add(new ManagedWorker(Language.GO, "go-" + i, ctx.goFirstStream + i, ctx.goBinary));
        }
        for (int i = 0; i < ctx.rustInstances; i++)
        {
            managed.add(new ManagedWorker(Language.RUST, "rust-" + i, ctx.rustFirstStream + i, ctx.rustBinary));
        }
        for (final ManagedWorker worker : managed)
        {
            worker.start();
        }
        final long deadlineNs = System.nanoTime() + ctx.startTimeout.toNanos();
        for (final ManagedWorker worker : managed)
        {
            while (!worker.isReady())
            {
                final WorkerProcess process = worker.process;
                if (!process.process().isAlive())
                {
                    throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "worker '" + worker.workerId +
                        "' exited with code " + process.process().exitValue() + " before announcing itself; its " +
                        "output is in the log 'polybridge.worker." + worker.workerId + "'");
                }
                awaitUntil(deadlineNs, () -> "worker '" + worker.workerId + "' (pid " + process.process().pid() +
                    ") did not announce itself within " + ctx.startTimeout);
            }
        }
        for (final String handler : ctx.awaitHandlers)
        {
            while (route(handler) == null)
            {
                awaitUntil(deadlineNs, () -> "no live worker serving '" + handler + "' announced itself within " +
                    ctx.startTimeout + " on driver " + aeronDirectoryName() + "; announced: " + client.workers());
            }
        }
    }

    private void awaitUntil(final long deadlineNs, final java.util.function.Supplier<String> message)
    {
        if (System.nanoTime() - deadlineNs > 0)
        {
            throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, message.get());
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }

    /**
     * Call a handler on the least-loaded live worker that serves it, with the default deadline.
     *
     * @param handler the handler name.
     * @param payload the request bytes; not retained after this returns.
     * @return the response bytes, or a {@link PolybridgeException}: NOT_FOUND when no announced
     *     worker serves the handler, VERSION_MISMATCH when only workers of another schema do,
     *     WORKER_UNAVAILABLE when they are all dead or the bridge is closing.
     */
    public CompletableFuture<byte[]> call(final String handler, final byte[] payload)
    {
        return call(handler, payload, client.context().defaultTimeout());
    }

    /**
     * Call a handler on the least-loaded live worker that serves it.
     *
     * @param handler the handler name.
     * @param payload the request bytes; not retained after this returns.
     * @param timeout the deadline, from now.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(final String handler, final byte[] payload, final Duration timeout)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        return call(handler, new UnsafeBuffer(payload), 0, payload.length, timeout);
    }

    /**
     * Call a handler with a range of a buffer as payload.
     *
     * @param handler the handler name.
     * @param payload the buffer holding the request bytes; not retained after this returns.
     * @param offset  where the request bytes start.
     * @param length  how many bytes.
     * @param timeout the deadline, from now.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler, final DirectBuffer payload, final int offset, final int length, final Duration timeout)
    {
        if (closing)
        {
            return failed(ErrorCode.WORKER_UNAVAILABLE, "the bridge is closing and takes no new calls");
        }
        if (handler == null || handler.isEmpty())
        {
            throw new IllegalArgumentException("handler must be a handler name such as \"echo\"");
        }
        final WorkerLink link = route(handler);
        if (link == null)
        {
            return failed(handler);
        }
        final Publication publication = client.publication(link.requestStreamId);
        link.routedInFlight.incrementAndGet();
        final CompletableFuture<byte[]> call = client.call(publication, link, handler, payload, offset, length, timeout);
        call.whenComplete((bytes, error) -> link.routedInFlight.decrementAndGet());
        return call;
    }

    /**
     * Fingerprint a page with wappalyzer on a Go worker ({@code wappalyzer.fingerprint}).
     *
     * @param url     where the page came from.
     * @param headers the response headers it came with.
     * @param body    the page bytes.
     * @param timeout the deadline, from now.
     * @return the technologies found; cancelling it cancels the call.
     */
    public CompletableFuture<Fingerprint> fingerprint(
        final String url, final List<Fingerprint.Header> headers, final byte[] body, final Duration timeout)
    {
        final TypedCodecs codecs = TypedCodecs.get();
        final int length = codecs.encodeFingerprint(url, headers, body);
        return TypedCodecs.mapped(
            call(TypedCodecs.FINGERPRINT, codecs.buffer, 0, length, timeout), TypedCodecs::decodeFingerprint);
    }

    /**
     * Extract HTML signals from a page on a Rust worker ({@code html.signals}).
     *
     * @param url     where the page came from; hosts other than its host are external.
     * @param body    the page bytes.
     * @param timeout the deadline, from now.
     * @return the signals; cancelling it cancels the call.
     */
    public CompletableFuture<Signals> signals(final String url, final byte[] body, final Duration timeout)
    {
        final TypedCodecs codecs = TypedCodecs.get();
        final int length = codecs.encodeSignals(url, body);
        return TypedCodecs.mapped(
            call(TypedCodecs.SIGNALS, codecs.buffer, 0, length, timeout), TypedCodecs::decodeSignals);
    }

    /**
     * @return the workers announced so far with whether each is live, e.g. for a health endpoint.
     */
    public List<String> describeWorkers()
    {
        final List<String> described = new ArrayList<>();
        for (final WorkerLink link : client.links())
        {
            described.add(link.toString());
        }
        return described;
    }

    /**
     * @return the live workers' announcements.
     */
    public List<WorkerInfo> liveWorkers()
    {
        final List<WorkerInfo> live = new ArrayList<>();
        for (final WorkerLink link : client.links())
        {
            final WorkerInfo info = link.info;
            if (link.live && info != null)
            {
                live.add(info);
            }
        }
        return live;
    }

    /**
     * @return the spawned workers' current processes by worker id (empty with external workers).
     */
    public Map<String, ProcessHandle> processes()
    {
        final Map<String, ProcessHandle> processes = new LinkedHashMap<>();
        for (final ManagedWorker worker : managed)
        {
            processes.put(worker.workerId, worker.process.process().toHandle());
        }
        return processes;
    }

    /**
     * @param workerId a spawned worker's id, e.g. "go-0".
     * @return how many times it has been restarted.
     */
    public int restarts(final String workerId)
    {
        return managed(workerId).restarts;
    }

    /**
     * @param workerId a spawned worker's id.
     * @return whether its current process has announced itself and is live.
     */
    public boolean isReady(final String workerId)
    {
        return managed(workerId).isReady();
    }

    private ManagedWorker managed(final String workerId)
    {
        for (final ManagedWorker worker : managed)
        {
            if (worker.workerId.equals(workerId))
            {
                return worker;
            }
        }
        throw new IllegalArgumentException("no spawned worker '" + workerId + "'");
    }

    /**
     * @return the client underneath, for calls to one named worker ({@link PolybridgeClient#awaitWorker}).
     */
    public PolybridgeClient client()
    {
        return client;
    }

    /**
     * @return the media driver's directory.
     */
    public String aeronDirectoryName()
    {
        return client.context().aeronDirectoryName();
    }

    /**
     * Stop taking calls, wait up to {@link Context#drainTimeout()} for those in flight, fail what is
     * left, stop the spawned workers (SIGTERM, SIGKILL after 5 s) and then the embedded driver, whose
     * directory is removed.
     */
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        closing = true;
        final long drainDeadlineNs = System.nanoTime() + ctx.drainTimeout.toNanos();
        while (client.inFlight() > 0 && System.nanoTime() - drainDeadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        client.close();
        supervisor.shutdownNow();
        for (final ManagedWorker worker : managed)
        {
            worker.process.process().destroy(); // SIGTERM to all first: they stop in parallel
        }
        for (final ManagedWorker worker : managed)
        {
            worker.process.close();
        }
        CloseHelper.close(driver);
    }

    /** The least-loaded live worker with this client's schema serving the handler, or null. */
    private WorkerLink route(final String handler)
    {
        final WorkerLink[] candidates = routes();
        final int size = candidates.length;
        final int start = size == 0 ? 0 : Math.floorMod(rotation.getAndIncrement(), size);
        WorkerLink best = null;
        for (int i = 0; i < size; i++)
        {
            final WorkerLink link = candidates[(start + i) % size];
            final WorkerInfo info = link.info;
            if (link.live && info != null && compatible(info) && info.handlers().contains(handler) &&
                (best == null || link.routedInFlight.get() < best.routedInFlight.get()))
            {
                best = link;
            }
        }
        return best;
    }

    private WorkerLink[] routes()
    {
        final WorkerLink[] current = routes;
        final Collection<WorkerLink> links = client.links();
        if (links.size() != current.length)
        {
            final WorkerLink[] fresh = links.toArray(new WorkerLink[0]);
            routes = fresh;
            return fresh;
        }
        return current;
    }

    /** Why no worker can take a call to this handler, as the most useful error code. */
    private CompletableFuture<byte[]> failed(final String handler)
    {
        WorkerInfo mismatched = null;
        WorkerLink dead = null;
        final TreeSet<String> served = new TreeSet<>();
        for (final WorkerLink link : client.links())
        {
            final WorkerInfo info = link.info;
            if (info == null)
            {
                continue;
            }
            if (link.live)
            {
                served.addAll(info.handlers());
            }
            if (info.handlers().contains(handler))
            {
                if (!compatible(info))
                {
                    mismatched = info;
                }
                else if (!link.live)
                {
                    dead = link;
                }
            }
        }
        if (mismatched != null)
        {
            return failed(ErrorCode.VERSION_MISMATCH, "worker '" + mismatched.workerId() + "' serves '" + handler +
                "' but speaks schema " + mismatched.schemaId() + " version " + mismatched.schemaVersion() +
                "; this client speaks schema " + RequestEncoder.SCHEMA_ID + " version " + RequestEncoder.SCHEMA_VERSION);
        }
        if (dead != null)
        {
            return failed(ErrorCode.WORKER_UNAVAILABLE, "every worker serving '" + handler + "' is dead; " + dead +
                (managed.isEmpty() ? "" : "; spawned workers are restarted, try again"));
        }
        return failed(ErrorCode.NOT_FOUND, "no live worker serves '" + handler + "'; served: " + served);
    }

    private static boolean compatible(final WorkerInfo info)
    {
        return info.schemaId() == RequestEncoder.SCHEMA_ID && info.schemaVersion() == RequestEncoder.SCHEMA_VERSION;
    }

    private static <T> CompletableFuture<T> failed(final ErrorCode code, final String message)
    {
        return CompletableFuture.failedFuture(new PolybridgeException(code, message));
    }

    /** Supervisor thread: a spawned worker declared dead by missed heartbeats is hung; kill it. */
    private void onDeclaredDead(final WorkerLink link)
    {
        final WorkerInfo info = link.info;
        for (final ManagedWorker worker : managed)
        {
            final Process process = worker.process.process();
            if (info != null && worker.requestStreamId == link.requestStreamId && process.pid() == info.pid() &&
                process.isAlive())
            {
                LOG.log(System.Logger.Level.WARNING, "worker '" + worker.workerId + "' (pid " + process.pid() +
                    ") declared dead: " + link.deathReason + "; killing it");
                process.destroyForcibly(); // onExit restarts it
            }
        }
    }

    /** A spawned worker: its current process, and its restart history. */
    private final class ManagedWorker
    {
        final Language language;
        final String workerId;
        final int requestStreamId;
        final Path binary;
        final Deque<Long> restartTimesNs = new ArrayDeque<>();
        volatile WorkerProcess process;
        volatile int restarts;

        ManagedWorker(final Language language, final String workerId, final int requestStreamId, final Path binary)
        {
            this.language = language;
            this.workerId = workerId;
            this.requestStreamId = requestStreamId;
            this.binary = binary;
        }

        void start()
        {
            final List<String> options = new ArrayList<>(List.of(
                "--announce-interval-ms", Long.toString(ctx.announceInterval.toMillis())));
            options.addAll(language == Language.GO ? ctx.goOptions : ctx.rustOptions);
            final WorkerProcess started = WorkerProcess.startLogged(
                binary, client.context().aeronDirectoryName(), workerId, requestStreamId, options);
            process = started;
            LOG.log(System.Logger.Level.DEBUG, "started worker '" + workerId + "' pid " + started.process().pid());
            started.process().onExit().thenAccept((exited) -> supervisor.execute(() -> onExit(exited)));
        }

        boolean isReady()
        {
            final WorkerProcess current = process;
            final WorkerLink link = client.link(requestStreamId);
            final WorkerInfo info = link == null ? null : link.info;
            return current != null && link != null && link.live && info != null &&
                info.pid() == current.process().pid() && client.publication(requestStreamId).isConnected();
        }

        void onExit(final Process exited)
        {
            final String reason = "process " + exited.pid() + " exited with code " + exited.exitValue();
            client.reportWorkerExit(requestStreamId, exited.pid(), reason);
            if (closing || starting)
            {
                return;
            }
            final long nowNs = System.nanoTime();
            while (!restartTimesNs.isEmpty() && nowNs - restartTimesNs.peekFirst() > ctx.restartWindow.toNanos())
            {
                restartTimesNs.pollFirst();
            }
            if (restartTimesNs.size() >= ctx.restartBudget)
            {
                LOG.log(System.Logger.Level.ERROR, "worker '" + workerId + "' " + reason + "; restart budget of " +
                    ctx.restartBudget + " per " + ctx.restartWindow + " spent, not restarting it");
                return;
            }
            final long delayMs = Math.min(ctx.restartBackoffMax.toMillis(),
                ctx.restartBackoff.toMillis() << Math.min(restartTimesNs.size(), 20));
            restartTimesNs.addLast(nowNs);
            LOG.log(System.Logger.Level.WARNING, "worker '" + workerId + "' " + reason + "; restarting in " +
                delayMs + " ms");
            supervisor.schedule(() ->
            {
                if (!closing)
                {
                    try
                    {
                        start();
                        restarts++;
                    }
                    catch (final RuntimeException ex)
                    {
                        LOG.log(System.Logger.Level.ERROR, "could not restart worker '" + workerId + "'", ex);
                    }
                }
            }, delayMs, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Bridge settings with defaults; {@link #conclude()} validates them once, at launch. Defaults:
     * embedded driver, one Go and one Rust worker spawned with a 200 ms announcement interval, a
     * worker silent for 800 ms is dead, restarts after 100 ms doubling to 5 s, at most 5 restarts a
     * minute per worker, 5 s to drain at close.
     */
    public static final class Context
    {
        private String aeronDirectoryName;
        private int goInstances = 1;
        private int rustInstances = 1;
        private int goFirstStream = 100;
        private int rustFirstStream = 200;
        private Path goBinary;
        private Path rustBinary;
        private List<String> goOptions = List.of();
        private List<String> rustOptions = List.of();
        private Duration announceInterval = Duration.ofMillis(200);
        private Duration livenessTimeout = Duration.ofMillis(800);
        private Duration startTimeout = Duration.ofSeconds(30);
        private Duration restartBackoff = Duration.ofMillis(100);
        private Duration restartBackoffMax = Duration.ofSeconds(5);
        private int restartBudget = 5;
        private Duration restartWindow = Duration.ofMinutes(1);
        private Duration drainTimeout = Duration.ofSeconds(5);
        private List<String> awaitHandlers = List.of();
        private final PolybridgeClient.Context client = new PolybridgeClient.Context();

        Context conclude()
        {
            if (goInstances < 0 || rustInstances < 0)
            {
                throw new IllegalArgumentException("instances must be 0 or more, were go " + goInstances +
                    " and rust " + rustInstances);
            }
            if (goFirstStream + goInstances > rustFirstStream && rustFirstStream + rustInstances > goFirstStream)
            {
                throw new IllegalArgumentException("Go request streams " + goFirstStream + ".. and Rust request " +
                    "streams " + rustFirstStream + ".. overlap; use fewer instances or other first streams");
            }
            for (final Duration duration : List.of(announceInterval, livenessTimeout, startTimeout, restartBackoff,
                restartBackoffMax, restartWindow, drainTimeout))
            {
                PolybridgeClient.requirePositive(duration, "durations");
            }
            if (livenessTimeout.compareTo(announceInterval.multipliedBy(2)) < 0)
            {
                throw new IllegalArgumentException("livenessTimeout " + livenessTimeout + " must be at least two " +
                    "announcement intervals (" + announceInterval + "), or healthy workers would be declared dead");
            }
            if (restartBudget < 0)
            {
                throw new IllegalArgumentException("restartBudget must be 0 or more, was " + restartBudget);
            }
            if (goBinary == null)
            {
                goBinary = WorkerProcess.binary(Language.GO);
            }
            if (rustBinary == null)
            {
                rustBinary = WorkerProcess.binary(Language.RUST);
            }
            return this;
        }

        /**
         * @param aeronDirectoryName an external media driver's directory (e.g. the standalone
         *                           media-driver/ process); null (the default) embeds a driver.
         * @return this.
         */
        public Context aeronDirectoryName(final String aeronDirectoryName)
        {
            this.aeronDirectoryName = aeronDirectoryName;
            return this;
        }

        /**
         * @param goInstances Go workers to spawn, on request streams 100, 101, ... (default 1; 0 for
         *                    none, e.g. when they are started by someone else).
         * @return this.
         */
        public Context goInstances(final int goInstances)
        {
            this.goInstances = goInstances;
            return this;
        }

        /**
         * @param rustInstances Rust workers to spawn, on request streams 200, 201, ... (default 1).
         * @return this.
         */
        public Context rustInstances(final int rustInstances)
        {
            this.rustInstances = rustInstances;
            return this;
        }

        /**
         * @param goBinary the Go worker executable (default {@link WorkerProcess#binary(Language)}).
         * @return this.
         */
        public Context goBinary(final Path goBinary)
        {
            this.goBinary = goBinary;
            return this;
        }

        /**
         * @param rustBinary the Rust worker executable (default {@link WorkerProcess#binary(Language)}).
         * @return this.
         */
        public Context rustBinary(final Path rustBinary)
        {
            this.rustBinary = rustBinary;
            return this;
        }

        /**
         * @param options extra command-line options of spawned Go workers, e.g. {@code --pool-size 2}.
         * @return this.
         */
        public Context goOptions(final List<String> options)
        {
            this.goOptions = List.copyOf(options);
            return this;
        }

        /**
         * @param options extra command-line options of spawned Rust workers.
         * @return this.
         */
        public Context rustOptions(final List<String> options)
        {
            this.rustOptions = List.copyOf(options);
            return this;
        }

        /**
         * @param interval how often spawned workers announce themselves (default 200 ms).
         * @return this.
         */
        public Context announceInterval(final Duration interval)
        {
            this.announceInterval = interval;
            return this;
        }

        /**
         * @param timeout a worker silent this long is dead (default 800 ms: four missed announcements
         *                of a spawned worker; set a few seconds for external workers announcing every 1 s).
         * @return this.
         */
        public Context livenessTimeout(final Duration timeout)
        {
            this.livenessTimeout = timeout;
            return this;
        }

        /**
         * @return after how long without an announcement a worker is dead.
         */
        public Duration livenessTimeout()
        {
            return livenessTimeout;
        }

        /**
         * @param timeout how long launch waits for the workers (default 30 s).
         * @return this.
         */
        public Context startTimeout(final Duration timeout)
        {
            this.startTimeout = timeout;
            return this;
        }

        /**
         * @param first  delay before the first restart of a crashed worker (default 100 ms), doubled per
         *               restart within the window.
         * @param max    longest delay (default 5 s).
         * @param budget restarts allowed per worker within the window (default 5); beyond, it stays down.
         * @param window the window (default 1 minute).
         * @return this.
         */
        public Context restarts(final Duration first, final Duration max, final int budget, final Duration window)
        {
            this.restartBackoff = first;
            this.restartBackoffMax = max;
            this.restartBudget = budget;
            this.restartWindow = window;
            return this;
        }

        /**
         * @param timeout how long close waits for calls in flight (default 5 s).
         * @return this.
         */
        public Context drainTimeout(final Duration timeout)
        {
            this.drainTimeout = timeout;
            return this;
        }

        /**
         * @return how long close waits for calls in flight.
         */
        public Duration drainTimeout()
        {
            return drainTimeout;
        }

        /**
         * @param handlers launch also waits until a live worker serves each of these (for external
         *                 workers: e.g. "wappalyzer.fingerprint", "html.signals").
         * @return this.
         */
        public Context awaitHandlers(final String... handlers)
        {
            this.awaitHandlers = List.of(handlers);
            return this;
        }

        /**
         * @return the client's settings, to change its default deadline, idle strategy, ...; its
         *     Aeron directory and liveness timeout are set by the bridge.
         */
        public PolybridgeClient.Context client()
        {
            return client;
        }
    }
}
