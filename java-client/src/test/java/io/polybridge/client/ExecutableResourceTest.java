package io.polybridge.client;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ExecutableResourceTest
{
    private static final String PLATFORM = "linux-x86_64";
    private static final byte[] SCRIPT = "#!/bin/sh\necho hello from the jar\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path temp;

    private Path classes;
    private Path cache;

    @BeforeEach
    void setUp() throws IOException
    {
        classes = Files.createDirectories(temp.resolve("classes"));
        cache = temp.resolve("cache");
    }

    @Test
    void extractsOnceOwnerOnlyAndExecutableThenReusesTheVerifiedCopy() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path first = ExecutableResource.extract("hello", context());

        assertEquals(cache.resolve(sha256(SCRIPT)).resolve("hello"), first);
        assertArrayEquals(SCRIPT, Files.readAllBytes(first));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first.getParent())));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(cache)));
        assertEquals("hello from the jar", run(first));

        final Object inode = Files.getAttribute(first, "unix:ino");
        final Path second = ExecutableResource.extract("hello", context());
        assertEquals(first, second);
        assertEquals(inode, Files.getAttribute(second, "unix:ino"), "the cached copy was reused, not rewritten");
        try (var files = Files.list(first.getParent()))
        {
            assertEquals(List.of("hello", "hello.verified"),
                files.map(path -> path.getFileName().toString()).sorted().toList(), "no temporary file is left behind");
        }
    }

    @Test
    void worksWithoutAShaFileByHashingTheResource() throws Exception
    {
        addResource("hello", SCRIPT, false);
        final Path extracted = ExecutableResource.extract("hello", context());
        assertEquals(cache.resolve(sha256(SCRIPT)).resolve("hello"), extracted);
        assertEquals("hello from the jar", run(extracted));
    }

    @Test
    void reExtractsACachedCopyWhoseHashDoesNotMatchInsteadOfReturningIt() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path first = ExecutableResource.extract("hello", context());
        Files.write(first, "#!/bin/sh\necho tampered\n".getBytes(StandardCharsets.US_ASCII));

        final Path again = ExecutableResource.extract("hello", context());
        assertArrayEquals(SCRIPT, Files.readAllBytes(again));
        assertEquals("hello from the jar", run(again));
    }

    @Test
    void reExtractsACachedCopyRewrittenWithTheSameSizeAndModificationTime() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path first = ExecutableResource.extract("hello", context());
        final var modified = Files.getLastModifiedTime(first);
        final byte[] forged = SCRIPT.clone();
        forged[forged.length - 2] = 'X'; // same length, different bytes
        Files.write(first, forged);
        Files.setLastModifiedTime(first, modified); // what a careless copy might do; the change time still moves

        final Path again = ExecutableResource.extract("hello", context());
        assertArrayEquals(SCRIPT, Files.readAllBytes(again));
    }

    @Test
    void reExtractsACachedCopyThatLostItsExecutableBit() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path first = ExecutableResource.extract("hello", context());
        Files.setPosixFilePermissions(first, PosixFilePermissions.fromString("rw-------"));

        final Path again = ExecutableResource.extract("hello", context());
        assertTrue(Files.isExecutable(again));
    }

    @Test
    void refusesAResourceThatDoesNotMatchItsShaFileAndLeavesNothingToExecute() throws Exception
    {
        addResource("hello", SCRIPT, false);
        final String wrong = sha256("something else".getBytes(StandardCharsets.US_ASCII));
        Files.writeString(resourceDir().resolve("hello.sha256"), wrong + "  hello\n");

        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> ExecutableResource.extract("hello", context()));
        assertTrue(ex.getMessage().contains("not extracting"), ex.getMessage());
        assertTrue(ex.getMessage().contains(ExecutableResource.resourceName(PLATFORM, "hello")), ex.getMessage());
        try (var files = Files.list(cache.resolve(wrong)))
        {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void aMissingResourceNamesThePlatformAndTheResource()
    {
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> ExecutableResource.extract("polybridge-worker-nope", context()));
        assertTrue(ex.getMessage().contains("platform " + PLATFORM), ex.getMessage());
        assertTrue(ex.getMessage().contains("META-INF/polybridge/workers/linux-x86_64/polybridge-worker-nope"),
            ex.getMessage());
        assertTrue(ex.getMessage().contains("polybridge-workers"), ex.getMessage());
    }

    @Test
    void aResourceOnlyForAnotherPlatformSaysWhichOneHasIt() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> ExecutableResource.extract("hello", context().platform("linux-aarch64")));
        assertTrue(ex.getMessage().contains("platform linux-aarch64"), ex.getMessage());
        assertTrue(ex.getMessage().contains("only for linux-x86_64"), ex.getMessage());
    }

    @Test
    void anUnsupportedPlatformSaysWhichAreSupported()
    {
        assertEquals("linux-x86_64", ExecutableResource.platform("Linux", "amd64"));
        assertEquals("linux-aarch64", ExecutableResource.platform("Linux", "aarch64"));
        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> ExecutableResource.platform("Mac OS X", "aarch64"));
        assertTrue(ex.getMessage().contains("os.name=Mac OS X"), ex.getMessage());
        assertTrue(ex.getMessage().contains("linux-x86_64, linux-aarch64"), ex.getMessage());
        assertThrows(IllegalStateException.class, () -> ExecutableResource.platform("Linux", "ppc64le"));
    }

    @Test
    void fallsBackToTheNextDirectoryWhenACacheCannotBeWritten() throws Exception
    {
        addResource("hello", SCRIPT, true);
        // Below a regular file: unwritable even for root.
        final Path blocker = Files.writeString(temp.resolve("not-a-directory"), "x");
        final Path unwritable = blocker.resolve("cache");

        final Path extracted = ExecutableResource.extract("hello", new ExecutableResource.Context()
            .classLoader(loader()).platform(PLATFORM).cacheDirectories(List.of(unwritable, cache)));
        assertEquals(cache.resolve(sha256(SCRIPT)).resolve("hello"), extracted);
    }

    @Test
    void fallsBackToAPrivateTemporaryDirectoryWhenNoCacheCanBeWritten() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path unwritable = Files.writeString(temp.resolve("not-a-directory"), "x").resolve("cache");

        final Path extracted = ExecutableResource.extract("hello", new ExecutableResource.Context()
            .classLoader(loader()).platform(PLATFORM).cacheDirectories(List.of(unwritable)));
        try
        {
            assertEquals("hello from the jar", run(extracted));
            assertFalse(extracted.startsWith(temp));
        }
        finally
        {
            Files.delete(extracted);
            Files.deleteIfExists(extracted.resolveSibling("hello.verified"));
            Files.delete(extracted.getParent());
            Files.delete(extracted.getParent().getParent());
        }
    }

    @Test
    void saysWhichDirectoriesItTriedWhenNoneCanBeWritten() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path unwritable = Files.writeString(temp.resolve("not-a-directory"), "x").resolve("cache");

        final IllegalStateException ex = assertThrows(IllegalStateException.class,
            () -> ExecutableResource.extract("hello", new ExecutableResource.Context()
                .classLoader(loader()).platform(PLATFORM).cacheDirectories(List.of(unwritable))
                .privateTemporaryFallback(false)));
        assertTrue(ex.getMessage().contains(unwritable.toString()), ex.getMessage());
        assertTrue(ex.getMessage().contains("-Dpolybridge.cache.dir"), ex.getMessage());
    }

    @Test
    void refusesACacheDirectoryOwnedBySomeoneElse() throws Exception
    {
        addResource("hello", SCRIPT, true);
        final Path foreign = Files.createDirectories(temp.resolve("foreign"));
        try
        {
            Files.setAttribute(foreign, "unix:uid", 54321);
        }
        catch (final IOException ex)
        {
            assumeTrue(false, "only root can give a directory away: " + ex);
        }

        final Path extracted = ExecutableResource.extract("hello", new ExecutableResource.Context()
            .classLoader(loader()).platform(PLATFORM).cacheDirectories(List.of(foreign, cache)));
        assertEquals(cache.resolve(sha256(SCRIPT)).resolve("hello"), extracted);
        try (var files = Files.list(foreign))
        {
            assertEquals(List.of(), files.toList(), "nothing was written into a directory someone else owns");
        }
    }

    @Test
    void concurrentExtractionsEachSeeAWholeVerifiedFile() throws Exception
    {
        // Threads race exactly as two JVMs do: each writes its own temporary file and renames it into place.
        final byte[] big = new byte[8 * 1024 * 1024];
        new Random(42).nextBytes(big);
        addResource("big", big, true);
        final String expected = sha256(big);
        final int racers = 6;
        final CountDownLatch start = new CountDownLatch(1);
        final ExecutorService pool = Executors.newFixedThreadPool(racers);
        try
        {
            final List<Future<String>> hashes = new ArrayList<>();
            for (int i = 0; i < racers; i++)
            {
                hashes.add(pool.submit(() ->
                {
                    start.await();
                    final Path path = ExecutableResource.extract("big", context());
                    return sha256(Files.readAllBytes(path));
                }));
            }
            start.countDown();
            for (final Future<String> hash : hashes)
            {
                assertEquals(expected, hash.get(60, TimeUnit.SECONDS));
            }
        }
        finally
        {
            pool.shutdownNow();
        }
        try (var files = Files.list(cache.resolve(expected)))
        {
            assertEquals(List.of("big", "big.verified"), files.map(path -> path.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void rejectsNamesThatAreNotPlainFileNames()
    {
        assertThrows(IllegalArgumentException.class, () -> ExecutableResource.extract("../etc/passwd", context()));
        assertThrows(IllegalArgumentException.class, () -> ExecutableResource.extract("", context()));
    }

    private ExecutableResource.Context context() throws IOException
    {
        return new ExecutableResource.Context()
            .classLoader(loader())
            .platform(PLATFORM)
            .cacheDirectories(List.of(cache))
            .privateTemporaryFallback(false);
    }

    private ClassLoader loader() throws IOException
    {
        return new URLClassLoader(new URL[]{ classes.toUri().toURL() }, null);
    }

    private Path resourceDir() throws IOException
    {
        return Files.createDirectories(classes.resolve(ExecutableResource.RESOURCE_ROOT).resolve(PLATFORM));
    }

    private void addResource(final String name, final byte[] content, final boolean withSha) throws Exception
    {
        final Path dir = resourceDir();
        Files.write(dir.resolve(name), content);
        if (withSha)
        {
            Files.writeString(dir.resolve(name + ".sha256"), sha256(content) + "  " + name + "\n");
        }
    }

    private static String run(final Path executable) throws Exception
    {
        final Process process = new ProcessBuilder(executable.toString()).redirectErrorStream(true).start();
        try
        {
            final String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, process.exitValue());
            return out;
        }
        finally
        {
            process.destroyForcibly();
        }
    }

    private static String sha256(final byte[] bytes) throws Exception
    {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
