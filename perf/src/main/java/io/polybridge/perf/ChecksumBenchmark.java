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

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Issue 14's "DOM in, small answer out" target: one {@code checksum} call at a time (the test workers'
 * handler: the 8-byte little-endian CRC32C of the payload), polybridge Go and Rust with the client's
 * and the driver's default settings (a payload of 64 KiB or more travels in the client's payload
 * region), against the in-process reference of the same run: copying the payload into a direct
 * {@code ByteBuffer} (the one copy a region costs) plus {@link CRC32C} over it in Java.
 * Score: microseconds per call; the target is in-process time / polybridge time ≥ 0.5.
 * Payloads are real corpus pages (concatenated above the largest), as in {@link PayloadSweepBenchmark}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx2g" })
@State(Scope.Benchmark)
public class ChecksumBenchmark
{
    /** Who computes the checksum. */
    public enum Path
    {
        IN_PROCESS, POLYBRIDGE_GO, POLYBRIDGE_RUST
    }

    @Param({ "IN_PROCESS", "POLYBRIDGE_GO", "POLYBRIDGE_RUST" })
    public Path path;

    @Param({ "1000000", "8000000" })
    public int size;

    private byte[] payload;
    private ByteBuffer direct;
    private final CRC32C crc = new CRC32C();
    private Endpoint endpoint;

    @Setup(Level.Trial)
    public void setUp()
    {
        payload = Corpus.payloadOf(size);
        crc.reset();
        crc.update(payload);
        final long expected = crc.getValue();
        if (path == Path.IN_PROCESS)
        {
            direct = ByteBuffer.allocateDirect(size);
            return;
        }
        endpoint = Endpoint.open(Transport.valueOf(path.name()), 0, Duration.ofSeconds(30)); // the default term
        final long answer = checksumOf(endpoint.call("checksum", payload).join());
        if (answer != expected)
        {
            endpoint.close();
            throw new IllegalStateException(path + ": checksum of " + size + " bytes was " + Long.toHexString(answer) +
                ", CRC32C is " + Long.toHexString(expected));
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
    public long checksum()
    {
        if (endpoint == null)
        {
            direct.clear();
            direct.put(payload);
            direct.flip();
            crc.reset();
            crc.update(direct);
            return crc.getValue();
        }
        return checksumOf(endpoint.call("checksum", payload).join());
    }

    private static long checksumOf(final byte[] reply)
    {
        if (reply.length != 8)
        {
            throw new IllegalStateException("checksum's reply must be 8 bytes, was " + reply.length);
        }
        return ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
