package io.polybridge.client;

import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Maps the workers' response regions read-only, once per region (cached by region id), and checks every
 * reference against the mapping before anything reads it: a worker's bug must fail one call, never
 * crash the JVM. Mappings are never unmapped here: a user's view may still point into one, and an
 * unmapped page read is a JVM crash; they go when the last view is collected. Agent thread only.
 */
final class RegionReader
{
    /** A worker's region, mapped. */
    static final class Mapping
    {
        final long regionId;
        final Path path;
        final MappedByteBuffer mapped;
        final long dataLength;

        Mapping(final long regionId, final Path path, final MappedByteBuffer mapped, final long dataLength)
        {
            this.regionId = regionId;
            this.path = path;
            this.mapped = mapped;
            this.dataLength = dataLength;
        }

        /** @return a read-only view of [offset, offset + length) of the data area, referencing the mapping. */
        ByteBuffer view(final long offset, final int length)
        {
            final int at = PayloadRegionFiles.HEADER_LENGTH + (int)offset;
            return mapped.duplicate().limit(at + length).position(at).slice().asReadOnlyBuffer();
        }
    }

    /** Why a region reference cannot be read: the message says which file, which bounds. */
    static final class RegionException extends Exception
    {
        private static final long serialVersionUID = 1L;

        RegionException(final String message)
        {
            super(message, null, false, false);
        }
    }

    private final String aeronDirectoryName;
    private final Long2ObjectHashMap<Mapping> mappings = new Long2ObjectHashMap<>();

    RegionReader(final String aeronDirectoryName)
    {
        this.aeronDirectoryName = aeronDirectoryName;
    }

    /**
     * @return the mapping of region regionId holding [offset, offset + length) of its data.
     * @throws RegionException when the file is missing or not a valid region, or the range is outside it.
     */
    Mapping map(final long regionId, final long offset, final long length) throws RegionException
    {
        Mapping mapping = mappings.get(regionId);
        if (mapping == null)
        {
            mapping = open(aeronDirectoryName, regionId);
            mappings.put(regionId, mapping);
        }
        final String outside = checkBounds(offset, length, mapping.dataLength);
        if (outside != null)
        {
            throw new RegionException("region reference " + outside + " in " + mapping.path);
        }
        return mapping;
    }

    /** The region's owner is gone: drop the mapping (collected once no view references it). */
    void forget(final long regionId)
    {
        mappings.remove(regionId);
    }

    int mapped()
    {
        return mappings.size();
    }

    /** @return null when [offset, offset + length) lies within a data area of dataLength bytes, else why not. */
    static String checkBounds(final long offset, final long length, final long dataLength)
    {
        if (offset < 0 || length < 0 || length > Integer.MAX_VALUE || offset > dataLength - length)
        {
            return "[" + offset + ", " + offset + " + " + length + ") is outside the data area of " + dataLength +
                " bytes";
        }
        return null;
    }

    static Mapping open(final String aeronDirectoryName, final long regionId) throws RegionException
    {
        final Path path = PayloadRegionFiles.path(aeronDirectoryName, regionId);
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ))
        {
            final long size = channel.size();
            if (size < PayloadRegionFiles.HEADER_LENGTH ||
                size > PayloadRegionFiles.HEADER_LENGTH + PayloadRegionFiles.MAX_DATA_LENGTH)
            {
                throw new RegionException("payload region " + path + " has " + size + " bytes: not between " +
                    PayloadRegionFiles.HEADER_LENGTH + " and " +
                    (PayloadRegionFiles.HEADER_LENGTH + PayloadRegionFiles.MAX_DATA_LENGTH));
            }
            final MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
            final String bad = PayloadRegionFiles.checkHeader(
                new UnsafeBuffer(mapped, 0, PayloadRegionFiles.HEADER_LENGTH), regionId, size);
            if (bad != null)
            {
                throw new RegionException("payload region " + path + " has a bad header: " + bad);
            }
            return new Mapping(regionId, path, mapped, size - PayloadRegionFiles.HEADER_LENGTH);
        }
        catch (final NoSuchFileException ex)
        {
            throw new RegionException("payload region " + path + " does not exist");
        }
        catch (final IOException ex)
        {
            throw new RegionException("payload region " + path + " cannot be mapped: " + ex);
        }
    }
}
