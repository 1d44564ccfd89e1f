package io.polybridge.client;

import io.aeron.exceptions.ClientTimeoutException;
import io.aeron.exceptions.ConductorServiceTimeoutException;
import io.aeron.exceptions.DriverTimeoutException;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Whether the media driver is lost. Any thread may report a suspicion (the Aeron client's error
 * handler, a caller whose request stream timed out); the client agent acts on the first and publishes
 * the verdict, which callers read before they publish.
 */
final class DriverWatch
{
    private final String aeronDirectoryName;
    private final AtomicReference<String> report = new AtomicReference<>();
    private volatile String lostReason;
    private ProcessHandle driverProcess;

    DriverWatch(final String aeronDirectoryName)
    {
        this.aeronDirectoryName = aeronDirectoryName;
    }

    /**
     * Before the agent starts: the driver's process, to notice its exit at once rather than after the
     * driver timeout. Its {@link ProcessHandle#isAlive()} compares the start time too, so a reused pid
     * is not taken for the driver.
     */
    void watchProcess(final ProcessHandle driverProcess)
    {
        this.driverProcess = driverProcess;
    }

    /** Agent thread: why the driver is gone when its process has exited, else null. */
    String checkProcess()
    {
        final ProcessHandle process = driverProcess;
        return process != null && !process.isAlive() ? "its process " + process.pid() + " exited" : null;
    }

    /** From the Aeron client's error handler: these errors mean the Aeron client has closed itself. */
    void onAeronError(final Throwable error)
    {
        if (error instanceof DriverTimeoutException ||
            error instanceof ClientTimeoutException ||
            error instanceof ConductorServiceTimeoutException)
        {
            report(error.getClass().getSimpleName() + ": " + error.getMessage());
        }
    }

    void report(final String reason)
    {
        report.compareAndSet(null, reason);
    }

    String report()
    {
        return report.get();
    }

    /** Agent thread only, once. */
    String lost(final String reason)
    {
        final String message = "media driver in " + aeronDirectoryName + " is gone: " + reason;
        lostReason = message;
        return message;
    }

    String lostReason()
    {
        return lostReason;
    }
}
