package io.polybridge.codecs;

import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.DynamicTest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.ToIntFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The check behind every schema's {@code GoldenVectorsTest} (the transport's here, web-scan's through this
 * module's test-jar): encoding each logical value must give the bytes on disk, and decoding the bytes must
 * give the value back. Run with {@code -Dgolden.write=true} to rewrite the files.
 */
public final class GoldenVectors
{
    /**
     * One golden vector.
     *
     * @param file    its file name in the golden directory.
     * @param encoder writes the logical value into the buffer and returns the encoded length.
     * @param checker asserts that the bytes decode to the logical value.
     */
    public record Vector(String file, ToIntFunction<MutableDirectBuffer> encoder, Consumer<DirectBuffer> checker)
    {
    }

    private GoldenVectors()
    {
    }

    /**
     * @param dir     the golden directory.
     * @param vectors every vector of the schema.
     * @return one test per vector: it encodes to its file byte for byte, and the file decodes back.
     */
    public static Stream<DynamicTest> encodeToTheirFilesAndDecodeBack(final Path dir, final List<Vector> vectors)
    {
        final boolean write = Boolean.getBoolean("golden.write");
        return vectors.stream().map((vector) -> DynamicTest.dynamicTest(vector.file(), () ->
        {
            final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
            final int length = vector.encoder().applyAsInt(buffer);
            final byte[] encoded = Arrays.copyOf(buffer.byteArray(), length);
            final Path file = dir.resolve(vector.file());
            if (write)
            {
                Files.write(file, encoded);
            }
            assertTrue(Files.exists(file), () -> file + " is missing; run with -Dgolden.write=true to create it");

            final byte[] golden = Files.readAllBytes(file);
            assertArrayEquals(golden, encoded, () -> "encoding differs from " + file);
            vector.checker().accept(new UnsafeBuffer(golden));
        }));
    }

    /**
     * Assert that the golden directory holds a {@code .bin} file for every vector and no other.
     *
     * @param dir     the golden directory.
     * @param vectors every vector of the schema.
     * @throws IOException if the directory cannot be listed.
     */
    public static void assertEveryFileIsAVector(final Path dir, final List<Vector> vectors) throws IOException
    {
        final List<String> expected = vectors.stream().map(Vector::file).sorted().toList();
        try (Stream<Path> files = Files.list(dir))
        {
            final List<String> actual = files.map((p) -> p.getFileName().toString())
                .filter((name) -> name.endsWith(".bin")).sorted().toList();
            assertEquals(expected, actual);
        }
    }
}
