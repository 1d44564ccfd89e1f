package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.IoUtil;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Two "hosts" on one machine: network namespaces {@code pbu<pid>a} and {@code pbu<pid>b} joined by a
 * veth pair (10.N.0.1 in A, 10.N.0.2 in B), each with its own standalone media driver (a child JVM
 * under {@code ip netns exec}, its own aeron directory), so everything between them goes over UDP.
 * <p>
 * /dev/shm is shared between network namespaces: a process attached to the wrong directory would
 * silently use IPC, so every process is given one host's directory explicitly and
 * {@link #vethBytes()} shows that bytes did cross the veth.
 * <p>
 * {@link #close()} (also run by a shutdown hook) kills every process started here, deletes both
 * namespaces (which deletes the veth) and the driver directories. Namespaces, veths and directories
 * of earlier runs whose JVM is gone are removed first. Long because cleanup that must survive any
 * failure is spelled out step by step.
 */
final class NamespaceHosts implements AutoCloseable
{
    private static final String PREFIX = "pbu";
    private static final Pattern STALE = Pattern.compile("^" + PREFIX + "(\\d+)(a|b|va|vb)\\b");
    private static final Path SHM = Path.of("/dev/shm");

    final String nsA;
    final String nsB;
    final String vethA;
    final String vethB;
    final String addressA;
    final String addressB;
    final Path dirA;
    final Path dirB;
    final Path logs;

    private final List<Process> processes = new CopyOnWriteArrayList<>();
    private final Thread shutdownHook = new Thread(this::teardown, "namespace-hosts-cleanup");
    private volatile boolean closed;

    private NamespaceHosts(final String tag, final Path logs)
    {
        final long pid = ProcessHandle.current().pid();
        final int subnet = 100 + (int)(pid % 150);
        nsA = PREFIX + pid + "a";
        nsB = PREFIX + pid + "b";
        vethA = PREFIX + pid + "va";
        vethB = PREFIX + pid + "vb";
        addressA = "10." + subnet + ".0.1";
        addressB = "10." + subnet + ".0.2";
        dirA = SHM.resolve("polybridge-ns-" + pid + "-" + tag + "-a");
        dirB = SHM.resolve("polybridge-ns-" + pid + "-" + tag + "-b");
        this.logs = logs;
    }

    /**
     * Why these hosts cannot be made here (not root, no iproute2, no network namespaces), or null.
     */
    static String unavailableReason()
    {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux"))
        {
            return "network namespaces need Linux";
        }
        try
        {
            final Result uid = run(List.of("id", "-u"));
            if (uid.exit != 0 || !"0".equals(uid.output.trim()))
            {
                return "network namespaces need root (uid " + uid.output.trim() + ")";
            }
            final Result list = run(List.of("ip", "netns", "list"));
            if (list.exit != 0)
            {
                return "'ip netns list' failed: " + list.output.trim();
            }
            if (!Files.isDirectory(SHM))
            {
                return "no /dev/shm";
            }
            return null;
        }
        catch (final IOException ex)
        {
            return "iproute2 is not installed ('ip' cannot run: " + ex.getMessage() + ")";
        }
    }

    /**
     * Create both namespaces, the veth and both drivers.
     *
     * @param tag             part of the driver directories' names (one per set of hosts in this JVM).
     * @param driverProperties extra -D settings for both drivers, e.g. the debug loss endpoint.
     * @param logs            where the drivers' and workers' output go.
     */
    static NamespaceHosts start(final String tag, final List<String> driverProperties, final Path logs)
        throws IOException
    {
        removeStale();
        final NamespaceHosts hosts = new NamespaceHosts(tag, logs);
        Runtime.getRuntime().addShutdownHook(hosts.shutdownHook);
        try
        {
            Files.createDirectories(logs);
            hosts.createNetwork();
            hosts.startDriver(hosts.nsA, hosts.dirA, driverProperties, logs.resolve("driver-a.log"));
            hosts.startDriver(hosts.nsB, hosts.dirB, driverProperties, logs.resolve("driver-b.log"));
            hosts.awaitDriver(hosts.dirA, logs.resolve("driver-a.log"));
            hosts.awaitDriver(hosts.dirB, logs.resolve("driver-b.log"));
            return hosts;
        }
        catch (final IOException | RuntimeException | Error ex)
        {
            hosts.close();
            throw ex;
        }
    }

    private void createNetwork() throws IOException
    {
        check(List.of("ip", "netns", "add", nsA));
        check(List.of("ip", "netns", "add", nsB));
        check(List.of("ip", "link", "add", vethA, "type", "veth", "peer", "name", vethB));
        check(List.of("ip", "link", "set", vethA, "netns", nsA));
        check(List.of("ip", "link", "set", vethB, "netns", nsB));
        check(List.of("ip", "-n", nsA, "addr", "add", addressA + "/24", "dev", vethA));
        check(List.of("ip", "-n", nsB, "addr", "add", addressB + "/24", "dev", vethB));
        for (final String[] nsAndLink : new String[][]{ { nsA, vethA }, { nsB, vethB }, { nsA, "lo" }, { nsB, "lo" } })
        {
            check(List.of("ip", "-n", nsAndLink[0], "link", "set", nsAndLink[1], "up"));
        }
    }

    private void startDriver(final String ns, final Path dir, final List<String> properties, final Path log)
        throws IOException
    {
        final List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", ns,
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "-Xmx256m", "-XX:+UseSerialGC",
            "-Daeron.dir=" + dir));
        for (final String property : properties)
        {
            command.add("-D" + property);
        }
        command.addAll(List.of("-cp", absoluteClassPath(), PolybridgeMediaDriver.class.getName()));
        start(command, log);
    }

    private void awaitDriver(final Path dir, final Path log)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!(Files.exists(dir.resolve("cnc.dat")) && PolybridgeMediaDriver.isDriverActive(dir.toString())))
        {
            if (System.nanoTime() - deadlineNs > 0 || processes.stream().anyMatch((p) -> !p.isAlive()))
            {
                throw new IllegalStateException("driver in " + dir + " did not start; its output:\n" + read(log));
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    /**
     * Start a program in host B (e.g. a worker) with its output appended to a file.
     *
     * @param command the program and its arguments.
     * @param log     its output.
     * @return the process; {@code ip netns exec} execs, so its pid is the program's.
     */
    Process startInB(final List<String> command, final Path log) throws IOException
    {
        final List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", nsB));
        full.addAll(command);
        return start(full, log);
    }

    private Process start(final List<String> command, final Path log) throws IOException
    {
        final Process process = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
        processes.add(process);
        return process;
    }

    /**
     * Cut or restore the network between the hosts: host A's end of the veth down or up. The
     * addresses stay; the drivers keep running and see only silence (and send errors).
     *
     * @param connected true to bring the link up.
     */
    void connected(final boolean connected) throws IOException
    {
        check(List.of("ip", "-n", nsA, "link", "set", vethA, connected ? "up" : "down"));
    }

    /**
     * @return bytes {sent, received} by host A's end of the veth so far.
     */
    long[] vethBytes() throws IOException
    {
        final Result stats = check(List.of("ip", "-s", "-n", nsA, "link", "show", vethA));
        // "RX:  bytes packets ..." then a line of numbers, the same for TX.
        final Matcher rx = Pattern.compile("RX:[^\\n]*\\n\\s*(\\d+)").matcher(stats.output);
        final Matcher tx = Pattern.compile("TX:[^\\n]*\\n\\s*(\\d+)").matcher(stats.output);
        if (!rx.find() || !tx.find())
        {
            throw new IllegalStateException("unexpected 'ip -s link' output:\n" + stats.output);
        }
        return new long[]{ Long.parseLong(tx.group(1)), Long.parseLong(rx.group(1)) };
    }

    /**
     * @param systemCounterId one of {@code AeronCounters.SYSTEM_COUNTER_ID_*}, e.g. NAKs sent.
     * @return that driver counter, summed over both drivers.
     */
    long driverCounter(final int systemCounterId)
    {
        long sum = 0;
        for (final Path dir : List.of(dirA, dirB))
        {
            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir.toString())))
            {
                final CountersReader counters = aeron.countersReader();
                final long[] value = new long[1];
                counters.forEach((counterId, typeId, key, label) ->
                {
                    if (typeId == AeronCounters.DRIVER_SYSTEM_COUNTER_TYPE_ID && key.getInt(0) == systemCounterId)
                    {
                        value[0] += counters.getCounterValue(counterId);
                    }
                });
                sum += value[0];
            }
        }
        return sum;
    }

    /**
     * @return the network namespaces that exist now.
     */
    static List<String> namespaces() throws IOException
    {
        final List<String> names = new ArrayList<>();
        for (final String line : run(List.of("ip", "netns", "list")).output.split("\n"))
        {
            if (!line.isBlank())
            {
                names.add(line.trim().split("\\s+")[0]);
            }
        }
        return names;
    }

    static String read(final Path file)
    {
        try
        {
            return Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return "(unreadable: " + ex + ")";
        }
    }

    public void close()
    {
        teardown();
        try
        {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        }
        catch (final IllegalStateException ignored)
        {
            // the JVM is shutting down: the hook runs (or ran) teardown anyway
        }
    }

    /** Idempotent: kill what was started, delete the namespaces and the directories. */
    private synchronized void teardown()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (final Process process : processes)
        {
            process.destroy();
        }
        for (final Process process : processes)
        {
            try
            {
                if (!process.waitFor(10, TimeUnit.SECONDS))
                {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            }
            catch (final InterruptedException ex)
            {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        for (final String ns : List.of(nsA, nsB))
        {
            quietly(List.of("ip", "netns", "del", ns));
        }
        quietly(List.of("ip", "link", "del", vethA)); // only if the veth never made it into a namespace
        IoUtil.delete(dirA.toFile(), true);
        IoUtil.delete(dirB.toFile(), true);
    }

    /** What a run of this class that died (SIGKILL, a killed surefire fork) left behind. */
    private static void removeStale() throws IOException
    {
        for (final String ns : namespaces())
        {
            final Matcher m = STALE.matcher(ns);
            if (m.find() && isGone(m.group(1)))
            {
                quietly(List.of("ip", "netns", "del", ns));
            }
        }
        for (final String line : run(List.of("ip", "-o", "link", "show")).output.split("\n"))
        {
            // "12: pbu123va@pbu123vb: <...>"
            final String[] fields = line.split(":\\s+", 3);
            if (fields.length > 1)
            {
                final String name = fields[1].split("@")[0];
                final Matcher m = STALE.matcher(name);
                if (m.find() && isGone(m.group(1)))
                {
                    quietly(List.of("ip", "link", "del", name));
                }
            }
        }
        try (var entries = Files.list(SHM))
        {
            for (final Path dir : entries.toList())
            {
                final Matcher m = Pattern.compile("^polybridge-ns-(\\d+)-").matcher(dir.getFileName().toString());
                if (m.find() && isGone(m.group(1)))
                {
                    // A SIGKILLed test JVM runs no hook: its drivers and workers (which name the
                    // directory on their command lines) outlive it, in namespaces no longer listed.
                    killProcessesMentioning(dir.toString());
                    IoUtil.delete(dir.toFile(), true);
                }
            }
        }
    }

    private static void killProcessesMentioning(final String text)
    {
        ProcessHandle.allProcesses()
            .filter((p) -> p.pid() != ProcessHandle.current().pid())
            .filter((p) -> p.info().commandLine().map((c) -> c.contains(text)).orElse(false))
            .forEach(ProcessHandle::destroyForcibly);
    }

    private static boolean isGone(final String pid)
    {
        return ProcessHandle.of(Long.parseLong(pid)).map((p) -> !p.isAlive()).orElse(true);
    }

    /** Surefire's class path may be relative (a booter jar in target/). */
    private static String absoluteClassPath()
    {
        final List<String> entries = new ArrayList<>();
        for (final String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
        {
            entries.add(Path.of(entry).toAbsolutePath().toString());
        }
        return String.join(java.io.File.pathSeparator, entries);
    }

    private record Result(int exit, String output)
    {
    }

    private static Result check(final List<String> command) throws IOException
    {
        final Result result = run(command);
        if (result.exit != 0)
        {
            throw new IOException(String.join(" ", command) + " failed (" + result.exit + "): " + result.output.trim());
        }
        return result;
    }

    private static void quietly(final List<String> command)
    {
        try
        {
            run(command);
        }
        catch (final IOException ignored)
        {
            // cleanup of something that may not exist
        }
    }

    private static Result run(final List<String> command) throws IOException
    {
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try
        {
            final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(30, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                return new Result(-1, output + " (timed out)");
            }
            return new Result(process.exitValue(), output);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted running " + command, ex);
        }
    }
}
