package io.polybridge.client;

import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.polybridge.codecs.MessageHeaderDecoder;
import io.polybridge.codecs.WorkerAnnouncementDecoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Polls the control stream and turns each {@code WorkerAnnouncement} into a {@link WorkerInfo} for the
 * agent. Announcements are rare (one per worker per interval), so each is copied to an exact-size
 * buffer first: the codec's bounds checks then reject lying lengths instead of reading the rest of the
 * term. Anything else is dropped and counted. Agent thread only.
 */
final class AnnouncementAdapter
{
    private static final int HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;

    private final Subscription subscription;
    private final String channel;
    private final Consumer<WorkerInfo> handler;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final WorkerAnnouncementDecoder announcementDecoder = new WorkerAnnouncementDecoder();
    private final FragmentHandler fragmentHandler = this::onFragment;
    private volatile long malformedFrames;

    /**
     * @param subscription the control stream on one announce channel.
     * @param channel      that channel: where requests go to workers whose announcement names no request channel.
     * @param handler      given each announcement.
     */
    AnnouncementAdapter(final Subscription subscription, final String channel, final Consumer<WorkerInfo> handler)
    {
        this.subscription = subscription;
        this.channel = channel;
        this.handler = handler;
    }

    int poll(final int fragmentLimit)
    {
        return subscription.poll(fragmentHandler, fragmentLimit);
    }

    long malformedFrames()
    {
        return malformedFrames;
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final WorkerInfo info;
        try
        {
            info = decode(buffer, offset, length);
        }
        catch (final IndexOutOfBoundsException ex)
        {
            malformedFrames = malformedFrames + 1;
            return;
        }
        if (info == null)
        {
            malformedFrames = malformedFrames + 1;
            return;
        }
        handler.accept(info);
    }

    private WorkerInfo decode(final DirectBuffer buffer, final int offset, final int length)
    {
        final byte[] frame = new byte[length];
        buffer.getBytes(offset, frame);
        final UnsafeBuffer exact = new UnsafeBuffer(frame);
        if (length < HEADER_LENGTH)
        {
            throw new IndexOutOfBoundsException("frame shorter than a message header");
        }
        headerDecoder.wrap(exact, 0);
        if (headerDecoder.schemaId() != WorkerAnnouncementDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != WorkerAnnouncementDecoder.TEMPLATE_ID)
        {
            return null;
        }
        announcementDecoder.wrapAndApplyHeader(exact, 0, headerDecoder);
        final int schemaId = announcementDecoder.schemaId();
        final int schemaVersion = announcementDecoder.schemaVersion();
        final var language = announcementDecoder.language();
        final long pid = announcementDecoder.pid();
        final int requestStreamId = announcementDecoder.requestStreamId();
        final long regionId = announcementDecoder.regionId();
        final List<String> handlers = new ArrayList<>();
        for (final WorkerAnnouncementDecoder.HandlersDecoder handler : announcementDecoder.handlers())
        {
            handlers.add(handler.name());
        }
        final int workerIdLength = announcementDecoder.workerIdLength();
        final byte[] workerId = new byte[workerIdLength];
        announcementDecoder.getWorkerId(workerId, 0, workerIdLength);
        final String requestChannel = announcementDecoder.requestChannel();
        if (!requestChannel.isEmpty() && !requestChannel.startsWith("aeron:"))
        {
            return null; // not a channel requests could go to
        }
        return new WorkerInfo(new String(workerId, StandardCharsets.UTF_8), language, pid, requestStreamId,
            List.copyOf(handlers), schemaId, schemaVersion, requestChannel.isEmpty() ? channel : requestChannel, regionId);
    }
}
