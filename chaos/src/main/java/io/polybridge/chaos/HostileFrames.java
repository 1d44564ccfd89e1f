package io.polybridge.chaos;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.FragmentAssembler;
import io.aeron.logbuffer.FragmentHandler;
import io.polybridge.codecs.CancelEncoder;
import io.polybridge.codecs.Language;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.PayloadReleaseEncoder;
import io.polybridge.codecs.RequestEncoder;
import io.polybridge.codecs.ResponseDecoder;
import io.polybridge.codecs.WorkerAnnouncementDecoder;
import io.polybridge.codecs.WorkerAnnouncementEncoder;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * A local process that can write the driver's files and misbehaves: it reads the workers'
 * announcements on the control stream and publishes, with its own Aeron client, a steady stream of
 * hostile frames into every announced request stream (of the host's and the client JVMs' workers
 * alike). Frames are built with the generated SBE codecs and then broken on purpose; see
 * {@link Kind}. Replies it asked for come to its own reply stream and are counted by error code.
 * <p>
 * Reply streams it names are never the host's (1000..1,000,999) or anyone's request streams (the
 * control stream 10, 100.., 200.., fresh streams from 2^30): a forged request answered into the
 * host's reply stream could complete a real call with forged bytes, which shared memory without
 * authentication cannot prevent and which is not what this harness tests.
 * <p>
 * {@link #pause()} closes its Aeron client (before the harness kills the driver) and
 * {@link #resume()} lets it connect again; its error handler never exits the JVM.
 */
final class HostileFrames implements AutoCloseable
{
    /** Our own reply stream: answers to well-formed hostile requests come here. */
    static final int OWN_REPLY_STREAM = 2_000_000;
    /** Reply streams nobody subscribes to, a bounded set so workers' reply publications stay bounded. */
    static final int UNSUBSCRIBED_REPLY_STREAM_BASE = 3_000_000;
    static final int UNSUBSCRIBED_REPLY_STREAMS = 32;
    private static final int CONTROL_STREAM = 10;
    private static final long TARGET_EXPIRY_NS = TimeUnit.SECONDS.toNanos(3);
    private static final int MAX_TARGETS = 64;
    /** replyChannels every worker refuses (schema/protocol.md): IPC, other parameters, no port, port 0. */
    private static final String[] INVALID_REPLY_CHANNELS = {
        "aeron:ipc", "aeron:udp?endpoint=x:1|term-length=64k", "aeron:udp?endpoint=127.0.0.1", "aeron:udp?endpoint=127.0.0.1:0",
        "aeron:udp?control=127.0.0.1:40102" };

    /** What is wrong with a frame. */
    enum Kind
    {
        RANDOM_BYTES(10),
        EMPTY_FRAME(2),
        TRUNCATED_REQUEST(10),
        LYING_PAYLOAD_LENGTH(8),
        LYING_HANDLER_LENGTH(8),
        LYING_BLOCK_LENGTH(6),
        WRONG_TEMPLATE(3),
        WRONG_SCHEMA(3),
        WRONG_VERSION(3),
        ANNOUNCEMENT_ON_REQUEST_STREAM(2),
        REPLY_STREAM_ZERO(8),
        REPLY_STREAM_NEGATIVE(6),
        REPLY_STREAM_UNSUBSCRIBED(8),
        REPLY_STREAM_RANDOM(1),
        DUPLICATE_CORRELATION_ID(6),
        ENORMOUS_HANDLER_NAME(1),
        UNKNOWN_HANDLER(3),
        NEGATIVE_TIMEOUT(3),
        INVALID_REPLY_CHANNEL(4),
        CANCEL_REPLY_STREAM_ZERO(4),
        TRUNCATED_CANCEL(4),
        /** A payload reference to a region that has no file. */
        REGION_MISSING(3),
        /** A reference outside a worker's real region: past its end, negative, or overflowing. */
        REGION_OUT_OF_BOUNDS(4),
        /** A reference and an inline payload at once. */
        REGION_AND_INLINE_PAYLOAD(2),
        /** A PayloadRelease of a loan this process never had: ignored and counted by the worker. */
        FORGED_PAYLOAD_RELEASE(3),
        TRUNCATED_PAYLOAD_RELEASE(2);

        final int weight;

        Kind(final int weight)
        {
            this.weight = weight;
        }
    }

    private final String aeronDirectoryName;
    private final Random random;
    private final int framesPerSecond;
    private final Kind[] weighted;
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[128 * 1024]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final RequestEncoder requestEncoder = new RequestEncoder();
    private final CancelEncoder cancelEncoder = new CancelEncoder();
    private final PayloadReleaseEncoder releaseEncoder = new PayloadReleaseEncoder();
    /** Region ids that workers announced: real files to aim references outside of. */
    private final java.util.List<Long> announcedRegions = new java.util.ArrayList<>();
    private final WorkerAnnouncementEncoder announcementEncoder = new WorkerAnnouncementEncoder();
    private final WorkerAnnouncementDecoder announcementDecoder = new WorkerAnnouncementDecoder();
    private final ResponseDecoder responseDecoder = new ResponseDecoder();
    private final byte[] enormousName = new byte[65_534];
    private final Map<Integer, Publication> targets = new HashMap<>();
    private final Map<Integer, Long> lastAnnouncedNs = new HashMap<>();
    private final Map<Kind, LongAdder> sent = new ConcurrentHashMap<>();
    private final Map<Kind, LongAdder> refused = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> replies = new ConcurrentHashMap<>();
    private final LongAdder clientErrors = new LongAdder();
    private final Thread thread;
    private final FragmentHandler onAnnouncement = this::onAnnouncement;
    private final FragmentHandler onReply = new FragmentAssembler(this::onReply);
    private final Map<Integer, Map<Long, Long>> announcersByStream = new HashMap<>();
    private final Map<String, String> streamConflicts = new ConcurrentHashMap<>();
    private volatile int largestReply;
    private volatile boolean closing;
    private volatile boolean pauseRequested;
    private volatile boolean paused;
    private volatile boolean clientFailed;
    private volatile String lastError = "";
    private volatile int burstMultiplier = 1;
    private volatile long burstUntilNs;
    private Aeron aeron;
    private Subscription control;
    private Subscription ownReplies;
    private long nextCorrelationId = 1L << 40;
    private long nextSendNs;
    private double owed;

    HostileFrames(final String aeronDirectoryName, final long seed, final int framesPerSecond)
    {
        this.aeronDirectoryName = aeronDirectoryName;
        this.random = new Random(seed);
        this.framesPerSecond = framesPerSecond;
        this.weighted = Arrays.stream(Kind.values())
            .flatMap((kind) -> java.util.stream.Stream.generate(() -> kind).limit(kind.weight))
            .toArray(Kind[]::new);
        Arrays.fill(enormousName, (byte)'h');
        thread = new Thread(this::run, "chaos-hostile-frames");
        thread.setDaemon(true);
    }

    void start()
    {
        thread.start();
    }

    /** Close the Aeron client and send nothing until {@link #resume()}; returns once closed. */
    void pause()
    {
        pauseRequested = true;
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!paused && thread.isAlive() && System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    void resume()
    {
        pauseRequested = false;
    }

    /**
     * Send at a multiple of the rate for a while.
     *
     * @param multiplier how many times the rate.
     * @param ms         for how long.
     */
    void burst(final int multiplier, final long ms)
    {
        burstUntilNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        burstMultiplier = multiplier;
    }

    public void close()
    {
        closing = true;
        try
        {
            thread.join(10_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    private void run()
    {
        try
        {
            while (!closing)
            {
                if (pauseRequested || clientFailed)
                {
                    closeClient();
                    clientFailed = false;
                    paused = pauseRequested;
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
                    continue;
                }
                paused = false;
                if (aeron == null && !connect())
                {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
                    continue;
                }
                control.poll(onAnnouncement, 16);
                ownReplies.poll(onReply, 64);
                expireTargets();
                sendDue();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
        catch (final RuntimeException ex)
        {
            lastError = ex.toString();
            ex.printStackTrace();
        }
        finally
        {
            closeClient();
            paused = true;
        }
    }

    private boolean connect()
    {
        try
        {
            aeron = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(aeronDirectoryName)
                .clientName("polybridge-chaos-hostile")
                .errorHandler((error) ->
                {
                    // Never exit: a lost driver is expected here, the loop reconnects.
                    clientErrors.increment();
                    lastError = error.toString();
                    clientFailed = true;
                }));
            control = aeron.addSubscription("aeron:ipc", CONTROL_STREAM);
            ownReplies = aeron.addSubscription("aeron:ipc", OWN_REPLY_STREAM);
            nextSendNs = System.nanoTime();
            return true;
        }
        catch (final RuntimeException ex)
        {
            lastError = ex.toString();
            closeClient();
            return false;
        }
    }

    private void closeClient()
    {
        targets.clear(); // the publications close with the client
        lastAnnouncedNs.clear();
        announcersByStream.clear();
        CloseHelper.quietClose(aeron);
        aeron = null;
        control = null;
        ownReplies = null;
    }

    private void onAnnouncement(final org.agrona.DirectBuffer frame, final int offset, final int length,
        final io.aeron.logbuffer.Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            return;
        }
        headerDecoder.wrap(frame, offset);
        if (headerDecoder.templateId() != WorkerAnnouncementDecoder.TEMPLATE_ID ||
            length < MessageHeaderDecoder.ENCODED_LENGTH + WorkerAnnouncementDecoder.BLOCK_LENGTH)
        {
            return;
        }
        announcementDecoder.wrap(frame, offset + MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(),
            headerDecoder.version());
        final int streamId = announcementDecoder.requestStreamId();
        if (streamId == CONTROL_STREAM || streamId == OWN_REPLY_STREAM)
        {
            return;
        }
        final long nowNs = System.nanoTime();
        noteAnnouncer(streamId, announcementDecoder.pid(), nowNs);
        final long regionId = announcementDecoder.regionId();
        if (regionId != 0 && !announcedRegions.contains(regionId))
        {
            if (announcedRegions.size() == MAX_TARGETS)
            {
                announcedRegions.remove(0);
            }
            announcedRegions.add(regionId);
        }
        lastAnnouncedNs.put(streamId, nowNs);
        if (!targets.containsKey(streamId) && targets.size() < MAX_TARGETS)
        {
            targets.put(streamId, aeron.addPublication("aeron:ipc", streamId));
        }
    }

    /**
     * Two live processes announcing the same request stream both read every request on it: each
     * call is executed twice and answered twice. Announcements come every 200 ms, so two pids
     * announcing one stream within a second of each other are both serving it.
     */
    private void noteAnnouncer(final int streamId, final long pid, final long nowNs)
    {
        final Map<Long, Long> announcers = announcersByStream.computeIfAbsent(streamId, (s) -> new HashMap<>());
        announcers.put(pid, nowNs);
        announcers.values().removeIf((seenNs) -> nowNs - seenNs > TimeUnit.SECONDS.toNanos(1));
        if (announcers.size() > 1)
        {
            final String key = "stream " + streamId + " pids " + new java.util.TreeSet<>(announcers.keySet());
            streamConflicts.putIfAbsent(key, key);
        }
    }

    private void onReply(final org.agrona.DirectBuffer frame, final int offset, final int length,
        final io.aeron.logbuffer.Header header)
    {
        String outcome = "UNDECODABLE";
        if (length >= MessageHeaderDecoder.ENCODED_LENGTH + ResponseDecoder.BLOCK_LENGTH)
        {
            headerDecoder.wrap(frame, offset);
            if (headerDecoder.templateId() == ResponseDecoder.TEMPLATE_ID)
            {
                responseDecoder.wrap(frame, offset + MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(),
                    headerDecoder.version());
                outcome = String.valueOf(responseDecoder.errorCode());
            }
        }
        replies.computeIfAbsent(outcome, (o) -> new LongAdder()).increment();
        largestReply = Math.max(largestReply, length);
    }

    private void expireTargets()
    {
        final long nowNs = System.nanoTime();
        final Iterator<Map.Entry<Integer, Publication>> it = targets.entrySet().iterator();
        while (it.hasNext())
        {
            final Map.Entry<Integer, Publication> target = it.next();
            if (nowNs - lastAnnouncedNs.getOrDefault(target.getKey(), 0L) > TARGET_EXPIRY_NS)
            {
                CloseHelper.quietClose(target.getValue());
                lastAnnouncedNs.remove(target.getKey());
                it.remove();
            }
        }
    }

    private void sendDue()
    {
        final long nowNs = System.nanoTime();
        final int rate = framesPerSecond * (nowNs - burstUntilNs < 0 ? burstMultiplier : 1);
        owed += (nowNs - nextSendNs) * rate / 1e9;
        nextSendNs = nowNs;
        owed = Math.min(owed, rate / 10.0); // at most 100 ms worth at once
        if (targets.isEmpty())
        {
            owed = 0;
            return;
        }
        final Publication[] publications = targets.values().toArray(new Publication[0]);
        while (owed >= 1)
        {
            owed -= 1;
            final Publication publication = publications[random.nextInt(publications.length)];
            final Kind kind = weighted[random.nextInt(weighted.length)];
            final int length = build(kind);
            final boolean delivered = offer(publication, length);
            if (kind == Kind.DUPLICATE_CORRELATION_ID && delivered)
            {
                offer(publication, length); // the same correlation id again
            }
            (delivered ? sent : refused).computeIfAbsent(kind, (k) -> new LongAdder()).increment();
        }
    }

    /** Once, never retried: back pressure or a closed stream just drops the frame. */
    private boolean offer(final Publication publication, final int length)
    {
        try
        {
            return publication.offer(buffer, 0, length) > 0;
        }
        catch (final RuntimeException ex)
        {
            lastError = ex.toString();
            return false;
        }
    }

    /** Build a frame of this kind into {@link #buffer}; returns its length. */
    int build(final Kind kind)
    {
        switch (kind)
        {
            case RANDOM_BYTES:
            {
                final int length = 1 + random.nextInt(256);
                for (int i = 0; i < length; i++)
                {
                    buffer.putByte(i, (byte)random.nextInt());
                }
                return length;
            }
            case EMPTY_FRAME:
                return 0;
            case TRUNCATED_REQUEST:
            {
                final int length = request(OWN_REPLY_STREAM, "echo", 1 + random.nextInt(200), TimeUnit.SECONDS.toNanos(1));
                return 1 + random.nextInt(length - 1);
            }
            case LYING_PAYLOAD_LENGTH:
            {
                final int payload = random.nextInt(100);
                final int length = request(OWN_REPLY_STREAM, "echo", payload, TimeUnit.SECONDS.toNanos(1));
                final long lie = payload + 1 + (random.nextBoolean() ? random.nextInt(1000) : (long)random.nextInt(Integer.MAX_VALUE)) +
                    (random.nextInt(4) == 0 ? 0x8000_0000L : 0);
                buffer.putInt(length - payload - 4, (int)lie, ByteOrder.LITTLE_ENDIAN);
                return length;
            }
            case LYING_HANDLER_LENGTH:
            {
                final int length = request(OWN_REPLY_STREAM, "echo", random.nextInt(32), TimeUnit.SECONDS.toNanos(1));
                final int handlerLengthAt = MessageHeaderEncoder.ENCODED_LENGTH + RequestEncoder.BLOCK_LENGTH +
                    RequestEncoder.MetadataEncoder.sbeHeaderSize() + RequestEncoder.replyChannelHeaderLength();
                buffer.putShort(handlerLengthAt, (short)(5 + random.nextInt(65_531)), ByteOrder.LITTLE_ENDIAN);
                return length;
            }
            case LYING_BLOCK_LENGTH:
            {
                final int length = request(OWN_REPLY_STREAM, "echo", random.nextInt(32), TimeUnit.SECONDS.toNanos(1));
                buffer.putShort(0, (short)random.nextInt(65_536), ByteOrder.LITTLE_ENDIAN);
                return length;
            }
            case WRONG_TEMPLATE:
            {
                final int length = request(OWN_REPLY_STREAM, "echo", 8, TimeUnit.SECONDS.toNanos(1));
                buffer.putShort(2, (short)(5 + random.nextInt(60_000)), ByteOrder.LITTLE_ENDIAN);
                return length;
            }
            case WRONG_SCHEMA:
            {
                final int length = request(OWN_REPLY_STREAM, "echo", 8, TimeUnit.SECONDS.toNanos(1));
                buffer.putShort(4, (short)(RequestEncoder.SCHEMA_ID + 1 + random.nextInt(1000)), ByteOrder.LITTLE_ENDIAN);
                return length;
            }
            case WRONG_VERSION:
            {
                final int length = request(OWN_REPLY_STREAM, "echo", 8, TimeUnit.SECONDS.toNanos(1));
                buffer.putShort(6, (short)(RequestEncoder.SCHEMA_VERSION + 1 + random.nextInt(1000)), ByteOrder.LITTLE_ENDIAN);
                return length;
            }
            case ANNOUNCEMENT_ON_REQUEST_STREAM:
            {
                announcementEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
                    .schemaId(RequestEncoder.SCHEMA_ID)
                    .schemaVersion(RequestEncoder.SCHEMA_VERSION)
                    .language(Language.JAVA)
                    .pid(random.nextInt(1 << 22))
                    .requestStreamId(random.nextInt())
                    .regionId(random.nextLong())
                    .handlersCount(1).next().name("echo");
                announcementEncoder.workerId("hostile");
                announcementEncoder.requestChannel("");
                return MessageHeaderEncoder.ENCODED_LENGTH + announcementEncoder.encodedLength();
            }
            case REPLY_STREAM_ZERO:
                return request(0, "echo", random.nextInt(64), TimeUnit.SECONDS.toNanos(1));
            case REPLY_STREAM_NEGATIVE:
                return request(-1 - random.nextInt(Integer.MAX_VALUE), "echo", random.nextInt(64),
                    TimeUnit.SECONDS.toNanos(1));
            case REPLY_STREAM_UNSUBSCRIBED:
                return request(UNSUBSCRIBED_REPLY_STREAM_BASE + random.nextInt(UNSUBSCRIBED_REPLY_STREAMS), "echo",
                    random.nextInt(64), TimeUnit.SECONDS.toNanos(1));
            case REPLY_STREAM_RANDOM:
                // Anywhere from 4,000,000 up to the fresh request streams (2^30): a new stream nearly every time.
                return request(4_000_000 + random.nextInt(0x4000_0000 - 4_000_000), "echo", random.nextInt(64),
                    TimeUnit.SECONDS.toNanos(1));
            case DUPLICATE_CORRELATION_ID:
                return request(OWN_REPLY_STREAM, "echo", random.nextInt(64), TimeUnit.SECONDS.toNanos(1));
            case ENORMOUS_HANDLER_NAME:
                return request(OWN_REPLY_STREAM, null, random.nextInt(64), TimeUnit.SECONDS.toNanos(1));
            case UNKNOWN_HANDLER:
                return request(OWN_REPLY_STREAM, "no.such.handler." + random.nextInt(1000), random.nextInt(64),
                    TimeUnit.SECONDS.toNanos(1));
            case NEGATIVE_TIMEOUT:
                return request(OWN_REPLY_STREAM, "echo", random.nextInt(64), -1 - random.nextInt(Integer.MAX_VALUE));
            case INVALID_REPLY_CHANNEL:
                // Refused with BAD_REQUEST on the worker's own channel; never a valid remote endpoint, which
                // would make workers publish to a host of our choosing.
                return request(OWN_REPLY_STREAM, INVALID_REPLY_CHANNELS[random.nextInt(INVALID_REPLY_CHANNELS.length)],
                    "echo", random.nextInt(64), TimeUnit.SECONDS.toNanos(1));
            case CANCEL_REPLY_STREAM_ZERO:
                return cancel(0);
            case TRUNCATED_CANCEL:
                return 1 + random.nextInt(cancel(random.nextBoolean() ? 0 : OWN_REPLY_STREAM) - 1);
            case REGION_MISSING:
                // Pid 0x7fffffff is above Linux's pid_max: no such owner, no such file.
                return regionRequest(0x7FFF_FFFFL << 32 | (random.nextInt() & 0xFFFF_FFFFL), 0, 1 + random.nextInt(1 << 20), 0);
            case REGION_OUT_OF_BOUNDS:
            {
                final long regionId = announcedRegions.isEmpty() ? 0x7FFF_FFFF_0000_0001L :
                    announcedRegions.get(random.nextInt(announcedRegions.size()));
                switch (random.nextInt(4))
                {
                    case 0: // past the end of any region (they are at most 1 GiB)
                        return regionRequest(regionId, (1L << 30) + random.nextInt(1 << 20), 1 + random.nextInt(4096), 0);
                    case 1:
                        return regionRequest(regionId, -1 - random.nextInt(1 << 20), 4096, 0);
                    case 2:
                        return regionRequest(regionId, 0, -1 - random.nextInt(1 << 20), 0);
                    default: // offset + length overflows a signed 64-bit sum
                        return regionRequest(regionId, Long.MAX_VALUE - random.nextInt(4096), Long.MAX_VALUE, 0);
                }
            }
            case REGION_AND_INLINE_PAYLOAD:
                return regionRequest(announcedRegions.isEmpty() ? 0x7FFF_FFFF_0000_0001L : announcedRegions.get(0), 0,
                    4096, 1 + random.nextInt(64));
            case FORGED_PAYLOAD_RELEASE:
                return payloadRelease();
            case TRUNCATED_PAYLOAD_RELEASE:
                return 1 + random.nextInt(payloadRelease() - 1);
            default:
                throw new IllegalStateException("unknown kind " + kind);
        }
    }

    /** A well-formed Request; handler null: an enormous (65,534-byte) name. */
    private int request(final int replyStreamId, final String handler, final int payloadLength, final long timeoutNs)
    {
        return request(replyStreamId, "", handler, payloadLength, timeoutNs);
    }

    private int request(
        final int replyStreamId, final String replyChannel, final String handler, final int payloadLength, final long timeoutNs)
    {
        requestEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(nextCorrelationId++)
            .timeoutNs(timeoutNs)
            .replyStreamId(replyStreamId)
            .regionId(0)
            .regionOffset(0)
            .regionLength(0)
            .metadataCount(0);
        requestEncoder.replyChannel(replyChannel);
        if (handler == null)
        {
            requestEncoder.putHandler(enormousName, 0, enormousName.length);
        }
        else
        {
            requestEncoder.handler(handler);
        }
        final byte[] payload = new byte[payloadLength];
        random.nextBytes(payload);
        requestEncoder.putPayload(payload, 0, payloadLength);
        return MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength();
    }

    /** A Request to echo whose payload is said to lie in a region, answered BAD_REQUEST unless it is there. */
    private int regionRequest(final long regionId, final long offset, final long length, final int inlineLength)
    {
        final int frameLength = request(OWN_REPLY_STREAM, "echo", inlineLength, TimeUnit.SECONDS.toNanos(1));
        requestEncoder.regionId(regionId).regionOffset(offset).regionLength(length);
        return frameLength;
    }

    private int payloadRelease()
    {
        releaseEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(random.nextLong())
            .replyStreamId(OWN_REPLY_STREAM)
            .regionId(announcedRegions.isEmpty() ? random.nextLong() : announcedRegions.get(random.nextInt(announcedRegions.size())))
            .regionOffset(random.nextInt(1 << 16) * 4096L);
        return MessageHeaderEncoder.ENCODED_LENGTH + releaseEncoder.encodedLength();
    }

    private int cancel(final int replyStreamId)
    {
        cancelEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(random.nextLong())
            .replyStreamId(replyStreamId)
            .replyChannel("");
        return MessageHeaderEncoder.ENCODED_LENGTH + cancelEncoder.encodedLength();
    }

    /** The frame {@link #build(Kind)} wrote. */
    UnsafeBuffer frame()
    {
        return buffer;
    }

    Map<String, Long> sentByKind()
    {
        final Map<String, Long> counts = new TreeMap<>();
        sent.forEach((kind, count) -> counts.put(kind.name(), count.sum()));
        return counts;
    }

    Map<String, Long> refusedByKind()
    {
        final Map<String, Long> counts = new TreeMap<>();
        refused.forEach((kind, count) -> counts.put(kind.name(), count.sum()));
        return counts;
    }

    Map<String, Long> repliesByCode()
    {
        final Map<String, Long> counts = new TreeMap<>();
        replies.forEach((code, count) -> counts.put(code, count.sum()));
        return counts;
    }

    /** Request streams that two live processes announced at once, with their pids. */
    java.util.List<String> streamConflicts()
    {
        return streamConflicts.keySet().stream().sorted().toList();
    }

    /** The longest reply a worker sent to a hostile request (an error message may quote it). */
    int largestReply()
    {
        return largestReply;
    }

    long totalSent()
    {
        return sent.values().stream().mapToLong(LongAdder::sum).sum();
    }

    long clientErrors()
    {
        return clientErrors.sum();
    }

    String lastError()
    {
        return lastError;
    }
}
