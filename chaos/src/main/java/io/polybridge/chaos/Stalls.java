package io.polybridge.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * max_stall_ms: the longest time callers saw no completion (successful or failed) while the media
 * driver was up and the host JVM was being scheduled. The host reports every gap between consecutive completions longer than a
 * threshold (and the gap from the callers' start to the first completion, and from the last
 * completion to their stop); the harness knows when it had the driver deliberately down, and the
 * host reports when its own threads were not scheduled. A gap counts by its longest part outside
 * all of those, so a gap that spans a driver restart counts only the time before the kill or after
 * the new driver answered.
 */
final class Stalls
{
    /** A time interval in {@link System#nanoTime()} (CLOCK_MONOTONIC, the same in every process). */
    record Interval(long fromNs, long toNs)
    {
        long lengthNs()
        {
            return Math.max(0, toNs - fromNs);
        }
    }

    private Stalls()
    {
    }

    /**
     * @param gap      a time without completions.
     * @param excluded times that do not count (the driver was down), in any order, may overlap.
     * @return the longest part of the gap outside every excluded interval.
     */
    static long longestCountedNs(final Interval gap, final List<Interval> excluded)
    {
        final List<Interval> sorted = new ArrayList<>(excluded);
        sorted.sort(Comparator.comparingLong(Interval::fromNs));
        long longest = 0;
        long cursor = gap.fromNs();
        for (final Interval down : sorted)
        {
            if (down.toNs() <= cursor || down.fromNs() >= gap.toNs())
            {
                continue;
            }
            longest = Math.max(longest, Math.max(0, down.fromNs() - cursor));
            cursor = Math.max(cursor, down.toNs());
            if (cursor >= gap.toNs())
            {
                break;
            }
        }
        return Math.max(longest, Math.max(0, gap.toNs() - cursor));
    }

    /**
     * @param gap       a time interval.
     * @param intervals others, in any order, may overlap.
     * @return how much of the gap they cover together.
     */
    static long overlapNs(final Interval gap, final List<Interval> intervals)
    {
        final List<Interval> sorted = new ArrayList<>(intervals);
        sorted.sort(Comparator.comparingLong(Interval::fromNs));
        long covered = 0;
        long cursor = gap.fromNs();
        for (final Interval other : sorted)
        {
            final long from = Math.max(cursor, other.fromNs());
            final long to = Math.min(gap.toNs(), other.toNs());
            if (to > from)
            {
                covered += to - from;
                cursor = to;
            }
        }
        return covered;
    }

    /**
     * @param gaps     the host's gaps.
     * @param excluded driver-down intervals.
     * @return the longest counted part of any gap.
     */
    static long maxStallNs(final List<Interval> gaps, final List<Interval> excluded)
    {
        long max = 0;
        for (final Interval gap : gaps)
        {
            max = Math.max(max, longestCountedNs(gap, excluded));
        }
        return max;
    }
}
