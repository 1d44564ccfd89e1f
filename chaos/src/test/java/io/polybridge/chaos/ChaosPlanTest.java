package io.polybridge.chaos;

import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChaosPlanTest
{
    private static Chaos.Context smoke(final long seed)
    {
        return Chaos.Context.parse(new String[]{"--mode", "smoke", "--seed", Long.toString(seed)}).conclude();
    }

    @Test
    void aSeedGivesTheSameScheduleAndAnotherSeedAnother()
    {
        assertEquals(Chaos.planFor(smoke(11)), Chaos.planFor(smoke(11)));
        assertNotEquals(Chaos.planFor(smoke(11)), Chaos.planFor(smoke(12)));
    }

    @Test
    void theSmokeRunInjectsEveryKindOfFaultInsideItsDuration()
    {
        for (long seed = 0; seed < 50; seed++)
        {
            final Chaos.Context ctx = smoke(seed);
            final List<Chaos.Planned> plan = Chaos.planFor(ctx);
            final Set<Chaos.Action> kinds = plan.stream().map(Chaos.Planned::action)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(Chaos.Action.class)));
            assertEquals(EnumSet.allOf(Chaos.Action.class), kinds, "seed " + seed);
            for (final Chaos.Planned planned : plan)
            {
                assertTrue(planned.atMs() >= 0 && planned.atMs() < ctx.durationMs, planned + " seed " + seed);
            }
            final long driverKill = plan.stream().filter((p) -> p.action() == Chaos.Action.KILL_DRIVER)
                .mapToLong(Chaos.Planned::atMs).max().orElseThrow();
            assertTrue(driverKill < ctx.durationMs * 0.8, "the driver restart must end inside the run, seed " + seed);
        }
    }
}
