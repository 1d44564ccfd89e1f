package io.polybridge.chaos;

import io.aeron.CncFileDescriptor;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * leaked_shm_bytes: entries of /dev/shm that did not exist before the run and still exist after
 * everything it started has stopped. Other people's processes create entries there too (other
 * tests on the same machine), so an entry counts as the run's only if it is the run's driver
 * directory, has the run's name prefix, or is an Aeron directory whose cnc.dat names one of the
 * run's processes as its driver (an embedded driver in the host, say). Other new entries are listed
 * in the report as foreign and left alone. Bytes are apparent sizes (the sum of file lengths).
 */
final class SharedMemory
{
    /** One new entry of the shared-memory directory. */
    record Entry(String name, long bytes, long driverPid, boolean ours)
    {
    }

    private SharedMemory()
    {
    }

    /** Where Aeron puts its directories: /dev/shm on Linux, else the temporary directory. */
    static Path root()
    {
        final Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    static Set<String> snapshot()
    {
        final Set<String> names = new HashSet<>();
        try (Stream<Path> entries = Files.list(root()))
        {
            entries.forEach((entry) -> names.add(entry.getFileName().toString()));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("could not list " + root(), ex);
        }
        return names;
    }

    /**
     * @param before     {@link #snapshot()} taken before the run.
     * @param ourPrefix  names the run gives its directories.
     * @param ourPids    every process of the run.
     * @return entries that are new since the snapshot, each marked ours or not.
     */
    static List<Entry> newEntries(final Set<String> before, final String ourPrefix, final Collection<Long> ourPids)
    {
        final List<Entry> entries = new ArrayList<>();
        for (final String name : snapshot())
        {
            if (before.contains(name))
            {
                continue;
            }
            final Path path = root().resolve(name);
            final long driverPid = driverPid(path);
            final boolean ours = name.startsWith(ourPrefix) || (driverPid > 0 && ourPids.contains(driverPid));
            entries.add(new Entry(name, bytes(path), driverPid, ours));
        }
        return entries;
    }

    /** The pid cnc.dat records for the driver that created the directory, or -1. */
    static long driverPid(final Path dir)
    {
        final Path cnc = dir.resolve(CncFileDescriptor.CNC_FILE);
        try
        {
            if (!Files.isRegularFile(cnc) || Files.size(cnc) < CncFileDescriptor.END_OF_METADATA_OFFSET)
            {
                return -1;
            }
            final MappedByteBuffer mapped = IoUtil.mapExistingFile(cnc.toFile(), "cnc");
            try
            {
                final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(mapped);
                return CncFileDescriptor.pid(metaData);
            }
            finally
            {
                IoUtil.unmap(mapped);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return -1;
        }
    }

    /** Apparent size of a file or directory tree; entries vanishing meanwhile count zero. */
    static long bytes(final Path path)
    {
        try (Stream<Path> files = Files.walk(path))
        {
            return files.mapToLong((file) ->
            {
                try
                {
                    return Files.isRegularFile(file) ? Files.size(file) : 0;
                }
                catch (final IOException ex)
                {
                    return 0;
                }
            }).sum();
        }
        catch (final IOException | UncheckedIOException ex)
        {
            return 0;
        }
    }

    static void delete(final Path path)
    {
        IoUtil.delete(path.toFile(), true);
    }
}
