package io.polybridge.perf;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.polybridge.driver.EmbeddedMediaDriver;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
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
 * The floor: raw Aeron IPC ping-pong between two Java threads, no SBE, no correlation, same driver
 * settings and the same back-off idle strategy as the polybridge client and workers.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED" })
@State(Scope.Benchmark)
public class AeronPingPongBenchmark
{
    private static final int PING_STREAM = 1;
    private static final int PONG_STREAM = 2;

    @Param({ "32", "1024" })
    public int payloadLength;

    private EmbeddedMediaDriver driver;
    private Aeron aeron;
    private Publication ping;
    private Subscription pongs;
    private Thread ponger;
    private volatile boolean running = true;
    private UnsafeBuffer payload;
    private final IdleStrategy idle = new BackoffIdleStrategy();
    private boolean received;
    private final FragmentHandler onPong = (buffer, offset, length, header) -> received = true;

    @Setup(Level.Trial)
    public void setUp()
    {
        driver = EmbeddedMediaDriver.launch();
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        ping = aeron.addPublication("aeron:ipc", PING_STREAM);
        pongs = aeron.addSubscription("aeron:ipc", PONG_STREAM);
        final Subscription pings = aeron.addSubscription("aeron:ipc", PING_STREAM);
        final Publication pong = aeron.addPublication("aeron:ipc", PONG_STREAM);
        payload = new UnsafeBuffer(new byte[payloadLength]);
        ponger = new Thread(() ->
        {
            final IdleStrategy pongIdle = new BackoffIdleStrategy();
            final FragmentAssembler echo = new FragmentAssembler((buffer, offset, length, header) ->
            {
                while (pong.offer(buffer, offset, length) < 0)
                {
                    Thread.onSpinWait();
                }
            });
            while (running)
            {
                pongIdle.idle(pings.poll(echo, 10));
            }
        }, "ponger");
        ponger.start();
        while (!ping.isConnected() || !pong.isConnected())
        {
            Thread.onSpinWait();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException
    {
        running = false;
        ponger.join();
        CloseHelper.closeAll(aeron, driver);
    }

    @Benchmark
    public boolean pingPong()
    {
        while (ping.offer(payload) < 0)
        {
            Thread.onSpinWait();
        }
        received = false;
        idle.reset();
        while (!received)
        {
            idle.idle(pongs.poll(onPong, 1));
        }
        return received;
    }
}
