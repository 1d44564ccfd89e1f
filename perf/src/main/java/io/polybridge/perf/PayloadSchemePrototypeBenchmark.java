package io.polybridge.perf;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import io.polybridge.driver.EmbeddedMediaDriver;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.YieldingIdleStrategy;
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

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

/**
 * Issue 14's prototype comparison: how should a large payload travel from a client to a worker?
 * Both ends are threads of this JVM behind an embedded media driver (polybridge's driver settings),
 * so only the payload scheme differs. One operation: the client hands over {@code size} bytes from a
 * {@code byte[]}, the worker reads every byte (CRC32C over them, the {@code checksum} handler's work)
 * and answers with the 8-byte CRC on a small IPC stream; the client waits for that answer
 * (a DOM-in, small-answer-out call). Score: microseconds per round trip.
 * <ul>
 *     <li>{@code IN_PROCESS}: the reference, no second thread: copy into a direct buffer, CRC32C it.</li>
 *     <li>{@code REGION}: the payload is copied once into a {@code MappedByteBuffer} of a 0600 file in
 *     {@code /dev/shm}; a 12-byte Aeron IPC message carries (offset, length); the worker reads the bytes
 *     where they lie, through its own read-only mapping of the file (as another process would).</li>
 *     <li>{@code AERON_ASSEMBLED}: the payload is one Aeron message on an IPC publication with a
 *     64 MiB term (Aeron's largest message is min(term / 8, 16 MiB): 8 MiB here); the worker
 *     reassembles it ({@link FragmentAssembler}, a copy) and reads the contiguous copy.</li>
 *     <li>{@code AERON_FRAGMENTS}: the same message read in place, fragment by fragment in the log
 *     (CRC32C is incremental, so a streaming reader needs no copy). The payload is never contiguous in
 *     the log: a 32-byte frame header precedes every MTU's worth of it, so a handler that needs one
 *     {@code byte[]}/{@code &[u8]} (an HTML parser) cannot use this.</li>
 *     <li>{@code ..._MTU64K}: the same with the IPC MTU at its maximum (65,504 B instead of 1,408):
 *     fewer fragments, contiguous pieces of 64 KiB.</li>
 * </ul>
 * An Aeron scheme cannot carry 32 MB (its setup fails and says why): that is one of the findings.
 * Results and the decision: docs/payloads.md, "Why a region: the prototype".
 * <pre>
 * java -jar perf/target/benchmarks.jar PayloadSchemePrototypeBenchmark -f 1 -wi 2 -w 1s -i 3 -r 1s
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = { "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx1g" })
@State(Scope.Benchmark)
public class PayloadSchemePrototypeBenchmark
{
    private static final int REQUEST_STREAM = 1401;
    private static final int REPLY_STREAM = 1402;
    /** 64 MiB: Aeron's largest message is term / 8 = 8 MiB, enough for 8,000,000 B. */
    static final int AERON_TERM_LENGTH = 64 * 1024 * 1024;
    /** Aeron's cap whatever the term: 16 MiB. */
    static final int AERON_MAX_MESSAGE_CAP = 16 * 1024 * 1024;
    static final int IPC_MTU_DEFAULT = 1408;
    static final int IPC_MTU_MAX = 65504;
    private static final int REGION_HEADER = 4096;

    /** How the payload gets to the worker. */
    public enum Scheme
    {
        IN_PROCESS, REGION, AERON_ASSEMBLED, AERON_FRAGMENTS, AERON_ASSEMBLED_MTU64K, AERON_FRAGMENTS_MTU64K;

        boolean aeron()
        {
            return name().startsWith("AERON");
        }

        int mtu()
        {
            return name().endsWith("MTU64K") ? IPC_MTU_MAX : IPC_MTU_DEFAULT;
        }
    }

    @Param({ "IN_PROCESS", "REGION", "AERON_ASSEMBLED", "AERON_FRAGMENTS", "AERON_ASSEMBLED_MTU64K", "AERON_FRAGMENTS_MTU64K" })
    public Scheme scheme;

    @Param({ "1000000", "8000000", "32000000" })
    public int size;

    private byte[] payload;
    private long expectedCrc;

    // IN_PROCESS
    private ByteBuffer direct;
    private final CRC32C crc = new CRC32C();

    // The two-thread schemes
    private EmbeddedMediaDriver driver;
    private Aeron aeron;
    private ExclusivePublication requests;
    private Subscription replies;
    private Thread worker;
    private volatile boolean running = true;
    private final IdleStrategy idle = idleStrategy();
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(ByteBuffer.allocateDirect(64).order(ByteOrder.LITTLE_ENDIAN));
    private UnsafeBuffer payloadBuffer;
    private long answer;
    private boolean answered;
    private final FragmentHandler onReply = (buffer, offset, length, header) ->
    {
        answer = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
        answered = true;
    };

    // REGION
    private Path regionFile;
    private UnsafeBuffer regionWriter;

    /**
     * How both threads wait ({@code -Dpolybridge.perf.prototypeIdle}): {@code backoff} (Agrona's
     * {@link BackoffIdleStrategy}: spin, yield, then park up to 1 ms, like the floor benchmark) or {@code yield}
     * ({@link YieldingIdleStrategy}: never parks, so a wake-up after a long copy costs no park).
     */
    static IdleStrategy idleStrategy()
    {
        return switch (System.getProperty("polybridge.perf.prototypeIdle", "backoff"))
        {
            case "backoff" -> new BackoffIdleStrategy();
            case "yield" -> new YieldingIdleStrategy();
            default -> throw new IllegalArgumentException("polybridge.perf.prototypeIdle must be backoff or yield");
        };
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        payload = new byte[size];
        new Random(14).nextBytes(payload);
        final CRC32C reference = new CRC32C();
        reference.update(payload);
        expectedCrc = reference.getValue();
        if (scheme == Scheme.IN_PROCESS)
        {
            direct = ByteBuffer.allocateDirect(size);
            return;
        }
        if (scheme.aeron())
        {
            final int largest = Math.min(AERON_TERM_LENGTH / 8, AERON_MAX_MESSAGE_CAP);
            if (size > largest)
            {
                throw new IllegalStateException("Aeron cannot carry " + size + " B as one message: its largest message is " +
                    "min(term length / 8, 16 MiB) = " + largest + " B with a " + AERON_TERM_LENGTH + " B term, and " +
                    AERON_MAX_MESSAGE_CAP + " B with any term");
            }
        }
        driver = EmbeddedMediaDriver.launch(PolybridgeMediaDriver.context());
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
        final String requestChannel = scheme.aeron()
            ? "aeron:ipc?term-length=" + AERON_TERM_LENGTH + "|mtu=" + scheme.mtu()
            : "aeron:ipc";
        requests = aeron.addExclusivePublication(requestChannel, REQUEST_STREAM);
        replies = aeron.addSubscription("aeron:ipc", REPLY_STREAM);
        final Subscription workerRequests = aeron.addSubscription("aeron:ipc", REQUEST_STREAM);
        final ExclusivePublication workerReplies = aeron.addExclusivePublication("aeron:ipc", REPLY_STREAM);
        final FragmentHandler workerHandler;
        if (scheme == Scheme.REGION)
        {
            regionFile = Path.of("/dev/shm", "polybridge-prototype-" + ProcessHandle.current().pid() + "-" +
                Integer.toHexString(ThreadLocalRandom.current().nextInt()));
            Files.createFile(regionFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            final long fileLength = REGION_HEADER + (long)size;
            try (FileChannel channel = FileChannel.open(regionFile, StandardOpenOption.READ, StandardOpenOption.WRITE))
            {
                // map() grows the file to fileLength (ftruncate: sparse on tmpfs, pages allocated when first written)
                final MappedByteBuffer rw = channel.map(FileChannel.MapMode.READ_WRITE, 0, fileLength);
                regionWriter = new UnsafeBuffer(rw, REGION_HEADER, size);
            }
            final MappedByteBuffer readOnly;
            try (FileChannel channel = FileChannel.open(regionFile, StandardOpenOption.READ))
            {
                readOnly = channel.map(FileChannel.MapMode.READ_ONLY, 0, fileLength);
            }
            workerHandler = new RegionReader(readOnly, workerReplies);
        }
        else
        {
            payloadBuffer = new UnsafeBuffer(payload);
            final FragmentReader reader = new FragmentReader(workerReplies);
            workerHandler = scheme.name().startsWith("AERON_ASSEMBLED") ? new FragmentAssembler(reader.whole, 0, true) : reader.pieces;
        }
        worker = new Thread(() ->
        {
            final IdleStrategy workerIdle = idleStrategy();
            while (running)
            {
                workerIdle.idle(workerRequests.poll(workerHandler, 1024));
            }
        }, "prototype-worker");
        worker.start();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!requests.isConnected() || !workerReplies.isConnected())
        {
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException("the prototype's publications did not connect");
            }
            Thread.onSpinWait();
        }
        if (roundTrip() != expectedCrc)
        {
            throw new IllegalStateException(scheme + ": the worker read other bytes than were sent");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException, IOException
    {
        running = false;
        if (worker != null)
        {
            worker.join();
        }
        CloseHelper.closeAll(aeron, driver);
        if (regionFile != null)
        {
            Files.deleteIfExists(regionFile); // the mappings go with the GC
        }
    }

    @Benchmark
    public long roundTrip()
    {
        if (scheme == Scheme.IN_PROCESS)
        {
            direct.clear();
            direct.put(payload);
            direct.flip();
            crc.reset();
            crc.update(direct);
            return crc.getValue();
        }
        if (scheme == Scheme.REGION)
        {
            regionWriter.putBytes(0, payload, 0, size); // the one copy: the loan's bytes
            sendBuffer.putLong(0, 0L, ByteOrder.LITTLE_ENDIAN); // offset in the data area
            sendBuffer.putInt(8, size, ByteOrder.LITTLE_ENDIAN);
            offer(sendBuffer, 12);
        }
        else
        {
            offer(payloadBuffer, size); // the one copy: into the log, fragmented by Aeron
        }
        answered = false;
        idle.reset();
        while (!answered)
        {
            idle.idle(replies.poll(onReply, 1));
        }
        return answer;
    }

    private void offer(final DirectBuffer buffer, final int length)
    {
        long result;
        idle.reset();
        while ((result = requests.offer(buffer, 0, length)) < 0)
        {
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED)
            {
                throw new IllegalStateException("offer failed: " + result);
            }
            idle.idle(); // back pressure: the driver has not moved the publisher limit yet
        }
    }

    private static void reply(final ExclusivePublication replies, final UnsafeBuffer buffer, final long value)
    {
        buffer.putLong(0, value, ByteOrder.LITTLE_ENDIAN);
        while (replies.offer(buffer, 0, 8) < 0)
        {
            Thread.onSpinWait();
        }
    }

    /** The worker's side of REGION: reads (offset, length), CRC32C over the bytes where they lie. */
    private static final class RegionReader implements FragmentHandler
    {
        private final ByteBuffer view;
        private final ExclusivePublication replies;
        private final CRC32C crc = new CRC32C();
        private final UnsafeBuffer out = new UnsafeBuffer(ByteBuffer.allocateDirect(8));

        RegionReader(final MappedByteBuffer readOnly, final ExclusivePublication replies)
        {
            this.view = readOnly.duplicate();
            this.replies = replies;
        }

        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header header)
        {
            final long regionOffset = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
            final int regionLength = buffer.getInt(offset + 8, ByteOrder.LITTLE_ENDIAN);
            final int start = REGION_HEADER + (int)regionOffset;
            view.limit(start + regionLength).position(start);
            crc.reset();
            crc.update(view);
            reply(replies, out, crc.getValue());
        }
    }

    /** The worker's side of the Aeron schemes: a whole reassembled message, or fragments where they lie. */
    private static final class FragmentReader
    {
        private final ExclusivePublication replies;
        private final CRC32C crc = new CRC32C();
        private final UnsafeBuffer out = new UnsafeBuffer(ByteBuffer.allocateDirect(8));
        private ByteBuffer lastSource;
        private ByteBuffer lastView;

        final FragmentHandler whole = this::onWhole;
        final FragmentHandler pieces = this::onPiece;

        FragmentReader(final ExclusivePublication replies)
        {
            this.replies = replies;
        }

        private void onWhole(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header header)
        {
            crc.reset();
            update(buffer, offset, length);
            reply(replies, out, crc.getValue());
        }

        private void onPiece(final DirectBuffer buffer, final int offset, final int length, final io.aeron.logbuffer.Header header)
        {
            final byte flags = header.flags();
            if ((flags & FrameDescriptor.BEGIN_FRAG_FLAG) != 0)
            {
                crc.reset();
            }
            update(buffer, offset, length);
            if ((flags & FrameDescriptor.END_FRAG_FLAG) != 0)
            {
                reply(replies, out, crc.getValue());
            }
        }

        /** CRC32C over bytes of a term (or the assembler's buffer) without copying them. */
        private void update(final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] array = buffer.byteArray();
            if (array != null)
            {
                crc.update(array, buffer.wrapAdjustment() + offset, length);
                return;
            }
            final ByteBuffer source = buffer.byteBuffer();
            if (source != lastSource)
            {
                lastSource = source;
                lastView = source.duplicate();
            }
            final int start = buffer.wrapAdjustment() + offset;
            lastView.limit(start + length).position(start);
            crc.update(lastView);
        }
    }
}
