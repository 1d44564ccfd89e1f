package io.polybridge.perf;

import io.polybridge.client.PolybridgeClient;
import io.polybridge.client.WorkerStub;
import org.agrona.concurrent.UnsafeBuffer;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Round-trip latency (32 B, one call at a time) and 1 MiB echo throughput (a few calls in flight)
 * against one worker, over whatever channels the arguments name: IPC on one host, or Aeron UDP to a
 * worker on another host. {@code perf/cross-host.sh} runs it for both over a veth pair between two
 * network namespaces and writes {@code perf/results/cross-host.md}. Not JMH: the point is the same
 * client code over two transports, and percentiles of individual round trips.
 * <pre>
 * java -cp perf/target/benchmarks.jar io.polybridge.perf.CrossHostEcho LABEL AERON_DIR WORKER_ID \
 *     [REPLY_CHANNEL ANNOUNCE_CHANNEL]
 * </pre>
 * Prints one line: {@code LABEL p50_us p99_us max_us mib_per_s}. {@code -Dperf.roundTrips} (default
 * 20000), {@code -Dperf.seconds} (throughput run, default 10), {@code -Dperf.window} (1 MiB calls in
 * flight, default 4).
 */
public final class CrossHostEcho
{
    private static final int SMALL = 32;
    private static final int LARGE = 1024 * 1024;

    private CrossHostEcho()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length != 3 && args.length != 5)
        {
            System.err.println("usage: CrossHostEcho LABEL AERON_DIR WORKER_ID [REPLY_CHANNEL ANNOUNCE_CHANNEL]");
            System.exit(2);
        }
        final int roundTrips = Integer.getInteger("perf.roundTrips", 20_000);
        final int seconds = Integer.getInteger("perf.seconds", 10);
        final int window = Integer.getInteger("perf.window", 4);
        final PolybridgeClient.Context ctx = new PolybridgeClient.Context()
            .aeronDirectoryName(args[1])
            .defaultTimeout(Duration.ofSeconds(60));
        if (args.length == 5)
        {
            ctx.replyChannel(args[3]).announceChannels(List.of(args[4]));
        }
        try (PolybridgeClient client = PolybridgeClient.connect(ctx))
        {
            final WorkerStub worker = client.awaitWorker(args[2], Duration.ofSeconds(60));
            final UnsafeBuffer small = new UnsafeBuffer(new byte[SMALL]);
            for (int i = 0; i < 2_000; i++) // warm-up: JIT, publications connected, page faults
            {
                worker.call("echo", small, 0, SMALL, Duration.ofSeconds(60)).join();
            }
            final long[] nanos = new long[roundTrips];
            for (int i = 0; i < roundTrips; i++)
            {
                small.putInt(0, i);
                final long startNs = System.nanoTime();
                final byte[] response = worker.call("echo", small, 0, SMALL, Duration.ofSeconds(60)).join();
                nanos[i] = System.nanoTime() - startNs;
                if (response.length != SMALL || new UnsafeBuffer(response).getInt(0) != i)
                {
                    throw new IllegalStateException("round trip " + i + " came back wrong");
                }
            }
            Arrays.sort(nanos);

            final double mibPerSecond = throughput(worker, seconds, window);
            System.out.printf("%s %.1f %.1f %.1f %.1f%n", args[0],
                nanos[roundTrips / 2] / 1e3, nanos[(int)(roundTrips * 0.99)] / 1e3, nanos[roundTrips - 1] / 1e3,
                mibPerSecond);
        }
    }

    /** 1 MiB echoes, {@code window} in flight, for about {@code seconds}: MiB/s each way. */
    private static double throughput(final WorkerStub worker, final int seconds, final int window)
        throws InterruptedException
    {
        final UnsafeBuffer large = new UnsafeBuffer(new byte[LARGE]);
        for (int i = 0; i < LARGE; i += 4)
        {
            large.putInt(i, i * 31);
        }
        final Semaphore slots = new Semaphore(window);
        final AtomicLong echoed = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < 10; i++)
        {
            worker.call("echo", large, 0, LARGE, Duration.ofSeconds(60)).join();
        }
        final long startNs = System.nanoTime();
        final long endNs = startNs + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() - endNs < 0 && failure.get() == null)
        {
            slots.acquire();
            worker.call("echo", large, 0, LARGE, Duration.ofSeconds(60)).whenComplete((response, error) ->
            {
                if (error != null || response.length != LARGE)
                {
                    failure.compareAndSet(null, error != null ? error : new IllegalStateException("short echo"));
                }
                echoed.addAndGet(LARGE);
                slots.release();
            });
        }
        slots.acquire(window);
        final long elapsedNs = System.nanoTime() - startNs;
        if (failure.get() != null)
        {
            throw new IllegalStateException("a 1 MiB echo failed", failure.get());
        }
        return echoed.get() / (1024.0 * 1024.0) / (elapsedNs / 1e9);
    }
}
