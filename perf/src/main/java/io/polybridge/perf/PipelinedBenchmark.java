package io.polybridge.perf;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Many echoes in flight: one caller thread sends a batch of {@value #BATCH} 32-byte echoes without
 * waiting, then waits for them all. Score: completed requests per second.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED" })
@State(Scope.Benchmark)
public class PipelinedBenchmark
{
    /** Within the client's default in-flight window (16384), so no call waits for a slot. */
    static final int BATCH = 10_000;

    @Param({ "POLYBRIDGE_GO", "POLYBRIDGE_RUST", "UDS_PROTOBUF" })
    public Transport transport;

    private Endpoint endpoint;
    private final byte[] payload = new byte[32];
    @SuppressWarnings("unchecked")
    private final CompletableFuture<byte[]>[] calls = new CompletableFuture[BATCH];

    @Setup(Level.Trial)
    public void setUp()
    {
        endpoint = Endpoint.open(transport, 0, Duration.ofSeconds(30));
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        endpoint.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int echoBatch()
    {
        for (int i = 0; i < BATCH; i++)
        {
            calls[i] = endpoint.call("echo", payload);
        }
        int bytes = 0;
        for (int i = 0; i < BATCH; i++)
        {
            bytes += calls[i].join().length;
            calls[i] = null;
        }
        return bytes;
    }
}
