package io.polybridge.client;

import io.aeron.Publication;
import io.polybridge.codecs.ErrorCode;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps a {@link Bridge}'s workers running: spawns them, notices exits (at once, through
 * {@link Process#onExit()}) and hangs (missed heartbeats, from the client agent), restarts them as
 * their {@link RestartPolicy} says on fresh request streams, and, when the media driver is lost, stops
 * them, waits for a driver, reconnects and respawns them. One thread, {@code polybridge-supervisor},
 * makes every change; it never blocks on a worker, so one slow stop cannot delay another's restart.
 * <p>
 * Over 400 lines because launch, exits, hangs and driver loss are one state machine run by that one
 * thread; per-worker state lives in {@link SupervisedWorker}, the driver and client in
 * {@link DriverConnection}.
 */
final class Supervisor implements Router.Streams
{
    private static final System.Logger LOG = System.getLogger("polybridge.bridge");
    private static final long TICK_MS = 20;
    private static final long RECONNECT_INTERVAL_MS = 250;
    private static final long EXECUTOR_STOP_MS = 10_000;

    private final Bridge.Context ctx;
    private final DriverConnection connection;
    private final ScheduledThreadPoolExecutor executor;
    private final List<SupervisedWorker> workers = new ArrayList<>();
    private final StreamIds streamIds = new StreamIds();
    private final ConcurrentHashMap<Integer, Publication> publications = new ConcurrentHashMap<>();
    private final Set<Integer> retired = ConcurrentHashMap.newKeySet();
    private volatile boolean launched;
    private volatile boolean closing;
    private volatile String driverLost;
    private long driverLostNs;
    private boolean ticking; // supervisor thread

    Supervisor(final Bridge.Context ctx)
    {
        this.ctx = ctx;
        this.connection = new DriverConnection(ctx.aeronDirectoryName(), ctx.client());
        executor = new ScheduledThreadPoolExecutor(1, (task) ->
        {
            final Thread thread = new Thread(task, "polybridge-supervisor");
            thread.setDaemon(true);
            return thread;
        });
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        executor.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
        for (final WorkerSpec spec : ctx.workerSpecs())
        {
            for (int i = 0; i < spec.instances(); i++)
            {
                workers.add(new SupervisedWorker(this, spec, i, ctx.restartPolicy()));
            }
        }
        ctx.client().workerLivenessTimeout(ctx.livenessTimeout()).deathListener =
            (link) -> execute(() -> onDeclaredDead(link));
    }

    /**
     * Connect (launching the embedded driver), spawn every worker and wait until each is LIVE and each
     * awaited handler has a live worker. On failure the caller closes this.
     */
    void launch()
    {
        onSupervisorThread(() ->
        {
            connection.open(this::onDriverLost);
            for (final SupervisedWorker worker : workers)
            {
                worker.start(connection.client());
            }
        });
        final long deadlineNs = System.nanoTime() + ctx.startTimeout().toNanos();
        for (final SupervisedWorker worker : workers)
        {
            while (!worker.isReady())
            {
                final SupervisedWorker.Incarnation incarnation = worker.current();
                if (!incarnation.process.process().isAlive())
                {
                    throw exitedDuringLaunch(worker, incarnation);
                }
                awaitUntil(deadlineNs, () -> "worker '" + worker.workerId + "' (pid " + incarnation.pid() +
                    ") did not announce itself on request stream " + incarnation.requestStreamId + " within " +
                    ctx.startTimeout() + "; is " + worker.spec.command() + " a polybridge worker (it is given " +
                    "--aeron-dir, --worker-id, --request-stream, --announce-interval-ms, --parent-pid)? " +
                    lastOutput(incarnation));
            }
        }
        for (final String handler : ctx.awaitHandlers())
        {
            while (!servedByLiveWorker(handler))
            {
                awaitUntil(deadlineNs, () -> "no live worker serving '" + handler + "' announced itself within " +
                    ctx.startTimeout() + " on driver " + connection.aeronDirectoryName() + "; announced: " +
                    client().workers());
            }
        }
        launched = true;
        onSupervisorThread(() ->
        {
            for (final SupervisedWorker worker : workers)
            {
                worker.checkReady(); // LIVE now, for workerStates() right after launch
                worker.restartIfExitedDuringLaunch(); // it died after it was awaited: restart it as usual
            }
        });
    }

    private boolean servedByLiveWorker(final String handler)
    {
        for (final WorkerLink link : client().links())
        {
            final WorkerInfo info = link.info;
            if (link.live && info != null && Router.compatible(info) && info.handlers().contains(handler))
            {
                final Publication publication = publication(client(), link.requestStreamId);
                if (publication != null && publication.isConnected())
                {
                    return true; // subscribed too: a worker may announce itself before it subscribes
                }
            }
        }
        return false;
    }

    private static PolybridgeException exitedDuringLaunch(
        final SupervisedWorker worker, final SupervisedWorker.Incarnation incarnation)
    {
        final Process process = incarnation.process.process();
        incarnation.process.awaitOutput(1_000);
        return new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "worker '" + worker.workerId + "' (" +
            worker.spec.command().get(0) + ", pid " + process.pid() + ") exited with code " + process.exitValue() +
            " before announcing itself, so the bridge did not launch; everything it started is stopped. Check " +
            "the worker's options and environment (" + worker.spec.options() + "); its output is in the log " +
            "'polybridge.worker." + worker.workerId + "'. " + lastOutput(incarnation));
    }

    private static String lastOutput(final SupervisedWorker.Incarnation incarnation)
    {
        final List<String> tail = incarnation.process.outputTail();
        return tail.isEmpty() ? "It wrote nothing." : "Its last output:\n    " + String.join("\n    ", tail);
    }

    private void awaitUntil(final long deadlineNs, final java.util.function.Supplier<String> message)
    {
        if (System.nanoTime() - deadlineNs > 0)
        {
            throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, message.get());
        }
        final PolybridgeClient client = connection.client();
        if (client != null)
        {
            client.poll(); // its agent may sleep while no call is pending: read the announcements here
        }
        else
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /**
     * Supervisor thread, when a worker is started: check every {@link #TICK_MS} whether it is LIVE, until
     * no worker is STARTING. An idle supervisor thus has no timer at all and never wakes up: exits come
     * from {@link Process#onExit()}, hangs and driver loss from the client, each as a task.
     */
    void startTicking()
    {
        if (!ticking)
        {
            ticking = true;
            schedule(this::tick, Duration.ofMillis(TICK_MS));
        }
    }

    private void tick()
    {
        boolean starting = false;
        for (final SupervisedWorker worker : workers)
        {
            worker.checkReady();
            starting |= worker.state().status() == WorkerState.Status.STARTING;
        }
        ticking = starting && schedule(this::tick, Duration.ofMillis(TICK_MS)) != null;
    }

    /** Process reaper thread: fail the calls on it at once, then let the supervisor thread decide. */
    void onProcessExit(final SupervisedWorker worker, final SupervisedWorker.Incarnation incarnation)
    {
        final Process process = incarnation.process.process();
        final int code = process.exitValue();
        final String reason = "process " + process.pid() + " exited with code " + code +
            (code > 128 && code < 160 ? " (signal " + (code - 128) + ")" : "");
        final WorkerLink link = incarnation.client.link(incarnation.requestStreamId);
        final WorkerInfo info = link == null ? null : link.info;
        try
        {
            incarnation.client.reportWorkerExit(incarnation.requestStreamId,
                info != null && incarnation.owns(info.pid()) ? info.pid() : process.pid(), reason);
        }
        catch (final RuntimeException ex)
        {
            // the client is closed: its calls have failed already
        }
        execute(() -> worker.onExit(incarnation, reason));
    }

    private void onDeclaredDead(final WorkerLink link)
    {
        for (final SupervisedWorker worker : workers)
        {
            worker.killHung(link);
        }
    }

    /** Driver lost (the client's report, handed to this thread): stop everything, then reconnect. */
    private void onDriverLost(final PolybridgeClient lostClient)
    {
        execute(() ->
        {
            if (closing || lostClient != connection.client() || driverLost != null)
            {
                return;
            }
            driverLostNs = System.nanoTime();
            final String dir = connection.aeronDirectoryName();
            driverLost = "the media driver at " + dir + " is gone since " +
                Instant.now().truncatedTo(ChronoUnit.MILLIS) + "; " + (connection.isEmbedded() ?
                "reconnecting to the embedded driver (relaunched if it is dead)" :
                "waiting for a driver at that directory") + ", then the workers are respawned";
            LOG.log(System.Logger.Level.ERROR, driverLost + ". Calls fail WORKER_UNAVAILABLE until then; stopping " +
                workers.size() + " workers; checking every " + RECONNECT_INTERVAL_MS + " ms");
            for (final SupervisedWorker worker : workers)
            {
                worker.onDriverLost(driverLost);
            }
            connection.closeAfterLoss();
            publications.clear();
            retired.clear();
            schedule(this::reconnect, Duration.ofMillis(RECONNECT_INTERVAL_MS));
        });
    }

    private void reconnect()
    {
        if (closing || driverLost == null)
        {
            return;
        }
        if (!connection.driverAvailable())
        {
            final long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - driverLostNs);
            if (waitedMs / 10_000 != (waitedMs - RECONNECT_INTERVAL_MS) / 10_000)
            {
                LOG.log(System.Logger.Level.WARNING, "still no media driver at " + connection.aeronDirectoryName() +
                    " after " + waitedMs + " ms; checking every " + RECONNECT_INTERVAL_MS + " ms");
            }
            schedule(this::reconnect, Duration.ofMillis(RECONNECT_INTERVAL_MS));
            return;
        }
        try
        {
            final PolybridgeClient client = connection.open(this::onDriverLost);
            driverLost = null;
            for (final SupervisedWorker worker : workers)
            {
                worker.start(client);
            }
            LOG.log(System.Logger.Level.WARNING, "reconnected to the media driver at " +
                connection.aeronDirectoryName() + " " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - driverLostNs) +
                " ms after losing it; respawned " + workers.size() + " workers");
        }
        catch (final RuntimeException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "could not reconnect to the media driver at " +
                connection.aeronDirectoryName() + " (" + ex + "); trying again in " + RECONNECT_INTERVAL_MS + " ms");
            connection.closeAfterLoss();
            driverLost = driverLost == null ? "reconnecting failed: " + ex.getMessage() : driverLost;
            schedule(this::reconnect, Duration.ofMillis(RECONNECT_INTERVAL_MS));
        }
    }

    /**
     * Stop for good: no more restarts, the workers stopped (SIGTERM to each process tree at once, then
     * SIGKILL to what is left after the grace period), the client closed, then the embedded driver.
     * The caller has drained the calls it wanted to.
     */
    void close(final long graceMs)
    {
        closing = true;
        executor.shutdown();
        try
        {
            executor.awaitTermination(EXECUTOR_STOP_MS, TimeUnit.MILLISECONDS); // a spawn in progress ends first
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        try
        {
            final PolybridgeClient client = connection.client();
            if (client != null)
            {
                client.close();
            }
        }
        finally
        {
            try
            {
                for (final SupervisedWorker worker : workers)
                {
                    worker.terminate();
                }
                for (final SupervisedWorker worker : workers)
                {
                    worker.awaitStopped(graceMs);
                }
            }
            finally
            {
                connection.close();
            }
        }
    }

    // Router.Streams, any thread.
    public Publication publication(final PolybridgeClient client, final int requestStreamId)
    {
        if (retired.contains(requestStreamId))
        {
            return null;
        }
        final Publication publication = publications.get(requestStreamId);
        if (publication != null)
        {
            return publication;
        }
        try
        {
            return client.publication(requestStreamId); // a worker someone else started
        }
        catch (final RuntimeException ex)
        {
            return null; // the client is closing
        }
    }

    // For SupervisedWorker, supervisor thread.
    void openStream(final PolybridgeClient client, final int requestStreamId)
    {
        retired.remove(requestStreamId);
        publications.put(requestStreamId, client.publication(requestStreamId));
    }

    /** No worker reads this stream again: close its publication, so nobody waits on the dead subscriber. */
    void retireStream(final PolybridgeClient client, final int requestStreamId)
    {
        retired.add(requestStreamId);
        publications.remove(requestStreamId);
        client.closePublication(requestStreamId);
    }

    boolean isConnected(final int requestStreamId)
    {
        final Publication publication = publications.get(requestStreamId);
        return publication != null && publication.isConnected();
    }

    /**
     * A stream no worker has announced itself on: on an external driver other bridges' workers read
     * streams this bridge's random range may reach, so one already seen in an announcement is skipped.
     */
    int nextStreamId()
    {
        final Set<Integer> announced = new HashSet<>();
        final PolybridgeClient client = connection.client();
        if (client != null)
        {
            for (final WorkerInfo info : client.workers())
            {
                announced.add(info.requestStreamId());
            }
            for (final WorkerLink link : client.links())
            {
                announced.add(link.requestStreamId);
            }
        }
        return streamIds.next(announced);
    }

    /**
     * @return whether the driver is this bridge's embedded one, which no other bridge's workers use, so the
     *     specs' fixed first streams (100.., 200..) are safe.
     */
    boolean ownsDriver()
    {
        return ctx.aeronDirectoryName() == null;
    }

    Duration announceInterval()
    {
        return ctx.announceInterval();
    }

    boolean passParentPid()
    {
        return ctx.parentPid();
    }

    boolean isClosing()
    {
        return closing;
    }

    boolean isLaunched()
    {
        return launched;
    }

    /**
     * @return why calls fail while the driver is lost, or null while it is there.
     */
    String driverLost()
    {
        return driverLost;
    }

    PolybridgeClient client()
    {
        return connection.client();
    }

    String aeronDirectoryName()
    {
        return connection.aeronDirectoryName();
    }

    List<SupervisedWorker> workers()
    {
        return workers;
    }

    ScheduledFuture<?> schedule(final Runnable task, final Duration delay)
    {
        try
        {
            return executor.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
        }
        catch (final RejectedExecutionException ex)
        {
            return null; // closing
        }
    }

    private void execute(final Runnable task)
    {
        try
        {
            executor.execute(task);
        }
        catch (final RejectedExecutionException ex)
        {
            // closing: nothing more to supervise
        }
    }

    private void onSupervisorThread(final Runnable task)
    {
        final Future<?> done = executor.submit(task);
        try
        {
            done.get(ctx.startTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException ex)
        {
            if (ex.getCause() instanceof RuntimeException runtime)
            {
                throw runtime;
            }
            if (ex.getCause() instanceof Error error)
            {
                throw error;
            }
            throw new IllegalStateException(ex.getCause());
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "interrupted while launching");
        }
        catch (final TimeoutException ex)
        {
            throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "connecting to the media driver and " +
                "spawning the workers took longer than " + ctx.startTimeout());
        }
    }
}
