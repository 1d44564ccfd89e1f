package io.polybridge.cli;

import io.polybridge.client.Bridge;
import io.polybridge.client.PolybridgeException;
import io.polybridge.client.WorkerInfo;
import io.polybridge.client.WorkerSpec;
import io.polybridge.webscan.WebScanWorkers;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * with an embedded or attached driver, the web-scan app's Go and Rust workers ({@link WebScanWorkers}),
 * the library's Go test worker for {@code --modules}, and one {@link WorkerSpec} per {@code --worker},
 * all spawned and supervised by it. Closing it stops every worker it started,
 * then its embedded driver, whose directory goes with it; the bridge's shutdown hook does the same
 * when the command is interrupted (Ctrl-C, SIGTERM).
 */
final class Session implements AutoCloseable
{
    /** Workers started on their own announce every second: three missed announcements make one dead. */
    private static final Duration ATTACHED_LIVENESS = Duration.ofSeconds(3);
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Compiling a module takes from milliseconds to seconds (a Go-built one, on a busy machine). */
    static final Duration MODULES_TIMEOUT = Duration.ofSeconds(30);
    /** Name of the --modules worker's spec: its id is wasm-0. */
    static final String MODULES_WORKER = "wasm";
    /** The library's Go test worker, the WebAssembly host, below the repository root. */
    static final String MODULES_WORKER_PATH = "native-go/bin/polybridge-worker-go";
    /** System property naming the WebAssembly host instead. */
    static final String MODULES_WORKER_PROP_NAME = "polybridge.worker.go";

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
        final Bridge.Context ctx = new Bridge.Context().aeronDirectoryName(options.aeronDir);
        WebScanWorkers.addTo(ctx, options.goInstances(), options.rustInstances());
        configure(ctx, options);
        if (options.attached())
        {
            ctx.livenessTimeout(ATTACHED_LIVENESS);
        }
        if (options.replyChannel != null)
        {
            ctx.client().replyChannel(options.replyChannel);
        }
        if (!options.announceChannels.isEmpty())
        {
            final List<String> announceChannels = new ArrayList<>();
            announceChannels.add(ctx.client().channel()); // this host's workers
            for (final String channel : options.announceChannels)
            {
                if (!announceChannels.contains(channel))
                {
                    announceChannels.add(channel);
                }
            }
            ctx.client().announceChannels(announceChannels);
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
            ctx.worker(new WorkerSpec(MODULES_WORKER, modulesWorker()).options("--modules", options.modules.toString()));
        }
        final Set<String> names = new HashSet<>(List.of(WebScanWorkers.GO, WebScanWorkers.RUST, MODULES_WORKER));
        for (final WorkerCommand command : options.workers)
        {
            final String name = uniqueName(command, names);
            final List<String> line = new ArrayList<>();
            line.add(command.executable().toString());
            ctx.worker(new WorkerSpec(name, line).options(command.options()));
        }
    }

    /**
     * WebAssembly modules are served by the library's Go test worker (native-go/cmd/polybridge-worker-go), which
     * no jar carries: it comes from the checkout's build.
     */
    private static Path modulesWorker()
    {
        final String explicit = System.getProperty(MODULES_WORKER_PROP_NAME);
        final Path path = explicit != null ? Path.of(explicit) :
            Path.of(System.getProperty("polybridge.root", ".")).resolve(MODULES_WORKER_PATH);
        if (!Files.isExecutable(path))
        {
            throw new IllegalStateException("--modules needs the library's Go test worker, the WebAssembly host, at " +
                path.toAbsolutePath() + ": run `make workers` in the checkout, or name it with -D" +
                MODULES_WORKER_PROP_NAME);
        }
        return path;
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
     * Wait until a live worker serves the handler and, with an attached driver, until the request
     * streams of those serving it are connected, so the first call is not lost to a publication the
     * driver has not linked yet. How long: with an attached driver, the --discover-ms window; for a
     * module of --modules DIR, {@link #MODULES_TIMEOUT} (the WebAssembly host announces a module once it
     * has compiled, after they started); otherwise not at all (the bridge's launch waited for its
     * workers).
     *
     * @param handler the handler about to be called.
     * @return whether a live worker serves it.
     */
    boolean awaitHandler(final String handler)
    {
        final long startNs = System.nanoTime();
        final long waitNs = isModule(handler) ? MODULES_TIMEOUT.toNanos() :
            options.attached() ? options.discover.toNanos() : 0;
        List<WorkerInfo> serving = serving(handler);
        while (serving.isEmpty() && System.nanoTime() - startNs < waitNs)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            serving = serving(handler);
        }
        if (options.attached())
        {
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
        return !serving.isEmpty();
    }

    /**
     * @param handler a handler name.
     * @return whether it is {@code wasm.NAME} and --modules DIR holds {@code NAME.wasm}.
     */
    boolean isModule(final String handler)
    {
        return moduleHandlers().contains(handler);
    }

    /**
     * With --modules, wait until the WebAssembly host announces a handler for each module in the
     * folder, at most {@link #MODULES_TIMEOUT}: one that does not compile is never announced.
     */
    void awaitModules()
    {
        final Set<String> expected = moduleHandlers();
        final long deadlineNs = System.nanoTime() + MODULES_TIMEOUT.toNanos();
        while (!expected.isEmpty() && !modulesHostServes(expected) && System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    private boolean modulesHostServes(final Set<String> handlers)
    {
        final Set<String> hosts = new HashSet<>();
        for (final String workerId : bridge.processes().keySet())
        {
            if (workerId.startsWith(MODULES_WORKER + "-"))
            {
                hosts.add(workerId);
            }
        }
        for (final WorkerInfo info : bridge.liveWorkers())
        {
            if (hosts.contains(info.workerId()) && info.handlers().containsAll(handlers))
            {
                hosts.remove(info.workerId());
            }
        }
        return hosts.isEmpty();
    }

    /** wasm.NAME for each NAME.wasm in --modules DIR (as the Go worker names them); empty without --modules. */
    private Set<String> moduleHandlers()
    {
        final Set<String> handlers = new HashSet<>();
        if (options.modules == null)
        {
            return handlers;
        }
        try (DirectoryStream<Path> modules = Files.newDirectoryStream(options.modules, "*.wasm"))
        {
            for (final Path module : modules)
            {
                final String file = module.getFileName().toString();
                handlers.add("wasm." + file.substring(0, file.length() - ".wasm".length()));
            }
        }
        catch (final IOException ex)
        {
            // Unreadable now: nothing to wait for; the workers say what they make of it.
        }
        return handlers;
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
