package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.CncFileDescriptor;
import io.aeron.Subscription;
import io.aeron.exceptions.AeronException;
import io.aeron.exceptions.DriverTimeoutException;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.ErrorHandler;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Connecting to the media driver without Aeron's long waits on a dead one: the Aeron client (always
 * with an error handler that never exits the JVM) and the client's subscriptions, each failing as soon
 * as the directory's driver is seen dead, with a message that says what to do.
 */
final class AeronConnector
{
    private static final long MAX_KEEPALIVE_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long DRIVER_CHECK_WHILE_CONNECTING_NS = TimeUnit.MILLISECONDS.toNanos(50);

    private AeronConnector()
    {
    }

    static Aeron connect(final PolybridgeClient.Context ctx, final DriverWatch driverWatch)
    {
        final long driverTimeoutNs = ctx.driverTimeout().toNanos();
        final ErrorHandler errorHandler = ctx.errorHandler();
        final String dir = ctx.aeronDirectoryName();
        // Aeron waits the whole driver timeout on a dead driver's cnc.dat before it gives up; with a 10 s
        // timeout, say at once what the heartbeat and the driver's process already tell.
        if (Files.exists(Path.of(dir, CncFileDescriptor.CNC_FILE)) && !PolybridgeMediaDriver.isDriverActive(dir))
        {
            throw unavailable("no media driver is running in " + dir +
                " (start one, or check the directory): its cnc.dat was left by a driver that is gone", null);
        }
        try
        {
            return Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(ctx.aeronDirectoryName())
                .driverTimeoutMs(TimeUnit.NANOSECONDS.toMillis(driverTimeoutNs))
                // Aeron checks the driver's heartbeat once per keepalive: a tenth of the timeout keeps
                // the detection close to the timeout itself (Aeron's default is every 500 ms).
                .keepAliveIntervalNs(Math.max(TimeUnit.MILLISECONDS.toNanos(1),
                    Math.min(MAX_KEEPALIVE_INTERVAL_NS, driverTimeoutNs / 10)))
                .errorHandler((error) ->
                {
                    driverWatch.onAeronError(error);
                    errorHandler.onError(error);
                }));
        }
        catch (final AeronException ex)
        {
            throw unavailable("no media driver is running in " + ctx.aeronDirectoryName() +
                " (start one, or check the directory): " + ex.getMessage(), ex);
        }
    }

    /**
     * Aeron's addSubscription waits the whole driver timeout (10 s) for a driver that died just before
     * (its heartbeat still fresh at connect: a bridge reconnecting while the driver restarts); wait for
     * the registration here instead, and give up as soon as the directory's driver is seen dead.
     */
    static Subscription addSubscription(
        final PolybridgeClient.Context ctx, final Aeron aeron, final String channel, final int streamId)
    {
        final long registrationId = aeron.asyncAddSubscription(channel, streamId);
        final long startNs = System.nanoTime();
        final long deadlineNs = startNs + ctx.driverTimeout().toNanos();
        long nextDriverCheckNs = startNs + DRIVER_CHECK_WHILE_CONNECTING_NS;
        while (true)
        {
            final Subscription subscription = aeron.getSubscription(registrationId);
            if (subscription != null)
            {
                return subscription;
            }
            final long nowNs = System.nanoTime();
            if (nowNs - nextDriverCheckNs > 0)
            {
                nextDriverCheckNs = nowNs + DRIVER_CHECK_WHILE_CONNECTING_NS;
                if (!PolybridgeMediaDriver.isDriverActive(ctx.aeronDirectoryName()))
                {
                    throw new DriverTimeoutException("the media driver stopped heartbeating and its process is gone");
                }
            }
            if (nowNs - deadlineNs > 0)
            {
                throw new DriverTimeoutException("no response from the media driver within " + ctx.driverTimeout() +
                    " to add subscription " + channel + " stream " + streamId);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    static PolybridgeException unavailable(final String message, final Throwable cause)
    {
        final PolybridgeException ex = new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, message);
        ex.initCause(cause);
        return ex;
    }
}
