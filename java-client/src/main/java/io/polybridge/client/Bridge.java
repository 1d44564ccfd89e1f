package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Everything polybridge needs, started and watched from Java: a media driver (embedded in a private
 * directory, or an external one), worker processes (spawned from {@link WorkerSpec}s and supervised,
 * or started by someone else), and a {@link PolybridgeClient} whose calls go to the least-loaded live
 * worker serving their handler.
 * <pre>{@code
 * try (Bridge bridge = Bridge.launch(new Bridge.Context()
 *     .worker(new WorkerSpec("hello", "/opt/hello/hello-worker-go").instances(2))))
 * {
 *     Greeting greeting = bridge.call(GREET, new Greet("Ada")).join(); // a Method<Greet, Greeting>
 *     byte[] echoed = bridge.call("echo", bytes).join();
 * }
 * }</pre>
 * A facade: the {@link Supervisor} keeps the driver connection and the workers going (restarts
 * within a {@link RestartPolicy}, reconnects after a lost driver), the {@link Router} picks a
 * worker per call. Lifecycle, states and timings: docs/lifecycle.md. {@link #close()} stops taking
 * calls, drains those in flight, stops the workers with SIGTERM, then the driver; a JVM shutdown hook
 * does the same on SIGTERM or SIGINT.
 * <p>
 * Over 400 lines because {@link Context}, like Aeron's contexts, lives inside the class it configures, and
 * each call overload carries its javadoc; the jobs themselves are the supervisor's and the router's.
 */
public final class Bridge implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger("polybridge.bridge");
    private static final long GRACEFUL_EXIT_MS = 5_000;
    private static final long FAILED_LAUNCH_GRACE_MS = 2_000;
    /**
     * Beyond the drain and grace periods, what a close may take: the supervisor thread finishing a
     * spawn (up to 10 s), SIGKILL and the driver's close. Bounds how long a second close waits for the first.
     */
    private static final long CLOSE_OVERHEAD_MS = 15_000;

    private final Context ctx;
    private final Supervisor supervisor;
    private final Router router;
    private final TypedCall.RawCall raw = new TypedCall.RawCall()
    {
        public CompletableFuture<byte[]> call(
            final String handler,
            final DirectBuffer payload,
            final int offset,
            final int length,
            final Duration timeout,
            final Map<String, String> metadata,
            final boolean inPlace)
        {
            final CompletableFuture<byte[]> refused = refusal(handler);
            if (refused != null)
            {
                return refused;
            }
            return router.call(supervisor.client(), handler, payload, offset, length, timeout, metadata, inPlace);
        }

        public CompletableFuture<byte[]> call(
            final String handler,
            final PayloadLoan loan,
            final int length,
            final Duration timeout,
            final Map<String, String> metadata,
            final boolean inPlace)
        {
            Objects.requireNonNull(loan, "loan");
            loan.requireOpen();
            final CompletableFuture<byte[]> refused = refusal(handler);
            if (refused != null)
            {
                Router.closeQuietly(loan);
                return refused;
            }
            final PolybridgeClient client = supervisor.client();
            return router.call(client, handler, (publication, link) ->
                client.call(publication, link, handler, loan, length, timeout, metadata, inPlace), loan);
        }

        public PayloadLoan loanFor(final int length, final Duration timeout)
        {
            return supervisor.client().loanFor(length, timeout);
        }
    };
    private volatile boolean closing;
    private boolean closed; // guarded by this
    private final CountDownLatch closeDone = new CountDownLatch(1);

    private Bridge(final Context ctx)
    {
        this.ctx = ctx;
        this.supervisor = new Supervisor(ctx);
        this.router = new Router(supervisor, this::workersStarting);
    }

    /** For the router: which spawned workers are (re)starting, or null when none is and no reconnect is due. */
    private String workersStarting()
    {
        final StringBuilder ids = new StringBuilder();
        for (final SupervisedWorker worker : supervisor.workers())
        {
            final WorkerState.Status status = worker.state().status();
            if (status == WorkerState.Status.STARTING || status == WorkerState.Status.RESTARTING ||
                status == WorkerState.Status.DRIVER_LOST)
            {
                ids.append(ids.length() == 0 ? "" : ", ").append(worker.workerId);
            }
        }
        if (ids.length() == 0)
        {
            return supervisor.driverLost() != null ? "the bridge is reconnecting to the media driver" : null;
        }
        return "workers " + ids + " are (re)starting";
    }

    /**
     * Launch with the defaults: an embedded driver and a client, no spawned worker (workers started by
     * someone else on the driver are called all the same).
     *
     * @return a bridge ready to call; close it when done.
     */
    public static Bridge launch()
    {
        return launch(new Context());
    }

    /**
     * Launch as configured: returns once every spawned worker has announced itself and every
     * handler of {@link Context#awaitHandlers(String...)} has a live worker. When anything fails,
     * everything started so far is stopped (workers and their children, the client, the embedded
     * driver and its directory) before the exception, which says what failed and what to do, is thrown.
     *
     * @param ctx settings, validated here.
     * @return a bridge ready to call; close it when done.
     */
    public static Bridge launch(final Context ctx)
    {
        final Bridge bridge = new Bridge(ctx.conclude());
        if (ctx.shutdownHook)
        {
            ShutdownHook.register(bridge); // first: a SIGTERM during launch cleans up too
        }
        try
        {
            bridge.supervisor.launch();
            return bridge;
        }
        catch (final Error ex)
        {
            bridge.close(0, FAILED_LAUNCH_GRACE_MS);
            throw ex;
        }
        catch (final RuntimeException ex)
        {
            final String dir = bridge.supervisor.aeronDirectoryName();
            final PolybridgeException failure = new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE,
                "could not launch the bridge: " + (ex instanceof PolybridgeException pe ?
                pe.getMessage().substring(pe.errorCode().toString().length() + 2) : ex.getMessage()) +
                "\nEverything it had started is stopped" + (dir == null ? "" : (ctx.aeronDirectoryName == null ?
                "; its embedded media driver in " + dir + " is closed and that directory removed" :
                "; the external media driver in " + dir + " is left running")) + ".");
            failure.initCause(ex);
            try
            {
                bridge.close(0, FAILED_LAUNCH_GRACE_MS);
            }
            catch (final RuntimeException | Error closeEx)
            {
                failure.addSuppressed(closeEx);
            }
            throw failure;
        }
    }

    /**
     * Call a handler on the least-loaded live worker that serves it, with the default deadline.
     *
     * @param handler the handler name.
     * @param payload the request bytes; not retained after this returns.
     * @return the response bytes, or a {@link PolybridgeException}: NOT_FOUND when no announced
     *     worker serves the handler (and no spawned worker is (re)starting), VERSION_MISMATCH when only
     *     workers of another schema do, WORKER_UNAVAILABLE when they are all dead or still (re)starting,
     *     the driver is lost or the bridge is closing.
     */
    public CompletableFuture<byte[]> call(final String handler, final byte[] payload)
    {
        return call(handler, payload, ctx.client.defaultTimeout());
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
        return call(handler, payload, timeout, Map.of());
    }

    /**
     * Call a handler on the least-loaded live worker that serves it, with metadata (e.g. a trace
     * context) the handler reads as a string map.
     *
     * @param handler  the handler name.
     * @param payload  the request bytes; not retained after this returns.
     * @param timeout  the deadline, from now.
     * @param metadata at most {@link PolybridgeClient#MAX_METADATA_ENTRIES} entries, keys of 1 to
     *                 {@link PolybridgeClient#MAX_METADATA_KEY_BYTES} UTF-8 bytes, values of at most
     *                 {@link PolybridgeClient#MAX_METADATA_VALUE_BYTES}; not modified during the call.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     * @throws IllegalArgumentException when the metadata breaks a limit (nothing is sent).
     */
    public CompletableFuture<byte[]> call(
        final String handler, final byte[] payload, final Duration timeout, final Map<String, String> metadata)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        return call(handler, new UnsafeBuffer(payload), 0, payload.length, timeout, metadata);
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
        return call(handler, payload, offset, length, timeout, Map.of());
    }

    /**
     * Call a handler with a range of a buffer as payload and metadata.
     *
     * @param handler  the handler name.
     * @param payload  the buffer holding the request bytes; not retained after this returns.
     * @param offset   where the request bytes start.
     * @param length   how many bytes.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return raw.call(handler, payload, offset, length, timeout, metadata, false);
    }

    /** @return a failed future when the bridge takes no calls now, else null. */
    private CompletableFuture<byte[]> refusal(final String handler)
    {
        if (closing)
        {
            return Router.failed(ErrorCode.WORKER_UNAVAILABLE, "the bridge is closing and takes no new calls");
        }
        if (handler == null || handler.isEmpty())
        {
            throw new IllegalArgumentException("handler must be a handler name such as \"echo\"");
        }
        final String driverLost = supervisor.driverLost();
        if (driverLost != null)
        {
            return Router.failed(ErrorCode.WORKER_UNAVAILABLE, driverLost);
        }
        final PolybridgeClient client = supervisor.client();
        if (client.isDriverLost()) // the supervisor is about to hear of it
        {
            return Router.failed(ErrorCode.WORKER_UNAVAILABLE, client.driverLostReason());
        }
        return null;
    }

    /**
     * Borrow a piece of the bridge client's payload region for one request: see
     * {@link PolybridgeClient#loan(int)}.
     *
     * @param length the bytes to borrow.
     * @return the loan, to pass to {@link #call(String, PayloadLoan, int)} or close.
     */
    public PayloadLoan loan(final int length)
    {
        return supervisor.client().loan(length);
    }

    /**
     * Borrow a piece of the bridge client's payload region, waiting for room: see
     * {@link PolybridgeClient#loan(int, Duration)}.
     *
     * @param length the bytes to borrow.
     * @param wait   how long to wait for room.
     * @return the loan.
     */
    public PayloadLoan loan(final int length, final Duration wait)
    {
        return supervisor.client().loan(length, wait);
    }

    /**
     * Call a handler with a payload the caller wrote into a loan of the client's payload region: only a
     * reference is sent, the worker reads the bytes where they lie. The call takes the loan (sent at most
     * once) and gives it back when the worker has answered, or is known dead, or the client closes; a worker
     * across hosts gets the bytes copied into the message instead (the loan is then given back at once).
     *
     * @param handler the handler name.
     * @param loan    from {@link #loan(int)}, not sent before.
     * @param length  the payload: bytes [0, length) of the loan.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     * @throws IllegalStateException when the loan was already sent or closed.
     */
    public CompletableFuture<byte[]> call(final String handler, final PayloadLoan loan, final int length)
    {
        return call(handler, loan, length, ctx.client.defaultTimeout(), Map.of());
    }

    /**
     * As {@link #call(String, PayloadLoan, int)}, with a deadline.
     *
     * @param handler the handler name.
     * @param loan    from {@link #loan(int)}, not sent before.
     * @param length  the payload: bytes [0, length) of the loan.
     * @param timeout the deadline, from now.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler, final PayloadLoan loan, final int length, final Duration timeout)
    {
        return call(handler, loan, length, timeout, Map.of());
    }

    /**
     * As {@link #call(String, PayloadLoan, int)}, with a deadline and metadata.
     *
     * @param handler  the handler name.
     * @param loan     from {@link #loan(int)}, not sent before.
     * @param length   the payload: bytes [0, length) of the loan.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response bytes, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<byte[]> call(
        final String handler,
        final PayloadLoan loan,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return raw.call(handler, loan, length, timeout, metadata, false);
    }

    /**
     * Call a handler and read its response in place: a large response stays in the worker's payload
     * region, lent to this client until the view is closed (close it promptly: the worker cannot reuse
     * that memory until then); a small one comes as a view over a byte array.
     *
     * @param handler the handler name.
     * @param payload the request bytes; not retained after this returns.
     * @param timeout the deadline, from now.
     * @return the response, to be closed, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<PayloadView> callView(final String handler, final byte[] payload, final Duration timeout)
    {
        Objects.requireNonNull(payload, "payload must not be null; use new byte[0] for no payload");
        return callView(handler, new UnsafeBuffer(payload), 0, payload.length, timeout, Map.of());
    }

    /**
     * As {@link #callView(String, byte[], Duration)} with a range of a buffer as payload and metadata.
     *
     * @param handler  the handler name.
     * @param payload  the buffer holding the request bytes; not retained after this returns.
     * @param offset   where the request bytes start.
     * @param length   how many bytes.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response, to be closed, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<PayloadView> callView(
        final String handler,
        final DirectBuffer payload,
        final int offset,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return TypedCall.view(raw.call(handler, payload, offset, length, timeout, metadata, true));
    }

    /**
     * As {@link #call(String, PayloadLoan, int, Duration, Map)}, reading the response in place.
     *
     * @param handler  the handler name.
     * @param loan     from {@link #loan(int)}, not sent before.
     * @param length   the payload: bytes [0, length) of the loan.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @return the response, to be closed, or a {@link PolybridgeException} with the error code.
     */
    public CompletableFuture<PayloadView> callView(
        final String handler,
        final PayloadLoan loan,
        final int length,
        final Duration timeout,
        final Map<String, String> metadata)
    {
        return TypedCall.view(raw.call(handler, loan, length, timeout, metadata, true));
    }

    /**
     * Call a typed handler on the least-loaded live worker that serves it, with the default deadline.
     *
     * @param method  the handler and its codecs.
     * @param request the request, encoded before this returns.
     * @param <Req>   the request type.
     * @param <Resp>  the response type.
     * @return the decoded response, or a {@link PolybridgeException}; cancelling it cancels the call.
     */
    public <Req, Resp> CompletableFuture<Resp> call(final Method<Req, Resp> method, final Req request)
    {
        return call(method, request, ctx.client.defaultTimeout(), Map.of());
    }

    /**
     * Call a typed handler on the least-loaded live worker that serves it.
     *
     * @param method  the handler and its codecs.
     * @param request the request, encoded before this returns.
     * @param timeout the deadline, from now.
     * @param <Req>   the request type.
     * @param <Resp>  the response type.
     * @return the decoded response, or a {@link PolybridgeException}; cancelling it cancels the call.
     */
    public <Req, Resp> CompletableFuture<Resp> call(
        final Method<Req, Resp> method, final Req request, final Duration timeout)
    {
        return call(method, request, timeout, Map.of());
    }

    /**
     * Call a typed handler on the least-loaded live worker that serves it, with metadata.
     *
     * @param method   the handler and its codecs.
     * @param request  the request, encoded before this returns.
     * @param timeout  the deadline, from now.
     * @param metadata as for {@link #call(String, byte[], Duration, Map)}.
     * @param <Req>    the request type.
     * @param <Resp>   the response type.
     * @return the decoded response, or a {@link PolybridgeException} (UNKNOWN when the response does not
     *     decode); cancelling it cancels the call.
     */
    public <Req, Resp> CompletableFuture<Resp> call(
        final Method<Req, Resp> method, final Req request, final Duration timeout, final Map<String, String> metadata)
    {
        return TypedCall.call(raw, method, request, timeout, metadata);
    }

    /**
     * @return each spawned worker's state: STARTING, LIVE, RESTARTING or DOWN until when and why,
     *     DRIVER_LOST, STOPPED; e.g. for a health endpoint.
     */
    public List<WorkerState> workerStates()
    {
        final List<WorkerState> states = new ArrayList<>();
        for (final SupervisedWorker worker : supervisor.workers())
        {
            states.add(worker.state());
        }
        return states;
    }

    /**
     * @return the workers announced on the current driver connection with whether each is live (replaced
     *     incarnations left out), e.g. for a health endpoint.
     */
    public List<String> describeWorkers()
    {
        final List<String> described = new ArrayList<>();
        final PolybridgeClient client = supervisor.client();
        for (final WorkerLink link : client.links())
        {
            if (supervisor.publication(client, link.requestStreamId) != null)
            {
                described.add(link.toString());
            }
        }
        return described;
    }

    /**
     * @return the live workers' announcements.
     */
    public List<WorkerInfo> liveWorkers()
    {
        final List<WorkerInfo> live = new ArrayList<>();
        for (final WorkerLink link : supervisor.client().links())
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
     * @return the spawned workers' current (or last) processes by worker id (empty with external workers).
     */
    public Map<String, ProcessHandle> processes()
    {
        final Map<String, ProcessHandle> processes = new LinkedHashMap<>();
        for (final SupervisedWorker worker : supervisor.workers())
        {
            final SupervisedWorker.Incarnation incarnation = worker.current();
            if (incarnation != null)
            {
                processes.put(worker.workerId, incarnation.process.process().toHandle());
            }
        }
        return processes;
    }

    /**
     * @param workerId a spawned worker's id, e.g. "hello-0".
     * @return how many times it has been restarted.
     */
    public int restarts(final String workerId)
    {
        return supervised(workerId).restarts();
    }

    /**
     * @param workerId a spawned worker's id.
     * @return whether its current process has announced itself and its request stream is connected.
     */
    public boolean isReady(final String workerId)
    {
        return supervised(workerId).isReady();
    }

    private SupervisedWorker supervised(final String workerId)
    {
        for (final SupervisedWorker worker : supervisor.workers())
        {
            if (worker.workerId.equals(workerId))
            {
                return worker;
            }
        }
        throw new IllegalArgumentException("no spawned worker '" + workerId + "'");
    }

    /**
     * @return the client underneath, for calls to one named worker ({@link PolybridgeClient#awaitWorker});
     *     a new one after the bridge reconnected to a driver.
     */
    public PolybridgeClient client()
    {
        return supervisor.client();
    }

    /**
     * @return the media driver's directory (a new one after an embedded driver was relaunched).
     */
    public String aeronDirectoryName()
    {
        return supervisor.aeronDirectoryName();
    }

    /**
     * Stop taking calls, wait up to {@link Context#drainTimeout()} for those in flight, fail what is
     * left, stop the spawned workers (SIGTERM to each process tree, SIGKILL after 5 s) and then the
     * embedded driver, whose directory is removed. A close while another is running (another thread's, or
     * the shutdown hook's) waits for that one to finish, at most the drain timeout, the 5 s grace and
     * 15 s more, so that neither returns, nor lets the JVM halt, with the workers still running.
     */
    public void close()
    {
        close(ctx.drainTimeout.toNanos(), GRACEFUL_EXIT_MS);
    }

    private void close(final long drainNs, final long graceMs)
    {
        final boolean first;
        synchronized (this)
        {
            first = !closed;
            closed = true;
        }
        if (!first)
        {
            awaitClosed(drainNs, graceMs);
            return;
        }
        closing = true;
        try
        {
            final long drainDeadlineNs = System.nanoTime() + drainNs;
            final PolybridgeClient client = supervisor.client();
            while (client != null && client.inFlight() > 0 && supervisor.driverLost() == null &&
                System.nanoTime() - drainDeadlineNs < 0)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            supervisor.close(graceMs);
        }
        finally
        {
            ShutdownHook.unregister(this);
            closeDone.countDown();
        }
    }

    /** The first close is running: wait for it (outside the lock), bounded by the timeouts it runs under. */
    private void awaitClosed(final long drainNs, final long graceMs)
    {
        try
        {
            if (!closeDone.await(drainNs + TimeUnit.MILLISECONDS.toNanos(graceMs + CLOSE_OVERHEAD_MS),
                TimeUnit.NANOSECONDS))
            {
                LOG.log(System.Logger.Level.WARNING, "gave up waiting for another thread's close of the bridge " +
                    "after its drain and stop timeouts; workers may still be stopping");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt(); // the caller wants out: keep its interrupt
        }
    }

    /**
     * Bridge settings with defaults; {@link #conclude()} validates them once, at launch. Defaults:
     * embedded driver, no spawned worker (add {@link WorkerSpec}s), a 200 ms announcement interval, a
     * worker silent for 800 ms is dead, restarts after 100 ms doubling to 5 s, at most 5 restarts a
     * minute per worker and then a 1 minute cool-down, 5 s to drain at close, a shutdown hook.
     */
    public static final class Context
    {
        private String aeronDirectoryName;
        private final List<WorkerSpec> workers = new ArrayList<>();
        private List<WorkerSpec> workerSpecs;
        private Duration announceInterval = Duration.ofMillis(200);
        private Duration livenessTimeout = Duration.ofMillis(800);
        private Duration startTimeout = Duration.ofSeconds(30);
        private Duration restartBackoff = Duration.ofMillis(100);
        private Duration restartBackoffMax = Duration.ofSeconds(5);
        private int restartBudget = 5;
        private Duration restartWindow = Duration.ofMinutes(1);
        private Duration restartCoolDown = Duration.ofMinutes(1);
        private Duration drainTimeout = Duration.ofSeconds(5);
        private List<String> awaitHandlers = List.of();
        private boolean shutdownHook = true;
        private boolean parentPid = true;
        private final PolybridgeClient.Context client = new PolybridgeClient.Context();

        Context conclude()
        {
            for (final Duration duration : List.of(announceInterval, livenessTimeout, startTimeout, restartBackoff,
                restartBackoffMax, restartWindow, restartCoolDown, drainTimeout))
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
            final List<WorkerSpec> specs = new ArrayList<>();
            for (final WorkerSpec spec : workers)
            {
                specs.add(spec.copy());
            }
            final Set<String> names = new HashSet<>();
            final List<int[]> ranges = new ArrayList<>();
            for (final WorkerSpec spec : specs)
            {
                spec.validate();
                if (!names.add(spec.name()))
                {
                    throw new IllegalArgumentException("two worker specs are named '" + spec.name() + "'; worker " +
                        "ids (name-0, name-1, ...) must be unique");
                }
                if (spec.firstRequestStream() > 0 && spec.instances() > 0)
                {
                    final int first = spec.firstRequestStream();
                    for (final int[] range : ranges)
                    {
                        if (first < range[1] && range[0] < first + spec.instances())
                        {
                            throw new IllegalArgumentException("worker spec '" + spec.name() + "' request streams " +
                                first + ".." + (first + spec.instances() - 1) + " overlap another spec's " +
                                range[0] + ".." + (range[1] - 1) + "; use fewer instances or other first streams");
                        }
                    }
                    ranges.add(new int[]{ first, first + spec.instances() });
                }
            }
            workerSpecs = List.copyOf(specs);
            if (!workerSpecs.isEmpty())
            {
                client.includeAnnounceChannel(client.channel()); // spawned workers announce there, over IPC
            }
            return this;
        }

        List<WorkerSpec> workerSpecs()
        {
            return workerSpecs;
        }

        RestartPolicy restartPolicy()
        {
            return new RestartPolicy(restartBackoff, restartBackoffMax, restartBudget, restartWindow, restartCoolDown);
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
         * @param spec a worker to spawn and supervise (repeatable; none by default): any executable built
         *             on the Go or Rust SDK, which accepts the flags the bridge passes. Copied at launch.
         * @return this.
         */
        public Context worker(final WorkerSpec spec)
        {
            workers.add(Objects.requireNonNull(spec, "spec"));
            return this;
        }

        /**
         * @param shutdownHook close the bridge from a JVM shutdown hook (SIGTERM, SIGINT, System.exit)
         *                     if it is still open then (default true).
         * @return this.
         */
        public Context shutdownHook(final boolean shutdownHook)
        {
            this.shutdownHook = shutdownHook;
            return this;
        }

        /**
         * @param parentPid pass {@code --parent-pid <this JVM's pid>} to spawned workers, so they exit
         *                  within a second of the JVM's death, even by SIGKILL (default true; turn off
         *                  only for a worker that does not take the flag).
         * @return this.
         */
        public Context parentPid(final boolean parentPid)
        {
            this.parentPid = parentPid;
            return this;
        }

        boolean parentPid()
        {
            return parentPid;
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

        Duration startTimeout()
        {
            return startTimeout;
        }

        Duration announceInterval()
        {
            return announceInterval;
        }

        String aeronDirectoryName()
        {
            return aeronDirectoryName;
        }

        List<String> awaitHandlers()
        {
            return awaitHandlers;
        }

        /**
         * @param first  delay before the first restart of a crashed worker (default 100 ms), doubled per
         *               restart within the window.
         * @param max    longest delay (default 5 s).
         * @param budget restarts allowed per worker within the window (default 5); beyond, it stays
         *               down for the {@link #restartCoolDown(Duration) cool-down}.
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
         * @param coolDown how long a worker whose restart budget is spent stays down before it is started
         *                 again with a fresh budget (default 1 minute): a circuit breaker, not a dead end.
         * @return this.
         */
        public Context restartCoolDown(final Duration coolDown)
        {
            this.restartCoolDown = coolDown;
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
         *                 workers: e.g. "hello.greet").
         * @return this.
         */
        public Context awaitHandlers(final String... handlers)
        {
            this.awaitHandlers = List.of(handlers);
            return this;
        }

        /**
         * @return the client's settings, to change its default deadline, idle strategy, error handler,
         *     driver timeout, ..., and to reach workers on other hosts: {@code replyChannel} and
         *     {@code announceChannels} (see docs/hosts.md); its Aeron directory, liveness timeout and
         *     driver-lost handler are set by the bridge. Workers the bridge spawns stay on this host and
         *     its channel (IPC): their announce channel is added to {@code announceChannels} when missing.
         */
        public PolybridgeClient.Context client()
        {
            return client;
        }
    }
}
