package io.polybridge.cli;

import io.polybridge.client.Bridge;
import io.polybridge.client.PolybridgeClient;
import io.polybridge.client.PolybridgeException;
import io.polybridge.client.WorkerInfo;
import io.polybridge.client.WorkerProcess;
import io.polybridge.codecs.ErrorCode;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The driver and workers one command runs against, from {@link LaunchOptions}: a {@link Bridge}
 * (embedded or attached driver, spawned Go and Rust workers) plus the {@code --worker} commands.
 * Closing it stops every worker it started, then its embedded driver, whose directory goes with it;
 * a shutdown hook does the same when the command is interrupted (Ctrl-C, SIGTERM).
 */
final class Session implements AutoCloseable
{
    /** Workers started on their own announce every second: three missed announcements make one dead. */
    private static final Duration ATTACHED_LIVENESS = Duration.ofSeconds(3);
    /** --worker workers take request streams from here (Bridge's Go workers use 100.., Rust 200..). */
    private static final int FIRST_WORKER_STREAM = 300;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration ANNOUNCE_INTERVAL = Duration.ofMillis(200);

    private final LaunchOptions options;
    private final Bridge bridge;
    private final List<WorkerProcess> started = new ArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private Session(final LaunchOptions options, final Bridge bridge)
    {
        this.options = options;
        this.bridge = bridge;
        shutdownHook = new Thread(this::close, "polybridge-cli-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Launch the driver and the workers, and wait until the spawned ones have announced themselves.
     *
     * @param options the command's launch options.
     * @param err     where --verbose describes what was started.
     * @return the session; close it when done.
     */
    static Session open(final LaunchOptions options, final PrintStream err)
    {
        final Bridge.Context ctx = new Bridge.Context()
            .aeronDirectoryName(options.aeronDir)
            .goInstances(options.goInstances())
            .rustInstances(options.rustInstances());
        if (options.modules != null)
        {
            ctx.goOptions(List.of("--modules", options.modules.toString()));
        }
        if (options.attached())
        {
            ctx.livenessTimeout(ATTACHED_LIVENESS);
        }
        final Session session = new Session(options, Bridge.launch(ctx));
        try
        {
            session.startWorkerCommands();
            if (options.verbose)
            {
                session.describe(err);
            }
            return session;
        }
        catch (final RuntimeException ex)
        {
            session.close();
            throw ex;
        }
    }

    Bridge bridge()
    {
        return bridge;
    }

    /**
     * With an attached driver, listen for announcements for the --discover-ms window; workers this
     * session spawned have announced themselves already.
     */
    void discover()
    {
        if (options.attached())
        {
            LockSupport.parkNanos(options.discover.toNanos());
        }
    }

    /**
     * Wait until a live worker serves the handler (with an attached driver, at most the
     * --discover-ms window), and until the request streams of those serving it are connected, so the
     * first call is not lost to a publication the driver has not linked yet.
     *
     * @param handler the handler about to be called.
     */
    void awaitHandler(final String handler)
    {
        final long deadlineNs = System.nanoTime() + options.discover.toNanos();
        List<WorkerInfo> serving = serving(handler);
        while (serving.isEmpty() && options.attached() && System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            serving = serving(handler);
        }
        for (final WorkerInfo info : serving)
        {
            try
            {
                bridge.client().awaitWorker(info.workerId(), START_TIMEOUT);
            }
            catch (final PolybridgeException ex)
            {
                // Another schema, or gone meanwhile: the call itself says why no worker could take it.
            }
        }
    }

    private List<WorkerInfo> serving(final String handler)
    {
        final List<WorkerInfo> serving = new ArrayList<>();
        for (final WorkerInfo info : bridge.liveWorkers())
        {
            if (info.handlers().contains(handler))
            {
                serving.add(info);
            }
        }
        return serving;
    }

    /** The --worker commands, on request streams 300.., each waited for until it has announced itself. */
    private void startWorkerCommands()
    {
        final List<String> given = List.of(
            "--announce-interval-ms", Long.toString(ANNOUNCE_INTERVAL.toMillis()));
        for (int i = 0; i < options.workers.size(); i++)
        {
            final WorkerCommand command = options.workers.get(i);
            final List<String> workerOptions = new ArrayList<>(given);
            workerOptions.addAll(command.options());
            started.add(WorkerProcess.startLogged(command.executable(), bridge.aeronDirectoryName(),
                "worker-" + i, FIRST_WORKER_STREAM + i, workerOptions));
        }
        final long deadlineNs = System.nanoTime() + START_TIMEOUT.toNanos();
        for (int i = 0; i < started.size(); i++)
        {
            final WorkerProcess worker = started.get(i);
            final String text = options.workers.get(i).text();
            while (!announced(worker))
            {
                final Process process = worker.process();
                if (!process.isAlive())
                {
                    throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "worker '" + worker.workerId() +
                        "' (--worker '" + text + "') exited with code " + process.exitValue() + " before " +
                        "announcing itself" + (options.verbose ? "; its output is above" : "; run with --verbose " +
                        "to see its output"));
                }
                if (System.nanoTime() - deadlineNs > 0)
                {
                    throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "worker '" + worker.workerId() +
                        "' (--worker '" + text + "', pid " + process.pid() + ") did not announce itself within " +
                        START_TIMEOUT + "; does it take --aeron-dir, --worker-id and --request-stream?");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
    }

    private boolean announced(final WorkerProcess worker)
    {
        final PolybridgeClient client = bridge.client();
        for (final WorkerInfo info : client.workers())
        {
            if (info.workerId().equals(worker.workerId()) && info.pid() == worker.process().pid())
            {
                return client.isLive(info.requestStreamId());
            }
        }
        return false;
    }

    private void describe(final PrintStream err)
    {
        final StringBuilder line = new StringBuilder("polybridge-cli: media driver ")
            .append(bridge.aeronDirectoryName()).append(options.attached() ? " (attached)" : " (embedded)");
        final List<String> spawned = new ArrayList<>();
        for (final Map.Entry<String, ProcessHandle> process : bridge.processes().entrySet())
        {
            spawned.add(process.getKey() + " pid " + process.getValue().pid());
        }
        for (final WorkerProcess worker : started)
        {
            spawned.add(worker.workerId() + " pid " + worker.process().pid());
        }
        line.append("; spawned workers: ").append(spawned.isEmpty() ? "none" : String.join(", ", spawned));
        err.println(line);
    }

    /** Stop the --worker workers and the bridge (its workers, then its embedded driver). */
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
        try
        {
            for (final WorkerProcess worker : started)
            {
                worker.process().destroy(); // SIGTERM to all first: they stop in parallel
            }
            for (final WorkerProcess worker : started)
            {
                worker.close();
            }
        }
        finally
        {
            bridge.close();
        }
        if (Thread.currentThread() != shutdownHook)
        {
            try
            {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            }
            catch (final IllegalStateException ex)
            {
                // The JVM is already shutting down: the hook finds the session closed.
            }
        }
    }
}
