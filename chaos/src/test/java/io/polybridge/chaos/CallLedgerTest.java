package io.polybridge.chaos;

import io.polybridge.client.PolybridgeException;
import io.polybridge.codecs.ErrorCode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CallLedgerTest
{
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private final byte[] source = {1, 2, 3, 4, 5, 6, 7, 8};
    private final List<Stalls.Interval> announcedGaps = new ArrayList<>();
    private final CallLedger ledger = new CallLedger(source, announcedGaps::add);

    @Test
    void countsEachOutcomeOnceAndASecondCompletionAsDuplicated()
    {
        ledger.startMeasuring(0);
        final CallLedger.Call echoed = ledger.begin(2, 3, 0, 1000 * MS);
        final CallLedger.Call failed = ledger.begin(0, 1, 0, 1000 * MS);
        final CallLedger.Call never = ledger.begin(0, 1, 0, 1000 * MS);

        ledger.complete(echoed, new byte[]{3, 4, 5}, null, 10 * MS);
        ledger.complete(failed, null, new CompletionException(
            new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "worker died")), 20 * MS);
        ledger.complete(failed, null, new RuntimeException("again"), 30 * MS);

        assertEquals(3, ledger.calls());
        assertEquals(1, ledger.ok());
        assertEquals(1, ledger.failed());
        assertEquals(1, ledger.duplicated());
        assertEquals(Map.of("WORKER_UNAVAILABLE", 1L), ledger.failuresByCode());
        assertEquals(List.of(never.id), List.copyOf(ledger.outstanding().keySet()));
    }

    @Test
    void anEchoOfOtherBytesIsAFailure()
    {
        final CallLedger.Call call = ledger.begin(0, 2, 0, 1000 * MS);
        ledger.complete(call, new byte[]{1, 9}, null, MS);
        assertEquals(0, ledger.ok());
        assertEquals(1, ledger.wrongPayload());
        assertEquals(Map.of("WRONG_PAYLOAD", 1L), ledger.failuresByCode());
    }

    @Test
    void keepsGapsOverTheThresholdIncludingTheOneUpToTheStop()
    {
        ledger.startMeasuring(0);
        for (final long at : new long[]{10 * MS, 20 * MS, 400 * MS, 410 * MS})
        {
            ledger.complete(ledger.begin(0, 0, 0, at + 1000 * MS), new byte[0], null, at);
        }
        ledger.stopMeasuring(900 * MS);
        ledger.complete(ledger.begin(0, 0, 0, 5000 * MS), new byte[0], null, 3000 * MS); // the drain: no gap

        final List<Stalls.Interval> expected = List.of(
            new Stalls.Interval(20 * MS, 400 * MS), new Stalls.Interval(410 * MS, 900 * MS));
        assertEquals(expected, ledger.gaps());
        assertEquals(expected, announcedGaps);
        assertEquals(490 * MS, ledger.maxGapNs());
    }

    @Test
    void aCompletionLongAfterItsDeadlineIsLate()
    {
        ledger.complete(ledger.begin(0, 0, 0, 100 * MS), new byte[0], null, 1200 * MS);
        assertEquals(1, ledger.late());
        assertTrue(ledger.maxOverdueNs() >= 1100 * MS);
    }
}
