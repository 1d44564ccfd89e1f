package io.polybridge.client;

/**
 * A supervisor's report that the process behind a request stream has exited.
 *
 * @param requestStreamId the stream it served.
 * @param pid             its process id; a report about a predecessor of the announced process is ignored.
 * @param reason          what happened, for the failed calls' messages.
 */
record WorkerDeath(int requestStreamId, long pid, String reason)
{
}
