package io.polybridge.perf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * {@link PayloadSchemePrototypeBenchmark}'s schemes measured interleaved, for a noisy shared machine: all
 * schemes of one size are set up at once (idle ones park), then in each round every scheme, in a fresh
 * random order, runs for a short slice; a scheme's result is the median (and the best) of its rounds'
 * microseconds per round trip, so a burst of load from elsewhere hits every scheme alike instead of
 * whichever JMH trial it fell on. The first round is warm-up.
 * <pre>
 * java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -cp perf/target/benchmarks.jar \
 *   io.polybridge.perf.PayloadSchemePrototype [rounds (default 9)] [slice ms (default 400)] [sizes, comma-separated]
 * </pre>
 */
public final class PayloadSchemePrototype
{
    private PayloadSchemePrototype()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 9;
        final long sliceNs = (args.length > 1 ? Long.parseLong(args[1]) : 400) * 1_000_000L;
        final int[] sizes = args.length > 2
            ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray()
            : new int[] { 1_000_000, 8_000_000, 32_000_000 };
        final Random random = new Random(14);
        System.out.printf("%-24s %12s %12s %12s %10s %s%n", "scheme", "size", "median µs", "best µs", "MB/s", "rounds");
        for (final int size : sizes)
        {
            final Map<PayloadSchemePrototypeBenchmark.Scheme, PayloadSchemePrototypeBenchmark> running = new LinkedHashMap<>();
            for (final PayloadSchemePrototypeBenchmark.Scheme scheme : PayloadSchemePrototypeBenchmark.Scheme.values())
            {
                final PayloadSchemePrototypeBenchmark b = new PayloadSchemePrototypeBenchmark();
                b.scheme = scheme;
                b.size = size;
                try
                {
                    b.setUp();
                    running.put(scheme, b);
                }
                catch (final IllegalStateException ex)
                {
                    System.out.printf("%-24s %,12d  cannot: %s%n", scheme, size, ex.getMessage());
                    b.tearDown();
                }
            }
            final Map<PayloadSchemePrototypeBenchmark.Scheme, List<Double>> times = new LinkedHashMap<>();
            running.keySet().forEach(s -> times.put(s, new ArrayList<>()));
            final List<PayloadSchemePrototypeBenchmark.Scheme> order = new ArrayList<>(running.keySet());
            for (int round = 0; round <= rounds; round++)
            {
                Collections.shuffle(order, random);
                for (final PayloadSchemePrototypeBenchmark.Scheme scheme : order)
                {
                    final PayloadSchemePrototypeBenchmark b = running.get(scheme);
                    long ops = 0;
                    final long start = System.nanoTime();
                    long now;
                    do
                    {
                        b.roundTrip();
                        ops++;
                        now = System.nanoTime();
                    }
                    while (now - start < sliceNs);
                    if (round > 0)
                    {
                        times.get(scheme).add((now - start) / 1e3 / ops);
                    }
                }
            }
            for (final Map.Entry<PayloadSchemePrototypeBenchmark.Scheme, List<Double>> e : times.entrySet())
            {
                final List<Double> t = new ArrayList<>(e.getValue());
                Collections.sort(t);
                final double median = t.get(t.size() / 2);
                System.out.printf("%-24s %,12d %,12.1f %,12.1f %,10.0f %s%n", e.getKey(), size, median, t.get(0),
                    size / median, t.stream().map(x -> String.format("%.0f", x)).toList());
            }
            for (final PayloadSchemePrototypeBenchmark b : running.values())
            {
                b.tearDown();
            }
        }
    }
}
