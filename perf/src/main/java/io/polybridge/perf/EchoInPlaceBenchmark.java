package io.polybridge.perf;

import io.polybridge.client.PayloadView;
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
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * The echo of {@link PayloadSweepBenchmark} through the in-place response API: {@code callView} returns
 * the worker's lent response as a {@link PayloadView}, which is read once into an array the caller
 * reuses and then closed (a {@code PayloadRelease} to the worker). Against the {@code byte[]} API this
 * saves the JVM zeroing a new array of the payload's size for every call; what the caller gets is the
 * same, the response's bytes in an array of its own, so the score compares with the sweep's and the
 * UDS baseline's. Score: round trips per second, default settings.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx2g" })
@State(Scope.Benchmark)
public class EchoInPlaceBenchmark
{
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Param({ "POLYBRIDGE_GO", "POLYBRIDGE_RUST" })
    public Transport transport;

    @Param({ "1000000", "8000000" })
    public int size;

    private Endpoint.Polybridge endpoint;
    private byte[] payload;
    private byte[] response;

    @Setup(Level.Trial)
    public void setUp()
    {
        payload = Corpus.payloadOf(size);
        response = new byte[size];
        endpoint = (Endpoint.Polybridge)Endpoint.open(transport, 0, TIMEOUT); // the default term
        roundTrip();
        if (!Arrays.equals(response, payload))
        {
            endpoint.close();
            throw new IllegalStateException(transport + " did not echo " + size + " bytes intact in place");
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
        try (PayloadView view = endpoint.worker.callView("echo", payload, TIMEOUT).join())
        {
            view.buffer().getBytes(0, response, 0, view.length());
        }
        return response;
    }
}
