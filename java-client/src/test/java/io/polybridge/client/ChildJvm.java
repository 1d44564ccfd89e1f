package io.polybridge.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A JVM started by a test, running a main class of the test classpath, its output in a file: for what
 * only a whole process can show (it exits by itself, a signal closes it, SIGKILL leaves nothing).
 */
final class ChildJvm implements AutoCloseable
{
    final Process process;
    final Path output;

    private ChildJvm(final Process process, final Path output)
    {
        this.process = process;
        this.output = output;
    }

    /**
     * @param main       the main class.
     * @param directory  its working directory.
     * @param properties -D settings, e.g. "polybridge.root=/repo".
     * @param args       its arguments.
     */
    static ChildJvm start(final Class<?> main, final Path directory, final List<String> properties, final String... args)
        throws IOException
    {
        final Path output = Files.createTempFile(Path.of("target").toAbsolutePath(), "child-jvm-", ".log");
        final List<String> command = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED"));
        for (final String property : properties)
        {
            command.add("-D" + property);
        }
        command.addAll(List.of("-cp", absoluteClassPath(), main.getName()));
        command.addAll(List.of(args));
        final Process process = new ProcessBuilder(command)
            .directory(directory.toFile())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .start();
        return new ChildJvm(process, output);
    }

    /** Surefire's class path may be relative (a booter jar in target/): the child may run elsewhere. */
    private static String absoluteClassPath()
    {
        final List<String> entries = new ArrayList<>();
        for (final String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
        {
            entries.add(Path.of(entry).toAbsolutePath().toString());
        }
        return String.join(java.io.File.pathSeparator, entries);
    }

    String output()
    {
        try
        {
            return Files.readString(output, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return "(unreadable: " + ex + ")";
        }
    }

    /** Wait for a line starting with the prefix and return the rest of it. */
    String awaitLine(final String prefix, final long timeoutMs)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true)
        {
            final Optional<String> line = output().lines().filter((l) -> l.startsWith(prefix)).findFirst();
            if (line.isPresent())
            {
                return line.get().substring(prefix.length());
            }
            assertTrue(process.isAlive() && System.nanoTime() < deadlineNs, () -> "no line '" + prefix +
                "' from the child JVM (alive: " + process.isAlive() + "); its output:\n" + output());
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    boolean awaitExit(final long timeoutMs) throws InterruptedException
    {
        return process.waitFor(timeoutMs, TimeUnit.MILLISECONDS);
    }

    /** Every live process whose command line mentions the text: workers name their driver directory. */
    static List<ProcessHandle> processesMentioning(final String text)
    {
        return ProcessHandle.allProcesses()
            .filter((p) -> p.pid() != ProcessHandle.current().pid())
            .filter((p) -> p.info().arguments().map((a) -> String.join(" ", a).contains(text)).orElse(false) ||
                p.info().commandLine().map((c) -> c.contains(text)).orElse(false))
            .toList();
    }

    public void close()
    {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }
}
