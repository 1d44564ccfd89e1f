package io.polybridge.client;

import io.aeron.Publication;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.PayloadReleaseEncoder;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Gives one lent response payload back to its worker: a {@code PayloadRelease} on the worker's request
 * stream (the publication its requests go to). Built when the payload is handed out, sent when its
 * reader is done: by the agent at once for the byte[] API, or by whoever closes a {@link PayloadView}.
 * A release lost to back pressure for long (the worker not reading) only keeps the worker's loan until
 * it stops serving this client.
 */
final class ReleaseSender
{
    static final int LENGTH = MessageHeaderEncoder.ENCODED_LENGTH + PayloadReleaseEncoder.BLOCK_LENGTH;
    private static final int ATTEMPTS = 10_000;

    private final Publication publication;
    private final long correlationId;
    private final int replyStreamId;
    private final long regionId;
    private final long regionOffset;

    ReleaseSender(
        final Publication publication,
        final long correlationId,
        final int replyStreamId,
        final long regionId,
        final long regionOffset)
    {
        this.publication = publication;
        this.correlationId = correlationId;
        this.replyStreamId = replyStreamId;
        this.regionId = regionId;
        this.regionOffset = regionOffset;
    }

    boolean send()
    {
        return send(new UnsafeBuffer(new byte[LENGTH]), publication, correlationId, replyStreamId, regionId,
            regionOffset);
    }

    /** @return whether it was published (false: closed, not connected, or back pressured for long). */
    static boolean send(
        final UnsafeBuffer scratch,
        final Publication publication,
        final long correlationId,
        final int replyStreamId,
        final long regionId,
        final long regionOffset)
    {
        if (publication == null)
        {
            return false;
        }
        new PayloadReleaseEncoder().wrapAndApplyHeader(scratch, 0, new MessageHeaderEncoder())
            .correlationId(correlationId)
            .replyStreamId(replyStreamId)
            .regionId(regionId)
            .regionOffset(regionOffset);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++)
        {
            final long result = publication.offer(scratch, 0, LENGTH);
            if (result > 0)
            {
                return true;
            }
            if (result == Publication.CLOSED || result == Publication.NOT_CONNECTED ||
                result == Publication.MAX_POSITION_EXCEEDED)
            {
                return false;
            }
            Thread.yield();
        }
        return false;
    }
}
