package io.polybridge.client;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One spawned worker id (e.g. {@code go-0}) across its incarnations: the process now running, the
 * request stream it was given, its state and its restart policy. Every method but the readers runs
 * on the supervisor thread, so the state needs no lock; readers see volatile snapshots.
 */
final class SupervisedWorker
{
    private static final System.Logger LOG = System.getLogger("polybridge.bridge");

    /** One process of this worker and the request stream it alone ever reads. */
    static final class Incarnation
    {
        final WorkerProcess process;
        final int requestStreamId;
        final PolybridgeClient client;
        final long startNs;
        /** The announced pid once seen to be this process or a descendant of it; 0 before. */
        volatile long announcedPid;
        volatile boolean foreignWarned;

        Incarnation(final WorkerProcess process, final int requestStreamId, final PolybridgeClient client)
        {
            this.process = process;
            this.requestStreamId = requestStreamId;
            this.client = client;
            this.startNs = System.nanoTime();
        }

        long pid()
        {
            return process.process().pid();
        }

        /**
         * Any thread. Another bridge's worker on the same external driver may announce itself on this
         * stream (or did, before streams were unique per bridge): its pid must never be taken for this
         * incarnation's, or this bridge would report it ready, track it and SIGTERM it at close.
         *
         * @param pid an announced pid.
         * @return whether it is this incarnation's process or one of its descendants (a wrapper script's worker).
         */
        boolean owns(final long pid)
        {
            if (pid <= 0)
            {
                return false;
            }
            if (pid == pid())
            {
                announcedPid = pid;
                return true;
            }
            if (pid == announcedPid)
            {
                return true;
            }
            final boolean descendant = process.process().descendants().anyMatch((handle) -> handle.pid() == pid);
            if (descendant)
            {
                announcedPid = pid; // a wrapper's worker: checked once, /proc need not be walked every poll
            }
            return descendant;
        }
    }

    final WorkerSpec spec;
    final int instance;
    final String workerId;
    private final Supervisor supervisor;
    private final RestartPolicy policy;
    private volatile Incarnation current;
    private volatile WorkerState state;
    private volatile int restarts;
    private volatile String launchFailure;
    private boolean everStarted;
    private ScheduledFuture<?> pendingStart;

    SupervisedWorker(final Supervisor supervisor, final WorkerSpec spec, final int instance, final RestartPolicy policy)
    {
        this.supervisor = supervisor;
        this.spec = spec;
        this.instance = instance;
        this.workerId = spec.workerId(instance);
        this.policy = policy;
        this.state = new WorkerState(workerId, WorkerState.Status.STARTING, -1, 0, 0, null, "");
    }

    /**
     * Spawn a new incarnation on a request stream of its own, then open the publication to it while
     * the process starts: the driver creates a new log for it, which can take a while on a loaded
     * machine. Nothing is routed to it before it has announced itself and that publication is
     * connected, so no request can be lost in between.
     */
    void start(final PolybridgeClient client)
    {
        // Fixed first streams only on the embedded driver: on an external one another bridge's workers
        // would take the same 100.., 200.. and both would read each other's requests.
        final int streamId = !everStarted && spec.firstRequestStream() > 0 && supervisor.ownsDriver() ?
            spec.firstRequestStream() + instance : supervisor.nextStreamId();
        final WorkerProcess process = WorkerProcess.spawn(command(client, streamId), spec.environment(), workerId);
        try
        {
            supervisor.openStream(client, streamId);
        }
        catch (final RuntimeException ex)
        {
            process.kill();
            supervisor.retireStream(client, streamId);
            throw ex;
        }
        if (everStarted)
        {
            restarts++;
        }
        everStarted = true;
        final Incarnation incarnation = new Incarnation(process, streamId, client);
        current = incarnation;
        publish(WorkerState.Status.STARTING, null, "");
        supervisor.startTicking();
        LOG.log(System.Logger.Level.DEBUG, "started worker '" + workerId + "' pid " + incarnation.pid() +
            " on request stream " + streamId);
        process.process().onExit().thenAccept((exited) -> supervisor.onProcessExit(this, incarnation));
    }

