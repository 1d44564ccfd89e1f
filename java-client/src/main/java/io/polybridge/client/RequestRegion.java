package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The client's request region: a file in the driver's directory (shared memory on tmpfs) that only this
 * client writes and workers map read-only, so a large payload is copied once, into it, and read where it
 * lies. Created at the first loan, not at connect: a client that never sends a large payload never costs
 * a file. Removed at {@link #close()}; a client killed before that leaves it to the next client's sweep.
 * <p>
 * Lending is first fit over whole 4096-byte blocks from the lowest offset, so the pages in use stay few
 * (tmpfs pages once touched stay resident until the file is removed); releases coalesce with free
 * neighbours. The free extents are a sorted pair of int arrays, searched under this object's monitor:
 * a loan is one per large payload, so a lock costs nothing next to the copy. Waiters for space wait on
 * the monitor and are woken by releases.
 */
final class RequestRegion implements AutoCloseable
{
    private final String aeronDirectoryName;
    private final int dataLength;
    private final int blocks;
    private final long ownerPid = ProcessHandle.current().pid();
    private long regionId;
    private MappedByteBuffer mapped; // null until the first loan
    private UnsafeBuffer data;
    private boolean closed;

    // Free extents in blocks, sorted by start, never adjacent (coalesced).
    private int[] freeStarts = new int[16];
    private int[] freeLengths = new int[16];
    private int freeCount;
    private long lentBytes;

    /**
     * @param aeronDirectoryName where the file goes (the driver's directory: shared memory).
     * @param dataLength         bytes that can be lent at once, a multiple of 4096.
     */
    RequestRegion(final String aeronDirectoryName, final int dataLength)
    {
        if (dataLength <= 0 || dataLength % PayloadRegionFiles.BLOCK_LENGTH != 0)
        {
            throw new IllegalArgumentException("a region's data length is a positive multiple of " +
                PayloadRegionFiles.BLOCK_LENGTH + ", was " + dataLength);
        }
        this.aeronDirectoryName = aeronDirectoryName;
        this.dataLength = dataLength;
        this.blocks = dataLength / PayloadRegionFiles.BLOCK_LENGTH;
        this.regionId = newRegionId(ownerPid);
        freeStarts[0] = 0;
        freeLengths[0] = blocks;
        freeCount = 1;
    }

    static long newRegionId(final long pid)
    {
        long nonce = 0;
        while (nonce == 0)
        {
            nonce = ThreadLocalRandom.current().nextInt() & 0xFFFF_FFFFL;
        }
        return (pid << 32) | nonce;
    }

    synchronized long regionId()
    {
        return regionId;
    }

    /** @return the file, whether or not it exists yet. */
    synchronized Path path()
    {
        return PayloadRegionFiles.path(aeronDirectoryName, regionId);
    }

    int dataLength()
    {
        return dataLength;
    }

    synchronized long lentBytes()
    {
        return lentBytes;
    }

    /** @return the data area, writable; valid (mapped) once a loan was made. */
    synchronized UnsafeBuffer data()
    {
        return data;
    }

    /** @return the whole mapping (kept reachable by every view handed out), null before the first loan. */
    synchronized MappedByteBuffer mapped()
    {
        return mapped;
    }

    /**
     * Lend length bytes (rounded up to whole blocks), waiting for space when asked to.
     *
     * @param length     bytes, at least 1 and at most the data length.
     * @param deadlineNs until when to wait ({@link System#nanoTime()} clock).
     * @param wait       whether to wait for releases when full, else fail at once.
     * @return the offset of the loan in the data area, or -1 when no space came in time.
     * @throws PolybridgeException when the file cannot be created (no space on its filesystem, ...) or
     *                             the region is closed.
     */
    synchronized int lend(final int length, final long deadlineNs, final boolean wait)
    {
        if (length <= 0 || length > dataLength)
        {
            throw new IllegalArgumentException("a loan is 1 to " + dataLength + " bytes (payloadRegionSize), not " +
                length);
        }
        final int needed = (int)((length + (long)PayloadRegionFiles.BLOCK_LENGTH - 1) / PayloadRegionFiles.BLOCK_LENGTH);
        while (true)
        {
            if (closed)
            {
                throw new PolybridgeException(ErrorCode.WORKER_UNAVAILABLE, "the client was closed");
            }
            if (mapped == null)
            {
                create();
            }
            final int offset = takeFirstFit(needed);
            if (offset >= 0)
            {
                lentBytes += (long)needed * PayloadRegionFiles.BLOCK_LENGTH;
                return offset;
            }
            final long leftNs = deadlineNs - System.nanoTime();
            if (!wait || leftNs <= 0)
            {
                return -1;
            }
            try
            {
                TimeUnit.NANOSECONDS.timedWait(this, leftNs);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return -1;
            }
        }
    }

    /** Give a loan back; wakes callers waiting for space. */
    synchronized void release(final int offset, final int length)
    {
        final int start = offset / PayloadRegionFiles.BLOCK_LENGTH;
        final int count = (int)((length + (long)PayloadRegionFiles.BLOCK_LENGTH - 1) / PayloadRegionFiles.BLOCK_LENGTH);
        if (offset % PayloadRegionFiles.BLOCK_LENGTH != 0 || count <= 0 || start < 0 || start + count > blocks)
        {
            throw new IllegalArgumentException("no loan of " + length + " bytes at " + offset);
        }
        int i = 0; // first free extent after start
        while (i < freeCount && freeStarts[i] < start)
        {
            i++;
        }
        if ((i > 0 && freeStarts[i - 1] + freeLengths[i - 1] > start) || (i < freeCount && start + count > freeStarts[i]))
        {
            throw new IllegalStateException("released twice: " + length + " bytes at " + offset);
        }
        final boolean joinsPrevious = i > 0 && freeStarts[i - 1] + freeLengths[i - 1] == start;
        final boolean joinsNext = i < freeCount && start + count == freeStarts[i];
        if (joinsPrevious && joinsNext)
        {
            freeLengths[i - 1] += count + freeLengths[i];
            removeExtent(i);
        }
        else if (joinsPrevious)
        {
            freeLengths[i - 1] += count;
        }
        else if (joinsNext)
        {
            freeStarts[i] = start;
            freeLengths[i] += count;
        }
        else
        {
            insertExtent(i, start, count);
        }
        lentBytes -= (long)count * PayloadRegionFiles.BLOCK_LENGTH;
        notifyAll();
    }

    /** @return the free extents as {start block, block count} pairs, lowest first (tests). */
    synchronized int[][] freeExtents()
    {
        final int[][] extents = new int[freeCount][];
        for (int i = 0; i < freeCount; i++)
        {
            extents[i] = new int[]{freeStarts[i], freeLengths[i]};
        }
        return extents;
    }

    /** Unlink the file; mappings handed out stay valid until collected (never unmapped under a user's view). */
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        notifyAll();
        if (mapped != null)
        {
            try
            {
                Files.deleteIfExists(path());
            }
            catch (final IOException ex)
            {
                // the next client's sweep removes it
            }
        }
    }

    private int takeFirstFit(final int needed)
    {
        for (int i = 0; i < freeCount; i++)
        {
            if (freeLengths[i] >= needed)
            {
                final int start = freeStarts[i];
                if (freeLengths[i] == needed)
                {
                    removeExtent(i);
                }
                else
                {
                    freeStarts[i] += needed;
                    freeLengths[i] -= needed;
                }
                return start * PayloadRegionFiles.BLOCK_LENGTH;
            }
        }
        return -1;
    }

    private void removeExtent(final int i)
    {
        System.arraycopy(freeStarts, i + 1, freeStarts, i, freeCount - i - 1);
        System.arraycopy(freeLengths, i + 1, freeLengths, i, freeCount - i - 1);
        freeCount--;
    }

    private void insertExtent(final int i, final int start, final int count)
    {
        if (freeCount == freeStarts.length)
        {
            freeStarts = java.util.Arrays.copyOf(freeStarts, freeCount * 2);
            freeLengths = java.util.Arrays.copyOf(freeLengths, freeCount * 2);
        }
        System.arraycopy(freeStarts, i, freeStarts, i + 1, freeCount - i);
        System.arraycopy(freeLengths, i, freeLengths, i + 1, freeCount - i);
        freeStarts[i] = start;
        freeLengths[i] = count;
        freeCount++;
    }

    /**
     * Create the file owner-only (0600) and exclusively (a file of the same name is a stale one of a
     * recycled pid: pick another id, it was never used), check the filesystem can hold it (tmpfs is
     * sparse: touching a page beyond its free space is SIGBUS, a JVM crash), map it and write the header.
     */
    private void create()
    {
        final Path dir = Paths.get(aeronDirectoryName);
        final long fileLength = PayloadRegionFiles.HEADER_LENGTH + (long)dataLength;
        for (int attempt = 0; ; attempt++)
        {
            final Path file = PayloadRegionFiles.path(aeronDirectoryName, regionId);
            try
            {
                final long usable = Files.getFileStore(dir).getUsableSpace();
                if (usable < fileLength)
                {
                    throw new PolybridgeException(ErrorCode.OVERLOADED, "cannot create the payload region " + file +
                        ": its filesystem has " + usable + " bytes free, the region needs " + fileLength +
                        "; lower PolybridgeClient.Context.payloadRegionSize (polybridge.client.payloadRegionSize) " +
                        "or free space there");
                }
                try (FileChannel channel = FileChannel.open(file,
                    java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))
                {
                    mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, fileLength); // extends the file, sparse
                }
                catch (final IOException | RuntimeException ex)
                {
                    if (!(ex instanceof FileAlreadyExistsException))
                    {
                        Files.deleteIfExists(file);
                    }
                    throw ex;
                }
                PayloadRegionFiles.writeHeader(new UnsafeBuffer(mapped, 0, PayloadRegionFiles.HEADER_LENGTH),
                    regionId, ownerPid, dataLength);
                data = new UnsafeBuffer(mapped, PayloadRegionFiles.HEADER_LENGTH, dataLength);
                return;
            }
            catch (final FileAlreadyExistsException ex)
            {
                if (attempt >= 8)
                {
                    throw new PolybridgeException(ErrorCode.OVERLOADED, "cannot create a payload region in " +
                        aeronDirectoryName + ": every name tried exists");
                }
                regionId = newRegionId(ownerPid);
            }
            catch (final IOException ex)
            {
                final PolybridgeException failure = new PolybridgeException(ErrorCode.OVERLOADED,
                    "cannot create the payload region " + file + ": " + ex);
                failure.initCause(ex);
                throw failure;
            }
        }
    }

    /** @return a writable view of [offset, offset + length) of the data area; it keeps the mapping reachable. */
    synchronized ByteBuffer byteBuffer(final int offset, final int length)
    {
        final int at = PayloadRegionFiles.HEADER_LENGTH + offset;
        return mapped.duplicate().limit(at + length).position(at).slice(); // a slice references its parent mapping
    }
}
