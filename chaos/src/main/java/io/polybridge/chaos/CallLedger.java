package io.polybridge.chaos;

import io.polybridge.client.PolybridgeException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every call's outcome, recorded exactly once. A call is a {@link Call} object; each completion of
 * its future increments the call's own counter, so a second completion is seen as a duplicate
 * rather than hidden by {@code CompletableFuture}'s first-wins rule (the harness attaches one
 * callback per future: two callbacks for one call would mean the same future was handed out or
 * completed twice). A call never completed is still in {@link #outstanding()} at the end: lost.
 * <p>
 * Completions also feed the stall measure: the ledger keeps every gap between consecutive
 * completions longer than {@link #GAP_THRESHOLD_NS}, by {@link System#nanoTime()}.
 */
final class CallLedger
{
    /** Gaps between completions longer than this are kept for the stall measure. */
    static final long GAP_THRESHOLD_NS = TimeUnit.MILLISECONDS.toNanos(50);
    /** A completion this long after the call's deadline is late (the deadline should have ended it). */
    static final long LATE_NS = TimeUnit.SECONDS.toNanos(1);
    private static final int MAX_GAPS = 100_000;
    private static final int SAMPLES_PER_CODE = 3;
    private static final Pattern PID = Pattern.compile("\\(pid (\\d+)");

    /** One call: what was sent, its deadline, how often it completed. */
    static final class Call
    {
        final long id;
        final int offset;
        final int length;
        final long startNs;
        final long deadlineNs;
        final AtomicInteger completions = new AtomicInteger();

        Call(final long id, final int offset, final int length, final long startNs, final long deadlineNs)
        {
            this.id = id;
            this.offset = offset;
            this.length = length;
            this.startNs = startNs;
            this.deadlineNs = deadlineNs;
        }
    }

    private final byte[] source;
    private final AtomicLong nextId = new AtomicLong();
    private final LongAdder calls = new LongAdder();
    private final LongAdder ok = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder duplicated = new LongAdder();
    private final LongAdder wrongPayload = new LongAdder();
    private final LongAdder late = new LongAdder();
    private final AtomicLong maxOverdueNs = new AtomicLong();
    private final AtomicLong maxLatencyNs = new AtomicLong();
    private final ConcurrentHashMap<Long, Call> outstanding = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> failuresByCode = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, List<String>> samplesByCode = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, long[]> firstAndLastNsByCode = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, LongAdder> failuresByPid = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> failuresByKind = new ConcurrentHashMap<>();
    private final AtomicLong lastCompletionNs = new AtomicLong();
    private final AtomicLong maxGapNs = new AtomicLong();
    private final List<Stalls.Interval> gaps = new ArrayList<>();
    private final Consumer<Stalls.Interval> gapListener;
    private volatile boolean measuringGaps;

    /**
     * @param source      the bytes payloads are slices of, to check each echo.
     * @param gapListener told of each gap longer than {@link #GAP_THRESHOLD_NS} as it ends.
     */
    CallLedger(final byte[] source, final Consumer<Stalls.Interval> gapListener)
    {
        this.source = source;
        this.gapListener = gapListener;
    }

    /**
     * Callers start: gaps are measured from now.
     *
     * @param nowNs {@link System#nanoTime()}.
     */
    void startMeasuring(final long nowNs)
    {
        lastCompletionNs.set(nowNs);
        measuringGaps = true;
    }

    /**
     * Callers stopped issuing calls: the time since the last completion is a gap too; completions
     * from here on (the drain) no longer count for stalls.
     *
     * @param nowNs {@link System#nanoTime()}.
     */
    void stopMeasuring(final long nowNs)
    {
        noteCompletion(nowNs);
        measuringGaps = false;
    }

    Call begin(final int offset, final int length, final long startNs, final long deadlineNs)
    {
        final Call call = new Call(nextId.incrementAndGet(), offset, length, startNs, deadlineNs);
        calls.increment();
        outstanding.put(call.id, call);
        return call;
    }

    /**
     * Record an outcome.
     *
     * @param call     the call.
     * @param response the echoed bytes, or null when it failed.
     * @param error    why it failed, or null.
     * @param nowNs    {@link System#nanoTime()} at completion.
     */
    void complete(final Call call, final byte[] response, final Throwable error, final long nowNs)
    {
        final int completions = call.completions.incrementAndGet();
        if (completions > 1)
        {
            if (completions == 2)
            {
                duplicated.increment();
            }
            sample("DUPLICATED", "call " + call.id + " completed " + completions + " times, now with " +
                (error == null ? "a response" : describe(error)));
            return;
        }
        outstanding.remove(call.id);
        noteCompletion(nowNs);
        maxLatencyNs.accumulateAndGet(nowNs - call.startNs, Math::max);
        final long overdueNs = nowNs - call.deadlineNs;
        if (overdueNs > LATE_NS)
        {
            late.increment();
        }
        maxOverdueNs.accumulateAndGet(overdueNs, Math::max);
        if (error == null)
        {
            if (response != null && Arrays.equals(
                response, 0, response.length, source, call.offset, call.offset + call.length))
            {
                ok.increment();
            }
            else
            {
                failed.increment();
                wrongPayload.increment();
                fail("WRONG_PAYLOAD", nowNs, "call " + call.id + " sent " + call.length + " bytes and got " +
                    (response == null ? "null" : response.length + " other bytes"));
            }
        }
        else
        {
            failed.increment();
            fail(code(error), nowNs, describe(error));
        }
    }

    private void fail(final String code, final long nowNs, final String message)
    {
        failuresByCode.computeIfAbsent(code, (c) -> new LongAdder()).increment();
        firstAndLastNsByCode.merge(code, new long[]{nowNs, nowNs},
            (was, now) -> new long[]{Math.min(was[0], now[0]), Math.max(was[1], now[1])});
        if (failuresByKind.size() < 200)
        {
            // The message with its numbers and quoted names blanked: "worker '#' (pid #, ...) died ...".
            final String kind = message.replaceAll("'[^']*'", "'*'").replaceAll("\\d+", "#");
            failuresByKind.computeIfAbsent(kind.length() > 120 ? kind.substring(0, 120) : kind,
                (k) -> new LongAdder()).increment();
        }
        final Matcher pid = PID.matcher(message);
        if (pid.find())
        {
            failuresByPid.computeIfAbsent(Long.parseLong(pid.group(1)), (p) -> new LongAdder()).increment();
        }
        sample(code, message);
    }

    private void sample(final String code, final String message)
    {
        final List<String> samples = samplesByCode.computeIfAbsent(code, (c) -> new ArrayList<>());
        synchronized (samples)
        {
            if (samples.size() < SAMPLES_PER_CODE)
            {
                samples.add(message.length() > 400 ? message.substring(0, 400) + "..." : message);
            }
        }
    }

    private void noteCompletion(final long nowNs)
    {
        if (!measuringGaps)
        {
            return;
        }
        final long previousNs = lastCompletionNs.getAndAccumulate(nowNs, Math::max);
        final long gapNs = nowNs - previousNs;
        if (gapNs > 0)
        {
            maxGapNs.accumulateAndGet(gapNs, Math::max);
        }
        if (gapNs > GAP_THRESHOLD_NS)
        {
            final Stalls.Interval gap = new Stalls.Interval(previousNs, nowNs);
            synchronized (gaps)
            {
                if (gaps.size() < MAX_GAPS)
                {
                    gaps.add(gap);
                }
            }
            gapListener.accept(gap);
        }
    }

    static String code(final Throwable error)
    {
        final Throwable cause = unwrap(error);
        return cause instanceof PolybridgeException polybridge ?
            polybridge.errorCode().name() : "THROWN_" + cause.getClass().getSimpleName();
    }

    static String describe(final Throwable error)
    {
        final Throwable cause = unwrap(error);
        return cause instanceof PolybridgeException ? cause.getMessage() : cause.toString();
    }

    private static Throwable unwrap(final Throwable error)
    {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null)
        {
            cause = cause.getCause();
        }
        return cause;
    }

    /** When the latest completion happened ({@link System#nanoTime()}), or when measuring started. */
    long lastCompletionNs()
    {
        return lastCompletionNs.get();
    }

    long calls()
    {
        return calls.sum();
    }

    long ok()
    {
        return ok.sum();
    }

    long failed()
    {
        return failed.sum();
    }

    long duplicated()
    {
        return duplicated.sum();
    }

    long wrongPayload()
    {
        return wrongPayload.sum();
    }

    long late()
    {
        return late.sum();
    }

    long maxOverdueNs()
    {
        return maxOverdueNs.get();
    }

    long maxLatencyNs()
    {
        return maxLatencyNs.get();
    }

    long maxGapNs()
    {
        return maxGapNs.get();
    }

    /** Calls not completed (yet); at the end, after every deadline and a grace period: lost. */
    Map<Long, Call> outstanding()
    {
        return outstanding;
    }

    /** The latest deadline among outstanding calls, or {@code nowNs} when none. */
    long latestOutstandingDeadlineNs(final long nowNs)
    {
        long latest = nowNs;
        for (final Call call : outstanding.values())
        {
            latest = Math.max(latest, call.deadlineNs);
        }
        return latest;
    }

    List<Stalls.Interval> gaps()
    {
        synchronized (gaps)
        {
            return List.copyOf(gaps);
        }
    }

    /** Failures by code, ordered by code. */
    Map<String, Long> failuresByCode()
    {
        final Map<String, Long> sorted = new TreeMap<>();
        failuresByCode.forEach((code, count) -> sorted.put(code, count.sum()));
        return sorted;
    }

    /** Failures by their message with numbers and names blanked, most frequent first. */
    Map<String, Long> failuresByKind()
    {
        final Map<String, Long> counts = new java.util.LinkedHashMap<>();
        failuresByKind.entrySet().stream()
            .sorted((a, b) -> Long.compare(b.getValue().sum(), a.getValue().sum()))
            .forEach((entry) -> counts.put(entry.getKey(), entry.getValue().sum()));
        return counts;
    }

    /** Failures whose message names a worker process ("worker 'go-0' (pid 123, ..."), by that pid. */
    Map<Long, Long> failuresByPid()
    {
        final Map<Long, Long> sorted = new TreeMap<>();
        failuresByPid.forEach((pid, count) -> sorted.put(pid, count.sum()));
        return sorted;
    }

    /** When each failure code was first and last seen, {@link System#nanoTime()}, ordered by code. */
    Map<String, long[]> firstAndLastNsByCode()
    {
        return new TreeMap<>(firstAndLastNsByCode);
    }

    /** Up to three messages per failure code (and DUPLICATED), ordered by code. */
    Map<String, List<String>> samples()
    {
        final Map<String, List<String>> sorted = new TreeMap<>();
        samplesByCode.forEach((code, samples) ->
        {
            synchronized (samples)
            {
                sorted.put(code, List.copyOf(samples));
            }
        });
        return sorted;
    }

    /** The oldest outstanding calls, for the report. */
    List<Call> oldestOutstanding(final int limit)
    {
        return outstanding.values().stream()
            .sorted(Comparator.comparingLong((Call call) -> call.startNs))
            .limit(limit)
            .toList();
    }
}
