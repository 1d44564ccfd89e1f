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

import java.util.concurrent.TimeUnit;

/**
 * The baseline's small-call latency: one echo at a time, Java → Go over a Unix domain socket with
 * varint-delimited protobuf, the same payloads as {@link EchoRoundTripBenchmark}.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED" })
@State(Scope.Benchmark)
public class UdsBaselineBenchmark
{
    @Param({ "32", "1024" })
    public int payloadLength;

    private Endpoint baseline;
    private byte[] payload;

    @Setup(Level.Trial)
    public void setUp()
    {
        baseline = Endpoint.baseline();
        payload = new byte[payloadLength];
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        baseline.close();
    }

    @Benchmark
    public byte[] echo()
    {
        return baseline.call("echo", payload).join();
    }
}
