package io.polybridge.hello.codecs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The Go and Rust codecs of examples/hello/schema/hello.xml are committed so that the Go and Rust workers build
 * on their own. The build regenerates them into target/generated-native with the same sbe-tool; this test
 * fails when the committed copies differ, so nobody hand-edits them and nobody forgets to regenerate after a
 * schema change. Fix a failure with {@code codecs/regenerate.sh}.
 */
class NativeCodecsAreCurrentTest
{
    private static final String FIX = "; the committed codecs are stale or hand-edited: run codecs/regenerate.sh";

    private final Path root = Path.of(System.getProperty("polybridge.root", "../../.."));
    private final Path generated = Path.of(System.getProperty("sbe.native.dir", "target/generated-native"));

    @Test
    void committedGoCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameFiles(generated.resolve("go/hello"), root.resolve("examples/hello/go/hello"));
    }

    @Test
    void committedRustCodecsEqualAFreshGeneration() throws IOException
    {
        assertSameFiles(generated.resolve("rust/hello"), root.resolve("examples/hello/rust/codecs"));
    }

    private static void assertSameFiles(final Path fresh, final Path committed) throws IOException
    {
        final Map<String, String> expected = read(fresh);
        final Map<String, String> actual = read(committed);
        assertFalse(expected.isEmpty(), "sbe-tool generated nothing in " + fresh);
        assertEquals(expected.keySet(), actual.keySet(), "files differ between " + fresh + " and " + committed + FIX);
        expected.forEach((name, text) -> assertEquals(text, actual.get(name), committed.resolve(name) + FIX));
    }

    /** Generated files by relative path; build outputs (target/, Cargo.lock) are not generated. */
    private static Map<String, String> read(final Path dir) throws IOException
    {
        final Map<String, String> files = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path path : paths.filter(Files::isRegularFile).toList())
            {
                final String name = dir.relativize(path).toString();
                if (!name.startsWith("target/") && !name.equals("Cargo.lock"))
                {
                    files.put(name, Files.readString(path));
                }
            }
        }
        return files;
    }
}
