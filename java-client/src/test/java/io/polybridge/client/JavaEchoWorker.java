package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.RequestDecoder;
import io.polybridge.codecs.ResponseEncoder;
import io.polybridge.codecs.WorkerAnnouncementEncoder;
import org.agrona.CloseHelper;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.util.HashMap;
import java.util.Map;

/**
 * An echo worker on a thread of the test JVM, speaking the protocol like the Go and Rust
 * workers, for tests whose subject is the client (the Reactive Streams TCK runs hundreds of
 * publishers; a process per test would only add noise).
 */
final class JavaEchoWorker implements AutoCloseable
{
    static final String WORKER_ID = "java-echo";
    static final int REQUEST_STREAM = 400;

    private final Aeron aeron;
    private final Subscription requests;
    private final Publication control;
    private final Int2ObjectHashMap<Publication> replies = new Int2ObjectHashMap<>();
    private final Map<String, Publication> remoteReplies = new HashMap<>(); // "channel stream" -> exclusive
    private final String advertisedRequestChannel;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RequestDecoder requestDecoder = new RequestDecoder();
    private final ResponseEncoder responseEncoder = new ResponseEncoder();
    private final ExpandableDirectByteBuffer out = new ExpandableDirectByteBuffer(4096);
    private final Thread thread;
    private final String workerId;
    private final int requestStream;
    private final int schemaVersion;
    private volatile boolean running = true;

    JavaEchoWorker(final String aeronDirectory)
    {
        this(aeronDirectory, WORKER_ID, REQUEST_STREAM, WorkerAnnouncementEncoder.SCHEMA_VERSION);
    }

    /** An echo worker under another name and stream, announcing any schema version it is told to. */
    JavaEchoWorker(final String aeronDirectory, final String workerId, final int requestStream, final int schemaVersion)
    {
        this(aeronDirectory, workerId, requestStream, schemaVersion, "aeron:ipc", "aeron:ipc");
    }

    /**
     * An echo worker taking requests on {@code requestChannel} (announced unless IPC) and announcing on
     * {@code announceChannel}, replying to a Request's replyChannel (with term-length=16m, as the SDK
     * workers' default --reply-channel-params) or, when it is empty, over IPC.
     */
    JavaEchoWorker(
        final String aeronDirectory,
        final String workerId,
        final int requestStream,
        final int schemaVersion,
        final String requestChannel,
        final String announceChannel)
    {
        this.workerId = workerId;
        this.requestStream = requestStream;
        this.schemaVersion = schemaVersion;
        this.advertisedRequestChannel = requestChannel.startsWith("aeron:ipc") ? "" : requestChannel;
        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectory));
        requests = aeron.addSubscription(requestChannel, requestStream);
        control = aeron.addPublication(announceChannel, 10);
        thread = new Thread(this::run, workerId);
        thread.setDaemon(true);
        thread.start();
    }

    private void run()
    {
        final FragmentAssembler assembler = new FragmentAssembler((buffer, offset, length, header) ->
        {
            headerDecoder.wrap(buffer, offset);
            if (headerDecoder.templateId() != RequestDecoder.TEMPLATE_ID)
            {
                return; // a Cancel: echo is instant, nothing to stop
            }
            requestDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder);
            final long correlationId = requestDecoder.correlationId();
            final int replyStreamId = requestDecoder.replyStreamId();
            for (final RequestDecoder.MetadataDecoder entry : requestDecoder.metadata())
            {
                entry.skipKey(); // schema v2: the metadata group comes before the handler
                entry.skipValue();
            }
            final String replyChannel = requestDecoder.replyChannel();
            requestDecoder.skipHandler();
            final int payloadLength = requestDecoder.payloadLength();
            responseEncoder.wrapAndApplyHeader(out, 0, headerEncoder)
                .correlationId(correlationId).errorCode(ErrorCode.OK)
                .regionId(0).regionOffset(0).regionLength(0) // inline: written, since the buffer is reused
                .errorMessage("");
            out.putInt(responseEncoder.limit(), payloadLength, java.nio.ByteOrder.LITTLE_ENDIAN);
            final int payloadAt = responseEncoder.limit() + 4;
            out.putBytes(payloadAt, buffer, requestDecoder.limit() + 4, payloadLength);
            final Publication reply = replyChannel.isEmpty() ?
                replies.computeIfAbsent(replyStreamId, (id) -> aeron.addPublication("aeron:ipc", id)) :
                remoteReplies.computeIfAbsent(replyChannel + " " + replyStreamId,
                    (key) -> aeron.addExclusivePublication(replyChannel + "|term-length=16m", replyStreamId));
            while (running && reply.offer(out, 0, payloadAt + payloadLength) < 0)
            {
                Thread.onSpinWait();
            }
        });
        final IdleStrategy idle = new BackoffIdleStrategy();
        long nextAnnouncementNs = 0;
        while (running)
        {
            if (System.nanoTime() - nextAnnouncementNs > 0)
            {
                announce();
                nextAnnouncementNs = System.nanoTime() + 100_000_000L;
            }
            idle.idle(requests.poll(assembler, 64));
        }
    }

    private void announce()
    {
        final WorkerAnnouncementEncoder encoder = new WorkerAnnouncementEncoder()
            .wrapAndApplyHeader(out, 0, headerEncoder)
            .schemaId(WorkerAnnouncementEncoder.SCHEMA_ID).schemaVersion(schemaVersion)
            .language(Language.JAVA).pid(ProcessHandle.current().pid()).requestStreamId(requestStream);
        encoder.handlersCount(1).next().name("echo");
        encoder.workerId(workerId);
        encoder.requestChannel(advertisedRequestChannel);
        control.offer(out, 0, MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength());
    }

    public void close()
    {
        running = false;
        try
        {
            thread.join();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        CloseHelper.closeAll(replies.values());
        CloseHelper.closeAll(remoteReplies.values());
        CloseHelper.closeAll(control, requests, aeron);
    }
}
