package io.polybridge.client;


import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A worker binary started as a child process, its stdout and stderr appended to a log file or
 * logged line by line. Closing it sends SIGTERM to it and its descendants (so a worker started
 * through a wrapper script does not outlive it), waits for a graceful exit and kills what is left.
 * <p>
 * Over 400 lines only through the javadoc of its public starters, kept for the raw-API samples.
 */
public final class WorkerProcess implements AutoCloseable
{
    private static final long GRACEFUL_EXIT_MS = 5_000;
    private static final int TAIL_LINES = 20;

    private final String workerId;
    private final Process process;
    private final Path log;
    private final ArrayDeque<String> tail = new ArrayDeque<>(); // guarded by itself
    private final CountDownLatch outputClosed = new CountDownLatch(1);
    private final Set<ProcessHandle> tracked = ConcurrentHashMap.newKeySet();

    private WorkerProcess(final String workerId, final Process process, final Path log)
    {
        this.workerId = workerId;
        this.process = process;
        this.log = log;
    }

    /**
     * Start a worker process.
     *
     * @param binary          the worker executable.
     * @param aeronDirectory  the media driver's directory.
     * @param workerId        its name, as it will announce itself.
     * @param requestStreamId its request stream.
     * @param log             file its stdout and stderr are appended to.
     * @return the running process.
     */
    public static WorkerProcess start(
        final Path binary, final String aeronDirectory, final String workerId, final int requestStreamId, final Path log)
    {
        return start(binary, aeronDirectory, workerId, requestStreamId, log, List.of());
    }

    /**
     * Start a worker process with extra command-line options, e.g. {@code --pool-size 4}.
     *
     * @param binary          the worker executable.
     * @param aeronDirectory  the media driver's directory.
     * @param workerId        its name, as it will announce itself.
     * @param requestStreamId its request stream.
     * @param log             file its stdout and stderr are appended to.
     * @param options         further options, as the worker's --help lists them.
     * @return the running process.
     */
    public static WorkerProcess start(
        final Path binary,
        final String aeronDirectory,
        final String workerId,
        final int requestStreamId,
        final Path log,
        final List<String> options)
    {
        final List<String> command = command(binary, aeronDirectory, workerId, requestStreamId, options);
        try
        {
            Files.createDirectories(log.toAbsolutePath().getParent());
            final Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
            return new WorkerProcess(workerId, process, log);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not start " + command, ex);
        }
    }

    /**
     * Start a worker process whose stdout and stderr go, line by line, to a {@link System.Logger}
     * named {@code polybridge.worker.<workerId>}: WARNING for lines that look like errors or
     * warnings, INFO for the rest.
     *
     * @param binary          the worker executable.
     * @param aeronDirectory  the media driver's directory.
     * @param workerId        its name, as it will announce itself.
     * @param requestStreamId its request stream.
     * @param options         further options, as the worker's --help lists them.
     * @return the running process; {@link #log()} is null.
     */
    public static WorkerProcess startLogged(
        final Path binary,
        final String aeronDirectory,
        final String workerId,
        final int requestStreamId,
        final List<String> options)
    {
        return spawn(command(binary, aeronDirectory, workerId, requestStreamId, options), Map.of(), workerId);
    }

