package io.polybridge.client;

import java.time.Duration;
import java.util.ArrayDeque;

/**
 * When a spawned worker that exited is started again: exponential back-off within a restart budget,
 * and a circuit breaker beyond it. Each worker has its own; supervisor thread only.
 * <ul>
 *     <li>Restart n within the window (n = 0, 1, ...) waits {@code first * 2^n}, at most {@code max}.</li>
 *     <li>Once {@code budget} restarts happened within {@code window}, the circuit opens: the worker
 *     stays down for {@code coolDown}, then is started again with a fresh budget.</li>
 * </ul>
 */
final class RestartPolicy
{
    /**
     * What to do after an exit.
     *
     * @param delayNs     how long to wait before the next start.
     * @param circuitOpen whether the budget is spent and the delay is the cool-down.
     * @param attempt     the restart's number within the window (1-based), or 0 when the circuit opened.
     */
    record Decision(long delayNs, boolean circuitOpen, int attempt)
    {
    }

    private final long firstNs;
    private final long maxNs;
    private final int budget;
    private final long windowNs;
    private final long coolDownNs;
    private final ArrayDeque<Long> restartTimesNs = new ArrayDeque<>();

    RestartPolicy(final Duration first, final Duration max, final int budget, final Duration window, final Duration coolDown)
    {
        this.firstNs = first.toNanos();
        this.maxNs = max.toNanos();
        this.budget = budget;
        this.windowNs = window.toNanos();
        this.coolDownNs = coolDown.toNanos();
    }

    /**
     * @param nowNs when the worker exited ({@link System#nanoTime()}).
     * @return when to start it again.
     */
    Decision onExit(final long nowNs)
    {
        while (!restartTimesNs.isEmpty() && nowNs - restartTimesNs.peekFirst() > windowNs)
        {
            restartTimesNs.pollFirst();
        }
        if (restartTimesNs.size() >= budget)
        {
            restartTimesNs.clear(); // the start after the cool-down begins a fresh budget
            return new Decision(coolDownNs, true, 0);
        }
        final int n = restartTimesNs.size();
        final long delayNs = Math.min(maxNs, n >= 62 || firstNs > (maxNs >> n) ? maxNs : firstNs << n);
        restartTimesNs.addLast(nowNs);
        return new Decision(delayNs, false, n + 1);
    }

    int budget()
    {
        return budget;
    }

    Duration window()
    {
        return Duration.ofNanos(windowNs);
    }

    Duration coolDown()
    {
        return Duration.ofNanos(coolDownNs);
    }
}
