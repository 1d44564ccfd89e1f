package io.polybridge.client;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link RestartPolicy}: back-off doubling to a cap, a budget per window, then a cool-down and a fresh budget. */
class RestartPolicyTest
{
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @Test
    void backOffDoublesUpToItsCapWithinTheBudgetThenTheCircuitOpensForTheCoolDownAndABudgetStartsAfresh()
    {
        final RestartPolicy policy = new RestartPolicy(
            Duration.ofMillis(100), Duration.ofMillis(300), 3, Duration.ofMinutes(1), Duration.ofSeconds(30));
        long now = 0;
        assertEquals(new RestartPolicy.Decision(100 * MS, false, 1), policy.onExit(now));
        assertEquals(new RestartPolicy.Decision(200 * MS, false, 2), policy.onExit(now += 1_000 * MS));
        assertEquals(new RestartPolicy.Decision(300 * MS, false, 3), policy.onExit(now += 1_000 * MS));
        final RestartPolicy.Decision open = policy.onExit(now += 1_000 * MS);
        assertTrue(open.circuitOpen());
        assertEquals(30_000 * MS, open.delayNs());
        // After the cool-down the worker gets a fresh budget.
        assertEquals(new RestartPolicy.Decision(100 * MS, false, 1), policy.onExit(now + 31_000 * MS));
    }

    @Test
    void restartsOlderThanTheWindowNoLongerCount()
    {
        final RestartPolicy policy = new RestartPolicy(
            Duration.ofMillis(100), Duration.ofSeconds(5), 2, Duration.ofSeconds(10), Duration.ofSeconds(30));
        policy.onExit(0);
        policy.onExit(1_000 * MS);
        final RestartPolicy.Decision later = policy.onExit(20_000 * MS);
        assertFalse(later.circuitOpen());
        assertEquals(100 * MS, later.delayNs());
    }

    @Test
    void aZeroBudgetMeansEveryExitWaitsForTheCoolDownAndHugeBackOffsDoNotOverflow()
    {
        assertTrue(new RestartPolicy(Duration.ofMillis(100), Duration.ofSeconds(5), 0, Duration.ofMinutes(1),
            Duration.ofSeconds(7)).onExit(0).circuitOpen());
        final RestartPolicy policy = new RestartPolicy(
            Duration.ofDays(1), Duration.ofDays(2), 100, Duration.ofDays(365), Duration.ofSeconds(1));
        long last = 0;
        for (int i = 0; i < 100; i++)
        {
            last = policy.onExit(i).delayNs();
            assertTrue(last > 0 && last <= Duration.ofDays(2).toNanos(), "delay " + last);
        }
        assertEquals(Duration.ofDays(2).toNanos(), last);
    }
}
