package io.polybridge.client;

import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * polybridge's idle shape, the same in Java, Go and Rust: after a duty cycle with no work spin
 * ({@code maxSpins}, a spin-wait hint each), then yield ({@code maxYields}), then park from
 * {@code minParkNs} doubling to {@code maxParkNs}; once nothing has been done for {@code sleepAfterNs}
 * (0: never) sleep, parking {@code sleepNs} at a time until work comes or the thread is unparked. Any
 * work resets it. Spinning and yielding keep a busy thread's latency low; the sleep phase makes an idle
 * one cost nothing (10 wake-ups/s rather than 1,000 at 1 ms parks).
 * <p>
 * The client agent uses it by default ({@link PolybridgeClient.Context#idleStrategy}): it sleeps only
 * when no call is pending or handed off, and a caller handing off a call unparks it, so a call after a
 * long idle is not delayed by the sleep. Elsewhere it sleeps unconditionally; wake the thread with
 * {@link LockSupport#unpark(Thread)}.
 */
public final class BackoffSleepIdleStrategy implements IdleStrategy
{
    /** Spins after the last work: a few microseconds of a core. */
    public static final int DEFAULT_MAX_SPINS = 100;
    /** Yields after the spins. */
    public static final int DEFAULT_MAX_YIELDS = 50;
    /** The first park. */
    public static final long DEFAULT_MIN_PARK_NS = TimeUnit.MICROSECONDS.toNanos(1);
    /**
     * Parks double up to this: 100 µs. Nothing wakes the client agent when a response arrives, so this
     * bounds how late a response to a caller who does not wait on it (callbacks) is found while calls are
     * pending; with nothing pending the agent sleeps instead. (The workers park up to 1 ms: their pool
     * wakes them when a handler finishes, a client's doorbell after a silence.)
     */
    public static final long DEFAULT_MAX_PARK_NS = TimeUnit.MICROSECONDS.toNanos(100);
    /** Idle this long, then sleep. */
    public static final long DEFAULT_SLEEP_AFTER_NS = TimeUnit.MILLISECONDS.toNanos(50);
    /** One sleep. */
    public static final long DEFAULT_SLEEP_NS = TimeUnit.MILLISECONDS.toNanos(100);

    /**
     * The owner's say on sleeping (the client agent): whether nothing is pending, and a flag callers
     * read to decide whether to unpark the thread. See {@link ClientAgent#prepareSleep()}.
     */
    interface Gate
    {
        /** @return whether the thread may sleep now; if true, {@link #sleepEnded()} follows the sleep. */
        boolean prepareSleep();

        void sleepEnded();
    }

    private final int maxSpins;
    private final int maxYields;
    private final long minParkNs;
    private final long maxParkNs;
    private final long sleepAfterNs;
    private final long sleepNs;
    private Gate gate;
    private int spins;
    private int yields;
    private long parkNs;
    private long idleSinceNs;
    private long sleeps;

    /** The defaults: spin 100, yield 50, park 1 µs doubling to 100 µs, after 50 ms idle sleep 100 ms at a time. */
    public BackoffSleepIdleStrategy()
    {
        this(DEFAULT_MAX_SPINS, DEFAULT_MAX_YIELDS, DEFAULT_MIN_PARK_NS, DEFAULT_MAX_PARK_NS, DEFAULT_SLEEP_AFTER_NS,
            DEFAULT_SLEEP_NS);
    }

    /**
     * @param maxSpins     spins after the last work, at least 0.
     * @param maxYields    yields after the spins, at least 0.
     * @param minParkNs    the first park, at least 1.
     * @param maxParkNs    parks double up to this, at least {@code minParkNs}.
     * @param sleepAfterNs sleep once idle this long; 0: never sleep.
     * @param sleepNs      one sleep, at least 1 (a wake-up is an unpark or work).
     */
    public BackoffSleepIdleStrategy(
        final int maxSpins,
        final int maxYields,
        final long minParkNs,
        final long maxParkNs,
        final long sleepAfterNs,
        final long sleepNs)
    {
        if (maxSpins < 0 || maxYields < 0 || minParkNs < 1 || maxParkNs < minParkNs || sleepAfterNs < 0 || sleepNs < 1)
        {
            throw new IllegalArgumentException("need maxSpins >= 0, maxYields >= 0, 1 <= minParkNs <= maxParkNs, " +
                "sleepAfterNs >= 0 and sleepNs >= 1; was " + maxSpins + ", " + maxYields + ", " + minParkNs + ", " +
                maxParkNs + ", " + sleepAfterNs + ", " + sleepNs);
        }
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
        this.minParkNs = minParkNs;
        this.maxParkNs = maxParkNs;
        this.sleepAfterNs = sleepAfterNs;
        this.sleepNs = sleepNs;
    }

    /** The client agent: it decides whether the thread may sleep. Set once, before the thread runs. */
    void gate(final Gate gate)
    {
        this.gate = gate;
    }

    /**
     * @return how often the sleep phase was entered (for tests and diagnostics; read on the idling thread).
     */
    public long sleeps()
    {
        return sleeps;
    }

    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
        }
        else
        {
            idle();
        }
    }

    public void idle()
    {
        if (spins < maxSpins)
        {
            spins++;
            Thread.onSpinWait();
            return;
        }
        if (yields < maxYields)
        {
            yields++;
            Thread.yield();
            return;
        }
        final long nowNs = System.nanoTime();
        if (parkNs == 0)
        {
            parkNs = minParkNs;
            idleSinceNs = nowNs;
        }
        else if (sleepAfterNs > 0 && nowNs - idleSinceNs >= sleepAfterNs)
        {
            final Gate gate = this.gate;
            if (gate == null || gate.prepareSleep())
            {
                sleeps++;
                LockSupport.parkNanos(this, sleepNs);
                if (gate != null)
                {
                    gate.sleepEnded();
                }
                return;
            }
        }
        LockSupport.parkNanos(parkNs);
        parkNs = Math.min(parkNs << 1, maxParkNs);
    }

    public void reset()
    {
        spins = 0;
        yields = 0;
        parkNs = 0;
    }

    public String alias()
    {
        return "backoff-sleep";
    }

    public String toString()
    {
        return "BackoffSleepIdleStrategy{maxSpins=" + maxSpins + ", maxYields=" + maxYields + ", minParkNs=" + minParkNs +
            ", maxParkNs=" + maxParkNs + ", sleepAfterNs=" + sleepAfterNs + ", sleepNs=" + sleepNs + "}";
    }
}
