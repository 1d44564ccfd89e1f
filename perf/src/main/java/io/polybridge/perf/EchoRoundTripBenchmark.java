package io.polybridge.perf;

import io.polybridge.client.WorkerStub;
import io.polybridge.codecs.Language;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One echo call at a time, Java to a real Go or Rust worker process and back, through an embedded
 * media driver. Compare with {@link AeronPingPongBenchmark} from the same run: that is the floor.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED" })
@State(Scope.Benchmark)
public class EchoRoundTripBenchmark
{
    @Param({ "GO", "RUST" })
    public Language language;

    @Param({ "32", "1024" })
    public int payloadLength;

    /**
     * The client agent's idle strategy: the default ({@code BackoffSleepIdleStrategy}: spin, yield, park
     * up to 1 ms, sleep when idle) or yielding. With {@code join()} the caller polls for its own response
     * (the client's invoker), so the agent's strategy matters little there; {@code echoYieldWait} shows it.
     */
    @Param({ "backoff", "yield" })
    public String clientIdle;

    private Endpoint.Polybridge endpoint;
    private WorkerStub worker;
    private byte[] payload;

    @Setup(Level.Trial)
    public void setUp()
    {
        endpoint = Endpoint.polybridge(language, 0, Duration.ofSeconds(5), clientIdle);
        worker = endpoint.worker;
        payload = new byte[payloadLength];
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        endpoint.close();
    }

    @Benchmark
    public byte[] echo()
    {
        return worker.call("echo", payload).join();
    }

    /**
     * The same call, waited for by yielding instead of join(): join() of a pending future
     * allocates a waiter node, which is the caller's choice, not the client's cost. Run with
     * {@code -prof gc} to see what one call allocates: the returned future and the response bytes.
     */
    @Benchmark
    public byte[] echoYieldWait()
    {
        final CompletableFuture<byte[]> call = worker.call("echo", payload);
        while (!call.isDone())
        {
            Thread.yield(); // spinning would starve the client agent and the worker on a small machine
        }
        return call.getNow(null);
    }
}
