package io.polybridge.cli;

import io.polybridge.client.Bridge;
import io.polybridge.client.PolybridgeException;
import io.polybridge.client.WorkerInfo;
import io.polybridge.client.WorkerSpec;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The driver and workers one command runs against, from {@link LaunchOptions}: a {@link Bridge}
 * with an embedded or attached driver, the Go and Rust workers and one {@link WorkerSpec} per
 * {@code --worker}, all spawned and supervised by it. Closing it stops every worker it started,
 * then its embedded driver, whose directory goes with it; the bridge's shutdown hook does the same
 * when the command is interrupted (Ctrl-C, SIGTERM).
 */
final class Session implements AutoCloseable
{
    /** Workers started on their own announce every second: three missed announcements make one dead. */
    private static final Duration ATTACHED_LIVENESS = Duration.ofSeconds(3);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private final LaunchOptions options;
    private final Bridge bridge;

    private Session(final LaunchOptions options, final Bridge bridge)
    {
        this.options = options;
        this.bridge = bridge;
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
        configure(ctx, options);
        if (options.attached())
        {
            ctx.livenessTimeout(ATTACHED_LIVENESS);
        }
        final Session session = new Session(options, Bridge.launch(ctx));
        if (options.verbose)
        {
            session.describe(err);
        }
        return session;
    }

    /**
     * What --modules and --worker add to a bridge's settings; also applied to {@code scan}'s.
     *
     * @param ctx     the bridge's settings.
     * @param options the command's launch options.
     */
    static void configure(final Bridge.Context ctx, final LaunchOptions options)
    {
        if (options.modules != null)
        {
            ctx.goOptions(List.of("--modules", options.modules.toString()));
        }
        final Set<String> names = new HashSet<>(List.of(WorkerSpec.GO, WorkerSpec.RUST));
        for (final WorkerCommand command : options.workers)
        {
            final String name = uniqueName(command, names);
            final List<String> line = new ArrayList<>();
            line.add(command.executable().toString());
            ctx.worker(new WorkerSpec(name, line).options(command.options()));
        }
    }

    /** Worker ids are the spec's name and the instance: my-worker-0, or my-worker.2-0 for a second one. */
    private static String uniqueName(final WorkerCommand command, final Set<String> taken)
    {
        final String base = command.executable().getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_");
        String name = base;
        for (int i = 2; !taken.add(name); i++)
        {
            name = base + "." + i;
        }
        return name;
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
        if (!options.attached())
        {
            return; // the bridge's launch waited until its workers' request streams were connected
        }
        for (final WorkerInfo info : serving)
        {
            try
            {
                bridge.client().awaitWorker(info.workerId(), CONNECT_TIMEOUT);
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

    private void describe(final PrintStream err)
    {
        final List<String> spawned = new ArrayList<>();
        for (final Map.Entry<String, ProcessHandle> process : bridge.processes().entrySet())
        {
            spawned.add(process.getKey() + " pid " + process.getValue().pid());
        }
        err.println("polybridge-cli: media driver " + bridge.aeronDirectoryName() +
            (options.attached() ? " (attached)" : " (embedded)") + "; spawned workers: " +
            (spawned.isEmpty() ? "none" : String.join(", ", spawned)));
    }

    /** Stop the bridge: its workers, then its embedded driver. */
    public void close()
    {
        bridge.close();
    }
}