    /**
     * Start a command whose output goes to the log {@code polybridge.worker.<workerId>}, the last lines
     * also kept for {@link #outputTail()}.
     *
     * @param command     the executable and all its arguments.
     * @param environment variables added to the JVM's environment.
     * @param workerId    its name, for the log.
     * @return the running process.
     */
    static WorkerProcess spawn(final List<String> command, final Map<String, String> environment, final String workerId)
    {
        requireExecutable(command.get(0));
        final Process process;
        try
        {
            final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().putAll(environment);
            process = builder.start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not start worker '" + workerId + "' as " + command + ": " +
                ex.getMessage(), ex);
        }
        final WorkerProcess started = new WorkerProcess(workerId, process, null);
        final System.Logger logger = System.getLogger("polybridge.worker." + workerId);
        final Thread pump = new Thread(() -> started.pumpLines(logger), "polybridge-log-" + workerId);
        pump.setDaemon(true);
        pump.start();
        return started;
    }

    private void pumpLines(final System.Logger logger)
    {
        final String prefix = "[" + workerId + " pid " + process.pid() + "] ";
        try (BufferedReader lines = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            while ((line = lines.readLine()) != null)
            {
                synchronized (tail)
                {
                    if (tail.size() == TAIL_LINES)
                    {
                        tail.pollFirst();
                    }
                    tail.addLast(line.length() > 500 ? line.substring(0, 500) + "..." : line);
                }
                logger.log(looksLikeTrouble(line) ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                    prefix + line);
            }
        }
        catch (final IOException ex)
        {
            logger.log(System.Logger.Level.DEBUG, prefix + "output closed: " + ex);
        }
        finally
        {
            outputClosed.countDown();
        }
    }

    private static boolean looksLikeTrouble(final String line)
    {
        return line.contains("level=ERROR") || line.contains("level=WARN") || line.contains(": error") ||
            // "panic:" (Go) and "panicked" (Rust), not the "panics=0" of a clean shutdown's counters.
            line.contains("panic:") || line.contains("panicked") || line.contains("not sent");
    }

    private static List<String> command(
        final Path binary,
        final String aeronDirectory,
        final String workerId,
        final int requestStreamId,
        final List<String> options)
    {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(aeronDirectory, "aeronDirectory");
        Objects.requireNonNull(workerId, "workerId");
        requireExecutable(binary.toString());
        final List<String> command = new ArrayList<>(List.of(
            binary.toString(),
            "--aeron-dir", aeronDirectory,
            "--worker-id", workerId,
            "--request-stream", Integer.toString(requestStreamId)));
        command.addAll(options);
        return command;
    }

    /** A path (anything with a '/') must be an executable file; a bare name is looked up on PATH at start. */
    private static void requireExecutable(final String executable)
    {
        if (executable.indexOf('/') < 0)
        {
            return;
        }
        final Path binary = Path.of(executable);
        if (!Files.isExecutable(binary) || Files.isDirectory(binary))
        {
            throw new IllegalStateException("worker binary " + binary.toAbsolutePath() + " is missing or not " +
                "executable (working directory " + Path.of("").toAbsolutePath() + "); build it, or give the " +
                "WorkerSpec an absolute path, or one from a jar with WorkerSpec.fromResource");
        }
    }

    /**
     * @return the worker id it was started with.
     */
    public String workerId()
    {
        return workerId;
    }

    /**
     * @return the process handle.
     */
    public Process process()
    {
        return process;
    }

    /**
     * @return the file its output goes to, or null when it goes to the Java log.
     */
    public Path log()
    {
        return log;
    }

    /**
     * @return its last lines of output (at most 20), when it was started with its output logged.
     */
    public List<String> outputTail()
    {
        synchronized (tail)
        {
            return List.copyOf(tail);
        }
    }

    /**
     * Wait (bounded) until everything the process wrote has been read, so {@link #outputTail()} is
     * complete after it exited; its output stays open while a descendant holds it.
     *
     * @param timeoutMs the most to wait.
     */
    void awaitOutput(final long timeoutMs)
    {
        try
        {
            outputClosed.await(timeoutMs, TimeUnit.MILLISECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Remember another process of this worker that must die with it, e.g. the worker a wrapper
     * script started (its announced pid): once the wrapper is gone it is no longer a descendant.
     *
     * @param pid the process, ignored when it is this process or no longer exists.
     */
    void track(final long pid)
    {
        if (pid != process.pid())
        {
            ProcessHandle.of(pid).ifPresent(tracked::add);
        }
        process.descendants().forEach(tracked::add);
    }

    /** SIGTERM to the process and every descendant or tracked process, without waiting. */
    void terminate()
    {
        for (final ProcessHandle handle : tree())
        {
            tracked.add(handle); // still stopped by stop() once the root has gone and they are no descendants
            handle.destroy();
        }
    }

    /** SIGKILL the process and every descendant or tracked process, without waiting. */
    void kill()
    {
        for (final ProcessHandle handle : tree())
        {
            handle.destroyForcibly();
        }
    }

    /**
     * Stop the worker: SIGTERM, then SIGKILL if it has not exited within 5 seconds.
     *
     * @return its exit code (143 or 137 where it had to be killed by signal).
     */
    public int stop()
    {
        return stop(GRACEFUL_EXIT_MS);
    }

    /**
     * Stop the worker and its descendants (a wrapper script's child too): SIGTERM to each, then
     * SIGKILL to whatever is still alive after the grace period.
     *
     * @param graceMs how long to wait for a graceful exit.
     * @return its exit code, -1 if interrupted.
     */
    int stop(final long graceMs)
    {
        final List<ProcessHandle> tree = tree();
        for (final ProcessHandle handle : tree)
        {
            handle.destroy();
        }
        try
        {
            final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(graceMs);
            for (final ProcessHandle handle : tree)
            {
                final long leftNs = deadlineNs - System.nanoTime();
                try
                {
                    handle.onExit().get(Math.max(0, leftNs), TimeUnit.NANOSECONDS);
                }
                catch (final java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException ex)
                {
                    // killed below
                }
            }
            for (final ProcessHandle handle : tree)
            {
                handle.destroyForcibly();
            }
            kill(); // and any descendant born since the snapshot
            return process.waitFor();
        }
        catch (final InterruptedException ex)
        {
            kill();
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** The process, its descendants now and the tracked processes: everything to stop. */
    private List<ProcessHandle> tree()
    {
        final List<ProcessHandle> tree = new ArrayList<>();
        tree.add(process.toHandle());
        process.descendants().forEach(tree::add);
        for (final ProcessHandle handle : tracked)
        {
            if (handle.pid() != process.pid() && !tree.contains(handle))
            {
                tree.add(handle);
            }
        }
        return tree;
    }

    public void close()
    {
        if (process.isAlive() || tracked.stream().anyMatch(ProcessHandle::isAlive))
        {
            stop();
        }
    }
}
