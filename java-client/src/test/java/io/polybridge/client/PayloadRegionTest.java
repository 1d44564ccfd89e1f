package io.polybridge.client;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The request region's file and allocator, and the reader's checks of other processes' regions, without
 * a driver: first fit, coalescing, full, the header written and every way a header or a reference can
 * be wrong, the sweep of dead owners' files.
 */
class PayloadRegionTest
{
    private static final int BLOCK = 4096;
    private Path dir;

    @BeforeEach
    void makeDirectory() throws IOException
    {
        dir = Files.createTempDirectory("payload-region-test");
    }

    @AfterEach
    void removeDirectory() throws IOException
    {
        try (Stream<Path> files = Files.walk(dir))
        {
            files.sorted(Comparator.reverseOrder()).forEach((file) -> file.toFile().delete());
        }
    }

    private static long never()
    {
        return System.nanoTime();
    }

    @Test
    void theFileIsCreatedAtTheFirstLoanOwnerOnlyWithItsHeaderAndRemovedAtClose() throws Exception
    {
        final RequestRegion region = new RequestRegion(dir.toString(), 16 * BLOCK);
        assertFalse(Files.exists(region.path()), "no file before the first loan");
        assertEquals(0, region.lend(1, never(), false));
        final Path file = region.path();
        assertTrue(Files.exists(file));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(BLOCK + 16L * BLOCK, Files.size(file));
        assertEquals(String.format("%016x", region.regionId()),
            file.getFileName().toString().substring(PayloadRegionFiles.PREFIX.length()));
        assertEquals(ProcessHandle.current().pid(), PayloadRegionFiles.ownerPid(region.regionId()));

        final byte[] header = Files.readAllBytes(file);
        final ByteBuffer le = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals("PBREGION", new String(header, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, le.getInt(8));
        assertEquals(4096, le.getInt(12));
        assertEquals(region.regionId(), le.getLong(16));
        assertEquals(ProcessHandle.current().pid(), le.getLong(24));
        assertEquals(16L * BLOCK, le.getLong(32));

        // What the owner writes, a reader sees through its read-only mapping.
        region.data().putBytes(0, new byte[]{ 7, 8, 9 });
        final RegionReader.Mapping mapping = RegionReader.open(dir.toString(), region.regionId());
        final byte[] read = new byte[3];
        mapping.view(0, 3).get(read);
        assertArrayEquals(new byte[]{ 7, 8, 9 }, read);
        assertTrue(mapping.view(0, 3).isReadOnly());

        region.close();
        assertFalse(Files.exists(file), "removed at close");
        assertThrows(PolybridgeException.class, () -> region.lend(1, never(), false));
    }

    @Test
    void loansAreWholeBlocksFirstFitFromTheLowestOffsetAndReleasesCoalesce()
    {
        try (RequestRegion region = new RequestRegion(dir.toString(), 8 * BLOCK))
        {
            final int a = region.lend(BLOCK, never(), false); // 1 block
            final int b = region.lend(BLOCK + 1, never(), false); // 2 blocks
            final int c = region.lend(1, never(), false); // 1 block
            assertEquals(0, a);
            assertEquals(BLOCK, b);
            assertEquals(3 * BLOCK, c);
            assertEquals(4L * BLOCK, region.lentBytes());

            region.release(b, BLOCK + 1);
            assertEquals(BLOCK, region.lend(2 * BLOCK, never(), false), "first fit: the hole b left");
            region.release(BLOCK, 2 * BLOCK);

            region.release(a, BLOCK);
            assertArrayEquals(new int[][]{ { 0, 3 }, { 4, 4 } }, region.freeExtents(), "a and b's hole coalesced");
            region.release(c, 1);
            assertArrayEquals(new int[][]{ { 0, 8 } }, region.freeExtents(), "all one extent again");
            assertEquals(0, region.lentBytes());

            assertThrows(IllegalStateException.class, () -> region.release(c, 1), "a double release is refused");
            assertThrows(IllegalArgumentException.class, () -> region.lend(8 * BLOCK + 1, never(), false));
            assertThrows(IllegalArgumentException.class, () -> region.lend(0, never(), false));
        }
    }

    @Test
    void aFullRegionLendsNothingAtOnceOrWaitsForARelease() throws Exception
    {
        try (RequestRegion region = new RequestRegion(dir.toString(), 4 * BLOCK))
        {
            final int all = region.lend(4 * BLOCK, never(), false);
            assertEquals(-1, region.lend(1, never(), false));
            assertEquals(-1, region.lend(1, System.nanoTime() + 20_000_000L, true), "waited 20 ms: still full");

            final Thread releaser = new Thread(() ->
            {
                try
                {
                    Thread.sleep(50);
                }
                catch (final InterruptedException ignore)
                {
                }
                region.release(all, 4 * BLOCK);
            });
            releaser.start();
            assertEquals(0, region.lend(2 * BLOCK, System.nanoTime() + 60_000_000_000L, true), "woken by the release");
            releaser.join();
        }
    }

    @Test
    void theReaderRejectsMissingFilesBadHeadersAndReferencesOutsideTheData() throws Exception
    {
        final long id = (123_456L << 32) | 0xABCDL;
        final String missing = assertFails(id);
        assertTrue(missing.contains("does not exist") && missing.contains(PayloadRegionFiles.fileName(id)), missing);

        final Path file = PayloadRegionFiles.path(dir.toString(), id);
        writeRegion(file, id, 8 * BLOCK, (h) -> { });
        final RegionReader reader = new RegionReader(dir.toString());
        assertEquals(8L * BLOCK, reader.map(id, 0, 8 * BLOCK).dataLength);
        assertEquals(8L * BLOCK, reader.map(id, 8 * BLOCK, 0).dataLength);
        for (final long[] bad : new long[][]{ { -1, 1 }, { 0, -1 }, { 1, 8 * BLOCK }, { 8 * BLOCK + 1, 0 },
            { Long.MAX_VALUE, 1 }, { 1, Long.MAX_VALUE } })
        {
            final RegionReader.RegionException ex =
                assertThrows(RegionReader.RegionException.class, () -> reader.map(id, bad[0], bad[1]));
            assertTrue(ex.getMessage().contains("outside the data area of " + 8 * BLOCK), ex.getMessage());
        }

        writeRegion(file, id, 8 * BLOCK, (h) -> h.putByte(0, (byte)'X'));
        assertTrue(assertFails(id).contains("magic"));
        writeRegion(file, id, 8 * BLOCK, (h) -> h.putInt(8, 2, ByteOrder.LITTLE_ENDIAN));
        assertTrue(assertFails(id).contains("version 2"));
        writeRegion(file, id, 8 * BLOCK, (h) -> h.putInt(12, 512, ByteOrder.LITTLE_ENDIAN));
        assertTrue(assertFails(id).contains("header length 512"));
        writeRegion(file, id, 8 * BLOCK, (h) -> h.putLong(16, id + 1, ByteOrder.LITTLE_ENDIAN));
        assertTrue(assertFails(id).contains("header names region"));
        writeRegion(file, id, 8 * BLOCK, (h) -> h.putLong(32, 9L * BLOCK, ByteOrder.LITTLE_ENDIAN));
        assertTrue(assertFails(id).contains("dataLength"));
        Files.delete(file);
        Files.write(file, new byte[100]);
        assertTrue(assertFails(id).contains("has 100 bytes"));
        assertNull(RegionReader.checkBounds(0, 0, 0));
    }

    @Test
    void theSweepRemovesTheFilesOfDeadOwnersOnlyAndTheSupervisorsRemovalThoseOfOnePid() throws Exception
    {
        final long deadPid = deadPid();
        final long livePid = ProcessHandle.current().pid();
        final Path dead = Files.createFile(PayloadRegionFiles.path(dir.toString(), (deadPid << 32) | 1));
        final Path live = Files.createFile(PayloadRegionFiles.path(dir.toString(), (livePid << 32) | 1));
        final Path other = Files.createFile(dir.resolve(PayloadRegionFiles.PREFIX + "not-a-region"));
        assertEquals(1, PayloadRegionFiles.sweepDeadOwners(dir.toString()));
        assertFalse(Files.exists(dead));
        assertTrue(Files.exists(live));
        assertTrue(Files.exists(other));

        PayloadRegionFiles.removeOwnedBy(dir.toString(), livePid);
        assertFalse(Files.exists(live));
        assertTrue(Files.exists(other));
    }

    /** A pid with no process: one of a process that has exited. */
    static long deadPid() throws Exception
    {
        final Process process = new ProcessBuilder("true").start();
        process.waitFor();
        final long pid = process.pid();
        assertFalse(Files.exists(Path.of("/proc", Long.toString(pid))));
        return pid;
    }

    private String assertFails(final long id)
    {
        return assertThrows(RegionReader.RegionException.class, () -> RegionReader.open(dir.toString(), id))
            .getMessage();
    }

    private static void writeRegion(
        final Path file, final long id, final int dataLength, final java.util.function.Consumer<UnsafeBuffer> spoil)
        throws IOException
    {
        Files.deleteIfExists(file);
        final UnsafeBuffer header = new UnsafeBuffer(new byte[PayloadRegionFiles.HEADER_LENGTH]);
        PayloadRegionFiles.writeHeader(header, id, 123_456L, dataLength);
        spoil.accept(header);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            channel.write(ByteBuffer.wrap(header.byteArray()));
            channel.write(ByteBuffer.allocate(1), PayloadRegionFiles.HEADER_LENGTH + (long)dataLength - 1);
        }
    }

    @Test
    void contextValidatesThePayloadSettings()
    {
        assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().payloadRegionSize(2L << 30).conclude());
        assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().payloadRegionSize(1 << 20).maxMessageSize(2 << 20).conclude());
        assertThrows(IllegalArgumentException.class,
            () -> new PolybridgeClient.Context().payloadLoanThreshold(-1).conclude());
        final PolybridgeClient.Context ctx = new PolybridgeClient.Context().payloadRegionSize(5000).maxMessageSize(10);
        assertEquals(8192, ctx.conclude().payloadRegionSize(), "rounded up to whole blocks");
        final PolybridgeClient.Context defaults = new PolybridgeClient.Context().conclude();
        assertEquals(256L << 20, defaults.payloadRegionSize());
        assertEquals(64L << 20, defaults.maxMessageSize());
        assertEquals(64L << 10, defaults.payloadLoanThreshold());
    }
}
