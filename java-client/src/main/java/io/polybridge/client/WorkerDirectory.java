package io.polybridge.client;

import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The workers the client knows: each announcement by worker id, each request stream's
 * {@link WorkerLink}, and the deaths supervisors report. The client agent writes it (from
 * announcements, missed heartbeats and death reports); any thread reads it to find or route to a
 * worker. Owned by the agent, which creates it.
 */
final class WorkerDirectory
{
    private final Map<String, WorkerInfo> workersById = new ConcurrentHashMap<>();
    private final Map<Integer, WorkerLink> linksByStreamId = new ConcurrentHashMap<>();
    private final ManyToOneConcurrentArrayQueue<WorkerDeath> deaths = new ManyToOneConcurrentArrayQueue<>(1024);
    private final List<WorkerLink> agentLinks = new ArrayList<>(); // agent thread: iterated without allocating
    private final org.agrona.collections.Long2ObjectHashMap<WorkerLink> linksByRegionId =
        new org.agrona.collections.Long2ObjectHashMap<>(); // agent thread

    /** Any thread: a worker's latest announcement, or null. */
    WorkerInfo worker(final String workerId)
    {
        return workersById.get(workerId);
    }

    /** Any thread: the ids announced so far. */
    Collection<String> workerIds()
    {
        return workersById.keySet();
    }

    /** Any thread: every announcement so far. */
    Collection<WorkerInfo> workers()
    {
        return List.copyOf(workersById.values());
    }

    /** Any thread: the worker behind a request stream, or null before anything announced itself there. */
    WorkerLink link(final int requestStreamId)
    {
        return linksByStreamId.get(requestStreamId);
    }

    /** Any thread: every request stream's link. */
    Collection<WorkerLink> links()
    {
        return linksByStreamId.values();
    }

    /** Any thread: queue a supervisor's death report for the agent. */
    boolean offerDeath(final WorkerDeath death)
    {
        return deaths.offer(death);
    }

    /** Agent thread. */
    /** @return deaths reported and not yet drained (the agent does not sleep on them). */
    int deathsQueued()
    {
        return deaths.size();
    }

    int drainDeaths(final Consumer<WorkerDeath> handler)
    {
        return deaths.drain(handler);
    }

    /** Agent thread: the link of a request stream, created on its first announcement. */
    WorkerLink linkFor(final int requestStreamId)
    {
        WorkerLink link = linksByStreamId.get(requestStreamId);
        if (link == null)
        {
            link = new WorkerLink(requestStreamId);
            agentLinks.add(link);
        }
        return link;
    }

    /** Agent thread: publish an accepted announcement. */
    void announced(final WorkerLink link, final WorkerInfo info)
    {
        linksByStreamId.put(link.requestStreamId, link);
        workersById.put(info.workerId(), info);
        if (info.regionId() != 0)
        {
            linksByRegionId.put(info.regionId(), link);
        }
    }

    /** Agent thread: the worker whose announcement named this payload region, or null. */
    WorkerLink linkByRegionId(final long regionId)
    {
        return linksByRegionId.get(regionId);
    }

    /** Agent thread: the links, as a list that iterates without allocating. */
    List<WorkerLink> agentLinks()
    {
        return agentLinks;
    }
}
