package io.polybridge.client;

import io.polybridge.codecs.Language;

import java.util.List;

/**
 * What a worker said about itself in its announcement.
 *
 * @param workerId        the worker's name, unique among the workers of one driver.
 * @param language        the language it is written in.
 * @param pid             its process id.
 * @param requestStreamId the stream it takes requests on.
 * @param handlers        the handler names it serves.
 * @param schemaId        the SBE schema id it was built with.
 * @param schemaVersion   the SBE schema version it was built with.
 * @param requestChannel  where its requests go: the request channel it announced, or the channel its
 *                        announcement was heard on when it announced none (IPC workers).
 * @param regionId        its payload region, where its large responses lie (the client gives them back
 *                        to it by this id); 0 when it lends none.
 */
public record WorkerInfo(
    String workerId,
    Language language,
    long pid,
    int requestStreamId,
    List<String> handlers,
    int schemaId,
    int schemaVersion,
    String requestChannel,
    long regionId)
{
}
