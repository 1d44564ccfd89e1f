package io.polybridge.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One JVM shutdown hook for every open {@link Bridge} launched with
 * {@link Bridge.Context#shutdownHook(boolean)} on (the default): on SIGTERM, SIGINT or
 * {@code System.exit} it closes them, so their workers are stopped and their embedded drivers'
 * shared memory removed. (SIGKILL runs no hook: workers notice their parent is gone through
 * {@code --parent-pid}, and the next launch reclaims the driver's directory.)
 */
final class ShutdownHook
{
    private static final Set<Bridge> OPEN = ConcurrentHashMap.newKeySet();
    private static boolean installed; // guarded by the class

    private ShutdownHook()
    {
    }

    static void register(final Bridge bridge)
    {
        synchronized (ShutdownHook.class)
        {
            if (!installed)
            {
                final Thread hook = new Thread(ShutdownHook::closeAll, "polybridge-shutdown");
                Runtime.getRuntime().addShutdownHook(hook);
                installed = true;
            }
        }
        OPEN.add(bridge);
    }

    static void unregister(final Bridge bridge)
    {
        OPEN.remove(bridge);
    }

    private static void closeAll()
    {
        final List<Thread> closers = new ArrayList<>();
        for (final Bridge bridge : OPEN)
        {
            final Thread closer = new Thread(bridge::close, "polybridge-shutdown-close");
            closer.start(); // bridges close in parallel: the JVM waits for all hooks anyway
            closers.add(closer);
        }
        for (final Thread closer : closers)
        {
            try
            {
                closer.join();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
