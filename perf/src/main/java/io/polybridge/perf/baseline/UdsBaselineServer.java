package io.polybridge.perf.baseline;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The Go {@code uds-baseline-server} as a child process, listening on a socket in a fresh
 * temporary directory. Built by {@code perf/build.sh} into {@code perf/uds-baseline/bin/}.
 */
public final class UdsBaselineServer implements AutoCloseable
{
    private final Process process;
    private final Path directory;
    private final Path socket;

    private UdsBaselineServer(final Process process, final Path directory, final Path socket)
    {
        this.process = process;
        this.directory = directory;
        this.socket = socket;
    }

    /**
     * Start the server and wait until its socket accepts connections.
     *
     * @return the running server.
     */
    public static UdsBaselineServer start()
    {
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        final Path binary = root.resolve("perf/uds-baseline/bin/uds-baseline-server");
        if (!Files.isExecutable(binary))
        {
            throw new IllegalStateException(binary.toAbsolutePath() + " is missing; build it with 'make perf-smoke' " +
                "or perf/install-deps.sh && perf/build.sh");
        }
        try
        {
            final Path directory = Files.createTempDirectory("polybridge-uds-");
            final Path socket = directory.resolve("baseline.sock");
            final Process process = new ProcessBuilder(binary.toString(), "--socket", socket.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(directory.resolve("server.log").toFile()))
                .start();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket))
            {
                if (!process.isAlive() || System.nanoTime() > deadline)
                {
                    process.destroyForcibly();
                    throw new IllegalStateException("uds-baseline-server did not start; see " + directory.resolve("server.log"));
                }
                Thread.sleep(10);
            }
            return new UdsBaselineServer(process, directory, socket);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    /**
     * @return the socket to connect to.
     */
    public Path socket()
    {
        return socket;
    }

    public void close()
    {
        process.destroy();
        try
        {
            if (!process.waitFor(5, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor();
            }
            try (var files = Files.list(directory))
            {
                for (final Path file : files.toList())
                {
                    Files.deleteIfExists(file);
                }
            }
            Files.deleteIfExists(directory);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
