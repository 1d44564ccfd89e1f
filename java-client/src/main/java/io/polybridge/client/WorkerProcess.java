package io.polybridge.client;

import io.polybridge.codecs.Language;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A worker binary started as a child process, its stdout and stderr appended to a log file.
 * Closing it sends SIGTERM, waits for a graceful exit and kills it if it does not come.
 * <p>
 * Binaries are found at {@code -Dpolybridge.worker.go} / {@code -Dpolybridge.worker.rust} when set,
 * else where the project's build puts them below the repository root ({@code -Dpolybridge.root},
 * default the working directory): {@code native-go/bin/polybridge-worker-go} and
 * {@code native-rust/target/release/polybridge-worker-rust}.
 */
public final class WorkerProcess implements AutoCloseable
{
    private static final long GRACEFUL_EXIT_MS = 5_000;

    private final String workerId;
    private final Process process;
    private final Path log;

    private WorkerProcess(final String workerId, final Process process, final Path log)
    {
        this.workerId = workerId;
        this.process = process;
        this.log = log;
    }

    /**
     * Where the build puts a language's worker binary, or where the system property says.
     *
     * When neither the property nor the build's file is there, the copy carried by a jar on the classpath
     * ({@code io.polybridge:polybridge-workers}), extracted once into a cache ({@link ExecutableResource}).
     *
     * @param language GO or RUST.
     * @return the binary's path, which may not exist yet.
     */
    public static Path binary(final Language language)
    {
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        return switch (language)
        {
            case GO -> orFromClasspath("polybridge.worker.go", Path.of(System.getProperty(
                "polybridge.worker.go", root.resolve("native-go/bin/polybridge-worker-go").toString())));
            case RUST -> orFromClasspath("polybridge.worker.rust", Path.of(System.getProperty(
                "polybridge.worker.rust", root.resolve("native-rust/target/release/polybridge-worker-rust").toString())));
            default -> throw new IllegalArgumentException("no worker binary for " + language);
        };
    }

    /** An explicit or built binary wins; else the classpath's (a user's project has no checkout). */
    private static Path orFromClasspath(final String property, final Path path)
    {
        if (System.getProperty(property) != null || Files.isExecutable(path))
        {
            return path;
        }
        final String name = path.getFileName().toString();
        return ExecutableResource.isAvailable(name) ? ExecutableResource.extract(name) : path;
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
        final List<String> command = command(binary, aeronDirectory, workerId, requestStreamId, options);
        final Process process;
        try
        {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not start " + command, ex);
        }
        final System.Logger logger = System.getLogger("polybridge.worker." + workerId);
        final Thread pump = new Thread(() -> pumpLines(process, workerId, logger), "polybridge-log-" + workerId);
        pump.setDaemon(true);
        pump.start();
        return new WorkerProcess(workerId, process, null);
    }

    private static void pumpLines(final Process process, final String workerId, final System.Logger logger)
    {
        final String prefix = "[" + workerId + " pid " + process.pid() + "] ";
        try (BufferedReader lines = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
        {
            String line;
            while ((line = lines.readLine()) != null)
            {
                logger.log(looksLikeTrouble(line) ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                    prefix + line);
            }
        }
        catch (final IOException ex)
        {
            logger.log(System.Logger.Level.DEBUG, prefix + "output closed: " + ex);
        }
    }

    private static boolean looksLikeTrouble(final String line)
    {
        return line.contains("level=ERROR") || line.contains("level=WARN") || line.contains(": error") ||
            line.contains("panic") || line.contains("not sent");
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
        if (!Files.isExecutable(binary))
        {
            throw new IllegalStateException("worker binary " + binary.toAbsolutePath() + " is missing or not " +
                "executable; build it with 'make workers' at the repository root, or point -Dpolybridge.worker.go " +
                "/ -Dpolybridge.worker.rust at it");
        }
        final List<String> command = new ArrayList<>(List.of(
            binary.toString(),
            "--aeron-dir", aeronDirectory,
            "--worker-id", workerId,
            "--request-stream", Integer.toString(requestStreamId)));
        command.addAll(options);
        return command;
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
     * Stop the worker: SIGTERM, then SIGKILL if it has not exited within 5 seconds.
     *
     * @return its exit code (143 or 137 where it had to be killed by signal).
     */
    public int stop()
    {
        process.destroy();
        try
        {
            if (!process.waitFor(GRACEFUL_EXIT_MS, TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
            }
            return process.waitFor();
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    public void close()
    {
        if (process.isAlive())
        {
            stop();
        }
    }
}
