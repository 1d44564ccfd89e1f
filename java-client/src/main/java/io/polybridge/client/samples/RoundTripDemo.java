package io.polybridge.client.samples;

import io.polybridge.client.PolybridgeClient;
import io.polybridge.client.WorkerStub;
import io.polybridge.client.WorkerProcess;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.CloseHelper;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Starts an embedded media driver and the Go and Rust workers, then prints a few echo round trips
 * with their latency. Run from the repository root with {@code make demo}.
 */
public final class RoundTripDemo
{
    private static final int[] SIZES = { 32, 1024, 64 * 1024, 1024 * 1024 };
    private static final int WARM_UP_CALLS = 20_000;
    private static final int MEASURED_CALLS = 20_000;

    private RoundTripDemo()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final Path logs = Path.of(System.getProperty("java.io.tmpdir"), "polybridge-demo-logs");
        // The library's test workers, as the checkout's build puts them (run from the repository root).
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        final Path goBinary = root.resolve("native-go/bin/polybridge-worker-go");
        final Path rustBinary = root.resolve("native-rust/target/release/polybridge-worker-rust");
        WorkerProcess go = null;
        WorkerProcess rust = null;
        try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch())
        {
            final String dir = driver.aeronDirectoryName();
            System.out.println("embedded media driver in " + dir);
            go = WorkerProcess.start(goBinary, dir, "go-0", 100, logs.resolve("go-0.log"));
            rust = WorkerProcess.start(
                rustBinary, dir, "rust-0", 200, logs.resolve("rust-0.log"));

            try (PolybridgeClient client = PolybridgeClient.connect(new PolybridgeClient.Context()
                .aeronDirectoryName(dir)))
            {
                for (final String workerId : new String[]{ "go-0", "rust-0" })
                {
                    final WorkerStub worker = client.awaitWorker(workerId, Duration.ofSeconds(30));
                    System.out.println("\n" + workerId + " announced: " + worker.info());
                    System.out.println("  (the first call also waits for the worker to open its reply publication)");
                    for (final int size : SIZES)
                    {
                        final byte[] payload = new byte[size];
                        ThreadLocalRandom.current().nextBytes(payload);
                        final long start = System.nanoTime();
                        final byte[] echoed = worker.call("echo", payload).join();
                        final long micros = (System.nanoTime() - start) / 1000;
                        System.out.printf("  echo %8d bytes: %6d us  %s%n",
                            size, micros, Arrays.equals(payload, echoed) ? "ok" : "MISMATCH");
                    }
                    printSmallCallPercentiles(worker);
                }
            }
        }
        finally
        {
            CloseHelper.closeAll(go, rust);
        }
        System.out.println("\nstopped workers and driver; worker logs in " + logs);
    }

    private static void printSmallCallPercentiles(final WorkerStub worker)
    {
        final byte[] payload = new byte[32];
        for (int i = 0; i < WARM_UP_CALLS; i++)
        {
            worker.call("echo", payload).join();
        }
        final long[] nanos = new long[MEASURED_CALLS];
        for (int i = 0; i < MEASURED_CALLS; i++)
        {
            final long start = System.nanoTime();
            worker.call("echo", payload).join();
            nanos[i] = System.nanoTime() - start;
        }
        Arrays.sort(nanos);
        System.out.printf("  32-byte echo, one at a time, %d calls: p50 %.1f us, p99 %.1f us, max %.1f us%n",
            MEASURED_CALLS, nanos[MEASURED_CALLS / 2] / 1e3, nanos[MEASURED_CALLS * 99 / 100] / 1e3,
            nanos[MEASURED_CALLS - 1] / 1e3);
    }
}
