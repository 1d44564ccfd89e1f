package io.polybridge.codecs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The check behind every schema's {@code NativeCodecsAreCurrentTest} (the transport's here, the services'
 * in examples/, through this module's test-jar): the Go and Rust codecs are committed so that the
 * workers build with Go or Cargo alone, the build regenerates them into target/generated-native with
 * the same sbe-tool, and a committed copy that differs from that fresh generation fails, so nobody
 * hand-edits them and nobody forgets to regenerate after a schema change.
 */
public final class CommittedCodecs
{
    private static final String FIX = "; the committed codecs are stale or hand-edited: run codecs/regenerate.sh";

    private CommittedCodecs()
    {
    }

    /** @return the repository root: {@code -Dpolybridge.root} (every module's surefire sets it). */
    public static Path repositoryRoot()
    {
        return Path.of(System.getProperty("polybridge.root", ".."));
    }

    /** @return where this module's build wrote the fresh Go and Rust generation. */
    public static Path freshGeneration()
    {
        return Path.of(System.getProperty("sbe.native.dir", "target/generated-native"));
    }

    /**
     * Assert that the committed directory holds exactly the freshly generated files, byte for byte.
     *
     * @param fresh     the fresh generation, e.g. {@code freshGeneration().resolve("go/polybridge")}.
     * @param committed the committed copy.
     * @throws IOException if either cannot be read.
     */
    public static void assertSameAsFreshGeneration(final Path fresh, final Path committed) throws IOException
    {
        final Map<String, String> expected = read(fresh);
        final Map<String, String> actual = read(committed);
        assertFalse(expected.isEmpty(), "sbe-tool generated nothing in " + fresh);
        assertEquals(expected.keySet(), actual.keySet(), "files differ between " + fresh + " and " + committed + FIX);
        expected.forEach((name, text) -> assertEquals(text, actual.get(name), committed.resolve(name) + FIX));
    }

    /** Generated files by relative path; build outputs (target/, Cargo.lock) and go.mod are not generated. */
    private static Map<String, String> read(final Path dir) throws IOException
    {
        final Map<String, String> files = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(dir))
        {
            for (final Path path : paths.filter(Files::isRegularFile).toList())
            {
                final String name = dir.relativize(path).toString();
                if (!name.startsWith("target/") && !name.equals("Cargo.lock") && !name.equals("go.mod"))
                {
                    files.put(name, Files.readString(path));
                }
            }
        }
        return files;
    }
}
