package io.polybridge.chaos;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Every process the harness started, directly or not: the roots it starts (driver, host and client
 * JVMs), their descendants seen every {@link #poll()} (workers, wrappers), and any process whose
 * command line names the run's driver directory (a worker whose parent died between two polls is
 * reparented, but still names the directory). A process is identified by pid and start time, so a
 * reused pid is never mistaken for one of ours.
 */
final class ProcessTracker
{
    /** One process of the run. */
    record Tracked(ProcessHandle handle, String description, long firstSeenNs)
    {
        String key()
        {
            return key(handle);
        }

        static String key(final ProcessHandle handle)
        {
            return handle.pid() + "@" + handle.info().startInstant().map(Instant::toString).orElse("?");
        }
    }

    private final String marker;
    private final Map<String, Tracked> tracked = new ConcurrentHashMap<>();
    private final List<ProcessHandle> roots = new CopyOnWriteArrayList<>();
    private int polls;

    /**
     * @param marker text in the command line of every process of the run (the driver directory).
     */
    ProcessTracker(final String marker)
    {
        this.marker = marker;
    }

    void root(final ProcessHandle root, final String description)
    {
        add(root, description);
        roots.add(root);
    }

    /**
     * Record the harness's descendants (every root is a child of the harness: one scan of the
     * process table covers them all), and every fourth time every process naming the marker.
     */
    synchronized void poll()
    {
        ProcessHandle.current().descendants().forEach((descendant) -> add(descendant, null));
        if (polls++ % 4 == 0)
        {
            ProcessHandle.allProcesses()
                .filter((process) -> process.pid() != ProcessHandle.current().pid())
                .filter((process) -> process.info().commandLine().map((line) -> line.contains(marker)).orElse(false))
                .forEach((process) -> add(process, null));
        }
    }

    private void add(final ProcessHandle process, final String description)
    {
        final String key = Tracked.key(process);
        final Tracked known = tracked.get(key);
        if (known != null && known.description().startsWith("jspawnhelper") && process.isAlive())
        {
            // First seen between fork and exec: describe what it became.
            tracked.put(key, new Tracked(process, describe(process), known.firstSeenNs()));
        }
        if (!tracked.containsKey(key) && process.isAlive())
        {
            tracked.putIfAbsent(key, new Tracked(process, description != null ? description : describe(process),
                System.nanoTime()));
        }
    }

    /**
     * @param process a process.
     * @return "go worker go-1 pid 123" style text.
     */
    static String describe(final ProcessHandle process)
    {
        final ProcessHandle.Info info = process.info();
        final String command = info.command().orElse("?");
        final String[] args = info.arguments().orElse(new String[0]);
        String workerId = null;
        for (int i = 0; i + 1 < args.length; i++)
        {
            if (args[i].equals("--worker-id") || args[i].equals("-worker-id"))
            {
                workerId = args[i + 1];
            }
        }
        final String kind = command.endsWith("polybridge-worker-go") ? "go worker" :
            command.endsWith("polybridge-worker-rust") ? "rust worker" : command.substring(command.lastIndexOf('/') + 1);
        return kind + (workerId != null ? " " + workerId : "") + " pid " + process.pid() +
            process.parent().map((parent) -> " (parent " + parent.pid() + ")").orElse("");
    }

    /**
     * @param process a process.
     * @return whether it runs a polybridge worker binary.
     */
    static boolean isWorker(final ProcessHandle process)
    {
        final String command = process.info().command().orElse("");
        return command.endsWith("polybridge-worker-go") || command.endsWith("polybridge-worker-rust");
    }

    /**
     * @param root a process.
     * @return its live worker descendants.
     */
    static List<ProcessHandle> workersOf(final ProcessHandle root)
    {
        return root.descendants().filter(ProcessHandle::isAlive).filter(ProcessTracker::isWorker).toList();
    }

    /** @return tracked processes still running. */
    List<Tracked> alive()
    {
        final List<Tracked> alive = new ArrayList<>();
        for (final Tracked process : tracked.values())
        {
            if (process.handle().isAlive())
            {
                alive.add(process);
            }
        }
        return alive;
    }

    List<Tracked> all()
    {
        return List.copyOf(tracked.values());
    }

    int trackedCount()
    {
        return tracked.size();
    }

    /**
     * @param timeoutMs how long to wait.
     * @return whether every tracked process has exited in that time.
     */
    boolean awaitAllGone(final long timeoutMs) throws InterruptedException
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() - deadlineNs < 0)
        {
            poll();
            if (alive().isEmpty())
            {
                return true;
            }
            Thread.sleep(50);
        }
        return alive().isEmpty();
    }

    /** Continue and kill (SIGKILL) everything still running: the cleanup of last resort. */
    void killAll()
    {
        for (int round = 0; round < 3; round++)
        {
            poll();
            for (final Tracked process : alive())
            {
                signal(process.handle(), "CONT");
                process.handle().descendants().forEach(ProcessHandle::destroyForcibly);
                process.handle().destroyForcibly();
            }
        }
    }

    /**
     * Send a signal with kill(1): Java has no API for SIGSTOP and SIGCONT.
     *
     * @param process the target; nothing is sent if it has exited (its pid may be reused).
     * @param signal  the signal's name without SIG, e.g. "STOP".
     * @return whether it was sent.
     */
    static boolean signal(final ProcessHandle process, final String signal)
    {
        if (!process.isAlive())
        {
            return false;
        }
        try
        {
            final Process kill = new ProcessBuilder("kill", "-s", signal, Long.toString(process.pid()))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
            return kill.waitFor(5, TimeUnit.SECONDS) && kill.exitValue() == 0;
        }
        catch (final IOException ex)
        {
            return false;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** @return every pid tracked, alive or not (to attribute shared memory to the run). */
    List<Long> pids()
    {
        return tracked.values().stream().map((process) -> process.handle().pid()).distinct().toList();
    }
}