    private List<String> command(final PolybridgeClient client, final int streamId)
    {
        final List<String> command = new ArrayList<>(spec.command());
        command.addAll(List.of(
            "--aeron-dir", client.context().aeronDirectoryName(),
            "--worker-id", workerId,
            "--request-stream", Integer.toString(streamId),
            "--announce-interval-ms", Long.toString(supervisor.announceInterval().toMillis())));
        if (supervisor.passParentPid())
        {
            command.addAll(List.of("--parent-pid", Long.toString(ProcessHandle.current().pid())));
        }
        command.addAll(spec.options());
        return command;
    }

    /** Periodic: a STARTING incarnation that has announced itself and whose stream is connected is LIVE. */
    void checkReady()
    {
        final Incarnation incarnation = current;
        if (incarnation == null || state.status() != WorkerState.Status.STARTING || !isReady())
        {
            return;
        }
        final long announcedPid = incarnation.announcedPid;
        if (announcedPid != 0 && announcedPid != incarnation.pid())
        {
            incarnation.process.track(announcedPid); // a wrapper script's worker, checked to be a descendant
        }
        publish(WorkerState.Status.LIVE, null, "");
        LOG.log(System.Logger.Level.INFO, "worker '" + workerId + "' (pid " + incarnation.pid() + ", request stream " +
            incarnation.requestStreamId + ") is live, " +
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - incarnation.startNs) + " ms after its start");
    }

    /**
     * Any thread.
     *
     * @return whether its current incarnation has announced itself and its request stream is connected.
     */
    boolean isReady()
    {
        final Incarnation incarnation = current;
        if (incarnation == null || !incarnation.process.process().isAlive())
        {
            return false;
        }
        final WorkerLink link = incarnation.client.link(incarnation.requestStreamId);
        final WorkerInfo info = link == null ? null : link.info;
        if (link == null || !link.live || info == null)
        {
            return false;
        }
        if (!incarnation.owns(info.pid()))
        {
            if (!incarnation.foreignWarned)
            {
                incarnation.foreignWarned = true;
                LOG.log(System.Logger.Level.WARNING, "pid " + info.pid() + " ('" + info.workerId() + "') announced " +
                    "itself on request stream " + incarnation.requestStreamId + " of worker '" + workerId + "' (pid " +
                    incarnation.pid() + "); it is not that process or a descendant of it, so it is ignored: " +
                    "another bridge or program on driver " + incarnation.client.context().aeronDirectoryName() +
                    " uses this stream");
            }
            return false;
        }
        return supervisor.isConnected(incarnation.requestStreamId);
    }

    /** Its process exited: retire its stream, then restart it as the policy says, unless the bridge is stopping. */
    void onExit(final Incarnation incarnation, final String reason)
    {
        if (incarnation != current)
        {
            removeDoorbell(incarnation);
            return;
        }
        incarnation.process.kill(); // whatever it left behind: a wrapper's child, a grandchild
        removeDoorbell(incarnation);
        supervisor.retireStream(incarnation.client, incarnation.requestStreamId);
        if (supervisor.isClosing())
        {
            publish(WorkerState.Status.STOPPED, null, reason);
            return;
        }
        if (!supervisor.isLaunched())
        {
            launchFailure = reason;
            publish(WorkerState.Status.STOPPED, null, reason);
            return;
        }
        if (supervisor.driverLost() != null || incarnation.client.isDriverLost())
        {
            // Workers exit by themselves when the driver dies, often before the client says so.
            publish(WorkerState.Status.DRIVER_LOST, null, supervisor.driverLost() != null ?
                supervisor.driverLost() : incarnation.client.driverLostReason());
            return;
        }
        scheduleRestart("worker '" + workerId + "' (pid " + incarnation.pid() + ", request stream " +
            incarnation.requestStreamId + ") " + reason, reason);
    }

    /**
     * Its stream is its own, so no other process binds this doorbell; a SIGKILLed worker leaves it behind,
     * and its payload region files too (named by its pid: tmpfs memory until removed).
     */
    private static void removeDoorbell(final Incarnation incarnation)
    {
        Doorbells.remove(incarnation.client.context().aeronDirectoryName(), incarnation.requestStreamId);
        PayloadRegionFiles.removeOwnedBy(incarnation.client.context().aeronDirectoryName(), incarnation.pid());
    }

    void restartIfExitedDuringLaunch()
    {
        final String reason = launchFailure;
        if (reason != null && state.status() == WorkerState.Status.STOPPED)
        {
            launchFailure = null;
            scheduleRestart("worker '" + workerId + "' " + reason + " while the bridge was launching", reason);
        }
    }

    private void scheduleRestart(final String what, final String reason)
    {
        final RestartPolicy.Decision decision = policy.onExit(System.nanoTime());
        final long delayMs = TimeUnit.NANOSECONDS.toMillis(decision.delayNs());
        final Instant until = Instant.now().plusMillis(delayMs);
        if (decision.circuitOpen())
        {
            publish(WorkerState.Status.DOWN, until, reason);
            LOG.log(System.Logger.Level.ERROR, what + "; restart budget of " + policy.budget() + " per " +
                policy.window() + " spent: it stays down for the cool-down of " + policy.coolDown() + ", until " +
                until.truncatedTo(ChronoUnit.MILLIS) + ", and is then started again with a fresh budget; its calls " +
                "fail WORKER_UNAVAILABLE meanwhile");
        }
        else
        {
            publish(WorkerState.Status.RESTARTING, until, reason);
            LOG.log(System.Logger.Level.WARNING, what + "; restart " + decision.attempt() + " of " + policy.budget() +
                " within " + policy.window() + " in " + delayMs + " ms, on a new request stream");
        }
        pendingStart = supervisor.schedule(this::restart, Duration.ofMillis(delayMs));
    }

    private void restart()
    {
        pendingStart = null;
        if (supervisor.isClosing() || supervisor.driverLost() != null)
        {
            return;
        }
        final PolybridgeClient client = supervisor.client();
        try
        {
            start(client);
        }
        catch (final RuntimeException ex)
        {
            if (client.isDriverLost())
            {
                publish(WorkerState.Status.DRIVER_LOST, null, client.driverLostReason()); // respawned on reconnect
                return;
            }
            LOG.log(System.Logger.Level.ERROR, "could not restart worker '" + workerId + "': " + ex.getMessage(), ex);
            scheduleRestart("worker '" + workerId + "' could not be started", "could not start: " + ex.getMessage());
        }
    }

    /** Declared dead while its process runs: hung. SIGKILL it; its exit restarts it. */
    void killHung(final WorkerLink link)
    {
        final Incarnation incarnation = current;
        if (incarnation == null || incarnation.requestStreamId != link.requestStreamId ||
            !incarnation.process.process().isAlive() || supervisor.isClosing())
        {
            return;
        }
        LOG.log(System.Logger.Level.WARNING, "worker '" + workerId + "' (pid " + incarnation.pid() + ", request stream " +
            incarnation.requestStreamId + ") declared dead: " + link.deathReason + "; killing it (SIGKILL), then " +
            "restarting it as after any exit");
        incarnation.process.kill();
    }

    /** The driver is gone: stop this incarnation now and wait, DRIVER_LOST, for the supervisor to respawn it. */
    void onDriverLost(final String reason)
    {
        if (pendingStart != null)
        {
            pendingStart.cancel(false);
            pendingStart = null;
        }
        publish(WorkerState.Status.DRIVER_LOST, null, reason);
        final Incarnation incarnation = current;
        if (incarnation != null)
        {
            incarnation.process.kill();
        }
    }

    /** Closing: SIGTERM to its process tree; {@link #awaitStopped} waits and kills what is left. */
    void terminate()
    {
        if (pendingStart != null)
        {
            pendingStart.cancel(false);
        }
        final Incarnation incarnation = current;
        if (incarnation != null)
        {
            incarnation.process.terminate();
        }
    }

    void awaitStopped(final long graceMs)
    {
        final Incarnation incarnation = current;
        if (incarnation != null)
        {
            incarnation.process.stop(graceMs);
        }
        publish(WorkerState.Status.STOPPED, null, state.reason());
    }

    private void publish(final WorkerState.Status status, final Instant until, final String reason)
    {
        final Incarnation incarnation = current;
        state = new WorkerState(workerId, status, incarnation == null ? -1 : incarnation.pid(),
            incarnation == null ? 0 : incarnation.requestStreamId, restarts, until, reason);
    }

    WorkerState state()
    {
        return state;
    }

    Incarnation current()
    {
        return current;
    }

    int restarts()
    {
        return restarts;
    }

    /**
     * @return why its process exited during launch, or null.
     */
    String launchFailure()
    {
        return launchFailure;
    }
}
