package io.polybridge.client;

import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * What every language agrees on about a payload region file (docs/payloads.md): its name
 * {@code <aeron dir>/polybridge-payloads-<regionId as 16 hex digits>}, its 4096-byte little-endian header,
 * and the clean-up of files whose owner died (a SIGKILLed process cannot remove its own).
 */
final class PayloadRegionFiles
{
    static final String PREFIX = "polybridge-payloads-";
    static final byte[] MAGIC = "PBREGION".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int HEADER_LENGTH = 4096;
    /** Loans are whole blocks, so offsets are page aligned and the allocator's lists stay short. */
    static final int BLOCK_LENGTH = 4096;
    /** The largest data area a reader maps: bounds what a lying file could make it map. */
    static final long MAX_DATA_LENGTH = 1L << 30;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int HEADER_LENGTH_OFFSET = 12;
    static final int REGION_ID_OFFSET = 16;
    static final int OWNER_PID_OFFSET = 24;
    static final int DATA_LENGTH_OFFSET = 32;

    private PayloadRegionFiles()
    {
    }

    static Path path(final String aeronDirectoryName, final long regionId)
    {
        return Paths.get(aeronDirectoryName, fileName(regionId));
    }

    static String fileName(final long regionId)
    {
        return PREFIX + String.format("%016x", regionId);
    }

    static long ownerPid(final long regionId)
    {
        return regionId >>> 32;
    }

    static void writeHeader(final UnsafeBuffer header, final long regionId, final long ownerPid, final long dataLength)
    {
        header.putBytes(MAGIC_OFFSET, MAGIC);
        header.putInt(VERSION_OFFSET, VERSION, ByteOrder.LITTLE_ENDIAN);
        header.putInt(HEADER_LENGTH_OFFSET, HEADER_LENGTH, ByteOrder.LITTLE_ENDIAN);
        header.putLong(REGION_ID_OFFSET, regionId, ByteOrder.LITTLE_ENDIAN);
        header.putLong(OWNER_PID_OFFSET, ownerPid, ByteOrder.LITTLE_ENDIAN);
        header.putLong(DATA_LENGTH_OFFSET, dataLength, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param header   at least the first {@link #HEADER_LENGTH} bytes of the file.
     * @param fileSize the file's size.
     * @return null when the header describes region regionId of this file size, else what is wrong.
     */
    static String checkHeader(final UnsafeBuffer header, final long regionId, final long fileSize)
    {
        for (int i = 0; i < MAGIC.length; i++)
        {
            if (header.getByte(MAGIC_OFFSET + i) != MAGIC[i])
            {
                return "no PBREGION magic";
            }
        }
        final int version = header.getInt(VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN);
        if (version != VERSION)
        {
            return "version " + version + ", expected " + VERSION;
        }
        final int headerLength = header.getInt(HEADER_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
        if (headerLength != HEADER_LENGTH)
        {
            return "header length " + headerLength + ", expected " + HEADER_LENGTH;
        }
        final long headerRegionId = header.getLong(REGION_ID_OFFSET, ByteOrder.LITTLE_ENDIAN);
        if (headerRegionId != regionId)
        {
            return "header names region " + String.format("%016x", headerRegionId);
        }
        final long dataLength = header.getLong(DATA_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
        if (dataLength != fileSize - HEADER_LENGTH)
        {
            return "dataLength " + dataLength + " but the file has " + (fileSize - HEADER_LENGTH) + " bytes of data";
        }
        return null;
    }

    /**
     * Remove the region files of owners that no longer run: a SIGKILLed JVM or worker leaves its file
     * behind, and on tmpfs that is memory. Best effort: an unreadable directory sweeps nothing.
     *
     * @return how many files were removed.
     */
    static int sweepDeadOwners(final String aeronDirectoryName)
    {
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(Paths.get(aeronDirectoryName), PREFIX + "*"))
        {
            for (final Path file : files)
            {
                final long regionId = parseRegionId(file.getFileName().toString());
                if (regionId != 0 && !isRunning(ownerPid(regionId)) && Files.deleteIfExists(file))
                {
                    removed++;
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // no directory yet, or a race with another sweeper: nothing to do
        }
        return removed;
    }

    /** The supervisor saw a worker it spawned exit: its region files go with it. */
    static void removeOwnedBy(final String aeronDirectoryName, final long pid)
    {
        if (pid <= 0 || pid > 0xFFFF_FFFFL)
        {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(
            Paths.get(aeronDirectoryName), PREFIX + String.format("%08x", pid) + "*"))
        {
            for (final Path file : files)
            {
                if (parseRegionId(file.getFileName().toString()) != 0)
                {
                    Files.deleteIfExists(file);
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // best effort, as for the doorbell beside it
        }
    }

    /** @return the region id a file name carries, or 0 when it is not a region file's name. */
    static long parseRegionId(final String fileName)
    {
        if (!fileName.startsWith(PREFIX) || fileName.length() != PREFIX.length() + 16)
        {
            return 0;
        }
        try
        {
            return Long.parseUnsignedLong(fileName.substring(PREFIX.length()), 16);
        }
        catch (final NumberFormatException ex)
        {
            return 0;
        }
    }

    private static boolean isRunning(final long pid)
    {
        if (Files.isDirectory(Paths.get("/proc/self")))
        {
            return Files.exists(Paths.get("/proc", Long.toString(pid)));
        }
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }
}
