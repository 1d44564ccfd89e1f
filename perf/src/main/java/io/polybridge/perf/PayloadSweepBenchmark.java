package io.polybridge.perf;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Round trips of one echo at a time with bodies of 1 KB to 64 MB of real corpus pages
 * (concatenated above the largest page, 1.6 MB), polybridge against the UDS + protobuf baseline,
 * and a single-thread memcpy ({@code System.arraycopy}) of the same size as the physical
 * reference. Score: round trips per second; bytes per second is that times {@code size}.
 * <p>
 * Default settings (issue 14): the driver's default IPC term (16 MiB) and the client's defaults, so
 * a payload of 64 KiB or more travels in a payload region (the client's request region, the worker's
 * response region), not in the Aeron log. Sizes are decimal (64 MB = 64,000,000 B, under the default
 * largest message of 64 MiB). {@code -Dpolybridge.perf.sweepTermLength=67108864} gives the driver a
 * 64 MiB term as before issue 14 (inline messages up to 8 MiB).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx3g" })
@State(Scope.Benchmark)
public class PayloadSweepBenchmark
{
    /**
     * The driver's IPC term length; 0 (the default): polybridge's default, 16 MiB. Before issue 14 the sweep
     * ran on a 64 MiB term so that 8 MB fitted inline.
     */
    static final int SWEEP_IPC_TERM_LENGTH = Integer.getInteger("polybridge.perf.sweepTermLength", 0);

    /** What carries the bytes. */
    public enum Path
    {
        POLYBRIDGE_GO, POLYBRIDGE_RUST, UDS_PROTOBUF, MEMCPY
    }

    @Param({ "POLYBRIDGE_GO", "POLYBRIDGE_RUST", "UDS_PROTOBUF", "MEMCPY" })
    public Path transport;

    @Param({ "1000", "16000", "128000", "1000000", "8000000", "64000000" })
    public int size;

    private Endpoint endpoint;
    private byte[] payload;
    private byte[] copy;

    @Setup(Level.Trial)
    public void setUp()
    {
        payload = Corpus.payloadOf(size);
        copy = new byte[size];
        if (transport != Path.MEMCPY)
        {
            endpoint = Endpoint.open(Transport.valueOf(transport.name()), SWEEP_IPC_TERM_LENGTH, Duration.ofSeconds(30));
            final byte[] echoed = endpoint.call("echo", payload).join();
            if (!java.util.Arrays.equals(echoed, payload))
            {
                throw new IllegalStateException(transport + " did not echo " + size + " bytes intact");
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        if (endpoint != null)
        {
            endpoint.close();
        }
    }

    @Benchmark
    public byte[] roundTrip()
    {
        if (endpoint == null)
        {
            System.arraycopy(payload, 0, copy, 0, size);
            return copy;
        }
        return endpoint.call("echo", payload).join();
    }
}
