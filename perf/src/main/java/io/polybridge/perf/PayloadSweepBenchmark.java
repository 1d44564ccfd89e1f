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
 * Round trips of one echo at a time with bodies of 1 KB to 8 MB of real corpus pages
 * (concatenated above the largest page, 1.6 MB), polybridge against the UDS + protobuf baseline,
 * and a single-thread memcpy ({@code System.arraycopy}) of the same size as the physical
 * reference. Score: round trips per second; bytes per second is that times {@code size}.
 * <p>
 * The driver here uses a 64 MiB IPC term (largest message 8 MiB) instead of polybridge's
 * default 16 MiB (largest 2 MiB), for every size, so that 4 MB and 8 MB bodies fit.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx2g" })
@State(Scope.Benchmark)
public class PayloadSweepBenchmark
{
    /**
     * 64 MiB: Aeron's largest message is a term / 8, and 8,000,000 B plus the envelope must fit.
     * {@code -Dpolybridge.perf.sweepTermLength=16777216} runs the sizes up to 1 MB on polybridge's default.
     */
    static final int SWEEP_IPC_TERM_LENGTH = Integer.getInteger("polybridge.perf.sweepTermLength", 64 * 1024 * 1024);

    /** What carries the bytes. */
    public enum Path
    {
        POLYBRIDGE_GO, POLYBRIDGE_RUST, UDS_PROTOBUF, MEMCPY
    }

    @Param({ "POLYBRIDGE_GO", "POLYBRIDGE_RUST", "UDS_PROTOBUF", "MEMCPY" })
    public Path transport;

    @Param({ "1000", "16000", "128000", "1000000", "4000000", "8000000" })
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
