package io.polybridge.driver;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A JVM started by a test, under {@code umask 022} (what most shells give), with this test's class
 * path: a standalone driver ({@link PolybridgeMediaDriver#main}) or a probe.
 */
final class ChildJvm implements AutoCloseable
{
    final Process process;

    private ChildJvm(final Process process)
    {
        this.process = process;
    }

    /**
     * @param log        where its stdout and stderr go.
     * @param properties -D settings.
     * @param mainClass  what it runs.
     * @param args       its arguments.
     * @return the started JVM.
     * @throws IOException if it could not be started.
     */
    static ChildJvm start(final Path log, final List<String> properties, final Class<?> mainClass, final String... args)
        throws IOException
    {
        final List<String> java = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED"));
        java.addAll(properties);
        java.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass.getName()));
        java.addAll(List.of(args));
        // umask is a property of the process: only a shell in between can set it for the JVM.
        final List<String> command = new ArrayList<>(List.of("/bin/sh", "-c", "umask 022 && exec \"$@\"", "sh"));
        command.addAll(java);
        Files.createDirectories(log.getParent());
        return new ChildJvm(new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start());
    }

    /**
     * A standalone driver in dir.
     *
     * @param dir its aeron.dir.
     * @param log where its output goes.
     * @return the started JVM, once its cnc.dat exists.
     * @throws IOException if it could not be started.
     */
    static ChildJvm standaloneDriver(final Path dir, final Path log) throws IOException
    {
        Files.deleteIfExists(log); // its first line tells this driver is up, not a previous one's cnc.dat
        final ChildJvm jvm = start(log, List.of("-Daeron.dir=" + dir), PolybridgeMediaDriver.class);
        try
        {
            awaitTrue(() -> logSays(log, "polybridge media driver running") || !jvm.process.isAlive(),
                "standalone driver started in " + dir);
            assertTrue(jvm.process.isAlive(), "standalone driver exited; see " + log);
            return jvm;
        }
        catch (final RuntimeException | Error ex)
        {
            jvm.process.destroyForcibly(); // never leave a driver behind a failed test
            throw ex;
        }
    }

    static boolean logSays(final Path log, final String text)
    {
        try
        {
            return Files.exists(log) && Files.readString(log).contains(text);
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    /** SIGKILL, and wait until the process is reaped. */
    void kill() throws InterruptedException
    {
        process.destroyForcibly();
        process.waitFor();
    }

    /** SIGTERM, then SIGKILL after 30 s; waits until it is reaped. */
    public void close() throws InterruptedException
    {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS))
        {
            kill();
        }
    }

    static void awaitTrue(final BooleanSupplier condition, final String what)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() < deadline, what + ": not within 30 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }
}
