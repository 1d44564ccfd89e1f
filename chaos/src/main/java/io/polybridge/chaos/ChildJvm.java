package io.polybridge.chaos;

import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A child JVM started from the harness's own class path: its stderr and non-protocol stdout go to a
 * log file, its protocol lines ({@link Protocol}) to a queue, and commands go to its stdin.
 */
final class ChildJvm
{
    /** What every child needs on Java 17+ for Aeron and Agrona. */
    static final List<String> AERON_OPENS = List.of(
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED");

    final String name;
    final Process process;
    final Path log;
    final long startedNs;
    private final BlockingQueue<Protocol.Message> messages = new LinkedBlockingQueue<>();
    private final PrintStream stdin;
    private final Consumer<Protocol.Message> listener;
    private volatile boolean pumpDone;
    private volatile long firstOutputNs;

    private ChildJvm(final String name, final Process process, final Path log, final Consumer<Protocol.Message> listener)
    {
        this.name = name;
        this.process = process;
        this.log = log;
        this.listener = listener;
        this.startedNs = System.nanoTime();
        this.stdin = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
        final Thread pump = new Thread(this::pump, "chaos-pump-" + name);
        pump.setDaemon(true);
        pump.start();
    }

    /**
     * @param name      a short name, also of its log file.
     * @param mainClass the class to run.
     * @param jvmArgs   JVM options (system properties, heap).
     * @param args      the main's arguments.
     * @param logDir    where its log goes.
     * @param listener  sees every protocol message as it arrives (on the pump thread), or null.
     * @return the started child.
     */
    static ChildJvm start(
        final String name,
        final String mainClass,
        final List<String> jvmArgs,
        final List<String> args,
        final Path logDir,
        final Consumer<Protocol.Message> listener)
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(AERON_OPENS);
        command.addAll(jvmArgs);
        command.add("-Dpolybridge.root=" + System.getProperty("polybridge.root", "."));
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(args);
        final Path log = logDir.resolve(name + ".log");
        try
        {
            Files.createDirectories(logDir);
            Files.writeString(log, "# " + String.join(" ", command) + "\n");
            final Process process = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
            return new ChildJvm(name, process, log, listener);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not start " + command, ex);
        }
    }

    private void pump()
    {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = new FileOutputStream(log.toFile(), true))
        {
            String line;
            while ((line = lines.readLine()) != null)
            {
                final Protocol.Message message = Protocol.parse(line);
                if (message != null)
                {
                    if (listener != null)
                    {
                        listener.accept(message);
                    }
                    messages.add(message);
                }
                else
                {
                    if (firstOutputNs == 0)
                    {
                        firstOutputNs = System.nanoTime();
                    }
                    out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        catch (final IOException ex)
        {
            // the child is gone
        }
        finally
        {
            pumpDone = true;
        }
    }

    /**
     * @param kind    the message to wait for; others are skipped.
     * @param timeoutMs how long to wait.
     * @return the message, or null if the child exited or the time ran out first.
     */
    Protocol.Message await(final String kind, final long timeoutMs) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true)
        {
            final long leftNs = deadlineNs - System.nanoTime();
            if (leftNs <= 0)
            {
                return null;
            }
            final Protocol.Message message = messages.poll(Math.min(leftNs, TimeUnit.MILLISECONDS.toNanos(100)),
                TimeUnit.NANOSECONDS);
            if (message != null && message.kind().equals(kind))
            {
                return message;
            }
            if (message == null && pumpDone && messages.isEmpty())
            {
                return null;
            }
        }
    }

    /** When it first printed a line that is not protocol (the driver's "running" line), or 0. */
    long firstOutputNs()
    {
        return firstOutputNs;
    }

    void send(final String command)
    {
        stdin.println(command);
    }

    long pid()
    {
        return process.pid();
    }

    boolean isAlive()
    {
        return process.isAlive();
    }

    /** Exited, and everything it printed has been read (so its last protocol lines are in). */
    boolean exitedAndRead()
    {
        return !process.isAlive() && pumpDone;
    }

    /** The last lines of its log, for the report. */
    List<String> tail(final int lines)
    {
        try
        {
            final List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return all.subList(Math.max(0, all.size() - lines), all.size());
        }
        catch (final IOException | UncheckedIOException ex)
        {
            return List.of("(could not read " + log + ": " + ex + ")");
        }
    }
}
