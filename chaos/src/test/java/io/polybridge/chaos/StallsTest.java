package io.polybridge.chaos;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class StallsTest
{
    private static Stalls.Interval interval(final long from, final long to)
    {
        return new Stalls.Interval(from, to);
    }

    @Test
    void aGapWithNoDriverDowntimeCountsWhole()
    {
        assertEquals(700, Stalls.longestCountedNs(interval(100, 800), List.of()));
        assertEquals(700, Stalls.longestCountedNs(interval(100, 800), List.of(interval(900, 2000))));
    }

    @Test
    void aGapSpanningADriverRestartCountsItsLongestPartOutsideIt()
    {
        // 100..300 before the kill, 1300..1400 after the new driver answered.
        assertEquals(200, Stalls.longestCountedNs(interval(100, 1400), List.of(interval(300, 1300))));
        assertEquals(600, Stalls.longestCountedNs(interval(100, 1900), List.of(interval(300, 1300))));
    }

    @Test
    void aGapInsideDriverDowntimeCountsNothing()
    {
        assertEquals(0, Stalls.longestCountedNs(interval(400, 1200), List.of(interval(300, 1300))));
    }

    @Test
    void overlappingAndUnorderedDowntimesAreMerged()
    {
        final List<Stalls.Interval> down = List.of(interval(600, 900), interval(200, 700), interval(1000, 1100));
        // Counted parts: 0..200 (200), 900..1000 (100), 1100..1500 (400).
        assertEquals(400, Stalls.longestCountedNs(interval(0, 1500), down));
        assertEquals(400, Stalls.maxStallNs(List.of(interval(0, 1500), interval(2000, 2300)), down));
    }

    @Test
    void overlapCountsTimeCoveredOnce()
    {
        final List<Stalls.Interval> others = List.of(interval(50, 150), interval(100, 200), interval(900, 2000));
        assertEquals(100 + 100, Stalls.overlapNs(interval(100, 1000), others));
        assertEquals(0, Stalls.overlapNs(interval(300, 800), others));
    }
}
