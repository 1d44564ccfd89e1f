package io.polybridge.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The built jar as a user runs it: {@code java -jar polybridge-cli.jar ...} in a child process with no
 * JVM flags (no --add-opens: the manifest carries them). Every run that starts a driver and workers
 * is made with --verbose, which names the driver's directory and the workers' pids on stderr, so each
 * test proves that all of them are gone when the command has exited.
 */
class CliJarIT
{
    private static final Pattern SESSION = Pattern.compile(
        "polybridge-cli: media driver (\\S+) \\((embedded|attached)\\); spawned workers: (.*)");
    private static final Pattern PID = Pattern.compile("pid (\\d+)");

    private static Path jar;
    private static Path root;

    @TempDir
    Path tmp;

    private final List<Process> others = new ArrayList<>();

    @BeforeAll
    static void findJarAndWorkers()
    {
        jar = Path.of(System.getProperty("polybridge.cli.jar", "target/polybridge-cli.jar")).toAbsolutePath();
        root = Path.of(System.getProperty("polybridge.root", "..")).toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(jar), jar + " is missing: run mvn package (or verify) in cli/");
        // The library's Go test worker: the worker of --worker, of a driver of someone else's, of --modules.
        assertTrue(Files.isExecutable(goWorker()), goWorker() + " is missing: run 'make workers' at the repository root");
    }

    @AfterEach
    void stopOthers() throws InterruptedException
    {
        for (int i = others.size() - 1; i >= 0; i--)
        {
            final Process process = others.get(i);
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = { 0, 1, 65_543, 1 << 20 })
    void callEchoWritesStdinBackToStdoutByteForByte(final int size) throws Exception
    {
        final byte[] request = new byte[size];
        new Random(size).nextBytes(request);

        final Run run = run(root, request, "call", "--verbose", "echo");

        assertEquals(0, run.status, run.err);
        assertArrayEquals(request, run.out, "stdout must be the response and nothing else");
        assertNothingLeft(run);
    }

    @Test
    void theJarRunsOutsideTheCheckoutWithTheWorkersItCarries() throws Exception
    {
        final Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        final Path copy = Files.copy(jar, elsewhere.resolve("polybridge-cli.jar"));

        final Run run = run(elsewhere, copy, "anywhere".getBytes(StandardCharsets.UTF_8), "call", "--verbose", "echo");

        assertEquals(0, run.status, run.err);
        assertEquals("anywhere", run.stdout());
        assertNothingLeft(run);
    }

    @Test
    void callToAHandlerNobodyServesExitsWithNotFoundAndNamesIt() throws Exception
    {
        final Run run = run(root, new byte[]{ 1, 2, 3 }, "call", "--verbose", "no.such.handler");

        assertEquals(4, run.status, run.err); // ExitStatus: NOT_FOUND
        assertTrue(run.err.contains("NOT_FOUND: no live worker serves 'no.such.handler'"), run.err);
        assertEquals(0, run.out.length);
        assertNothingLeft(run);
    }

    @Test
    void workersListsTheGoAndTheRustWorkerItStartedWithTheirPidsAndHandlers() throws Exception
    {
        final Run run = run(tmp, new byte[0], "workers", "--verbose"); // from elsewhere: the jar finds its checkout

        assertEquals(0, run.status, run.err);
        final List<String> lines = run.stdout().lines().toList();
        assertEquals(3, lines.size(), run::stdout);
        assertTrue(lines.get(0).matches("ID +LANGUAGE +PID +STREAM +SCHEMA +STATE +HANDLERS"), lines.get(0));
        final List<Long> pids = spawnedPids(run);
        assertTrue(lines.get(1).matches("go-0 +GO +" + pids.get(0) + " +\\d+ +\\d+:\\d+ +live +.*\\becho\\b.*"),
            lines.get(1));
        assertTrue(lines.get(1).contains("wappalyzer.fingerprint"), lines.get(1));
        assertTrue(lines.get(2).matches("rust-0 +RUST +" + pids.get(1) + " +\\d+ +\\d+:\\d+ +live +.*\\becho\\b.*"),
            lines.get(2));
        assertTrue(lines.get(2).contains("html.signals"), lines.get(2));
        assertNothingLeft(run);
    }

    @Test
    void workersJsonIsOneObjectPerWorkerPerLine() throws Exception
    {
        final Run run = run(root, new byte[0], "workers", "--json", "--verbose", "--rust", "2");

        assertEquals(0, run.status, run.err);
        final List<String> lines = run.stdout().lines().toList();
        assertEquals(3, lines.size(), run::stdout);
        assertTrue(lines.get(0).matches("\\{\"id\":\"go-0\",\"language\":\"GO\",\"pid\":\\d+,\"request_stream\":\\d+," +
            "\"schema_id\":\\d+,\"schema_version\":\\d+,\"live\":true,\"handlers\":\\[.*\"echo\".*],\"request_channel\":\"aeron:ipc\"}"), lines.get(0));
        assertTrue(lines.get(1).startsWith("{\"id\":\"rust-0\",\"language\":\"RUST\""), lines.get(1));
        assertTrue(lines.get(2).startsWith("{\"id\":\"rust-1\",\"language\":\"RUST\""), lines.get(2));
        assertNothingLeft(run);
    }

    @Test
    void aWorkerGivenWithWorkerIsSpawnedListedAndCalled() throws Exception
    {
        final String worker = "--worker=" + goWorker() + " --pool-size 1";
        final Run listed = run(root, new byte[0], "workers", "--verbose", "--go", "0", "--rust", "0", worker);

        assertEquals(0, listed.status, listed.err);
        final List<String> lines = listed.stdout().lines().toList();
        assertEquals(2, lines.size(), listed::stdout);
        // Named after its executable: polybridge-worker-go-0.
        assertTrue(lines.get(1).matches("polybridge-worker-go-0 +GO +" + spawnedPids(listed).get(0) + " .* live .*"),
            lines.get(1));
        assertNothingLeft(listed);

        final Run called = run(root, "through --worker".getBytes(StandardCharsets.UTF_8),
            "call", "--verbose", "--go", "0", "--rust", "0", worker, "echo");
        assertEquals(0, called.status, called.err);
        assertEquals("through --worker", called.stdout());
        assertNothingLeft(called);
    }

    @Test
    void withAeronDirItUsesTheWorkersAlreadyThereAndSpawnsNone() throws Exception
    {
        final Path aeronDir = Path.of("/dev/shm", "polybridge-cli-it-" + ProcessHandle.current().pid() + "-" +
            System.nanoTime());
        try
        {
            others.add(new ProcessBuilder(java(), "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "-Daeron.dir=" + aeronDir,
                "-cp", jar.toString(), "io.polybridge.driver.PolybridgeMediaDriver")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("driver.log").toFile()).start());
            awaitDriverReady(aeronDir, others.get(0));
            others.add(new ProcessBuilder(goWorker().toString(), "--aeron-dir", aeronDir.toString(),
                "--worker-id", "go-theirs", "--request-stream", "150")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("worker.log").toFile()).start());

            final Run listed = run(root, new byte[0], "workers", "--verbose", "--aeron-dir", aeronDir.toString(),
                "--discover-ms", "4000"); // it announces every second: on a loaded machine, a few chances
            assertEquals(0, listed.status, listed.err);
            assertTrue(listed.err.contains("(attached); spawned workers: none"), listed.err);
            final List<String> lines = listed.stdout().lines().toList();
            assertEquals(2, lines.size(), listed::stdout);
            assertTrue(lines.get(1).matches("go-theirs +GO +" + others.get(1).pid() + " +150 .* live .*"), lines.get(1));

            final Run called = run(root, "theirs".getBytes(StandardCharsets.UTF_8),
                "call", "--aeron-dir", aeronDir.toString(), "--discover-ms", "20000", "echo"); // returns once served
            assertEquals(0, called.status, () -> called.err + "\nthe worker is " +
                (others.get(1).isAlive() ? "alive" : "gone") + "; its log:\n" + read(tmp.resolve("worker.log")));
            assertEquals("theirs", called.stdout());
            assertTrue(others.get(1).isAlive(), "a worker the command did not start must outlive it");
            assertTrue(Files.exists(aeronDir.resolve("cnc.dat")), "an attached driver must outlive the command");
        }
        finally
        {
            stopOthers();
            others.clear();
            deleteRecursively(aeronDir);
        }
    }

    @Test
    void withReplyAndAnnounceChannelsItReachesAWorkerOverUdp() throws Exception
    {
        final Path aeronDir = Path.of("/dev/shm", "polybridge-cli-it-udp-" + ProcessHandle.current().pid() + "-" +
            System.nanoTime());
        final int[] ports = freeUdpPorts(3);
        final String announce = "aeron:udp?control=127.0.0.1:" + ports[1];
        final String reply = "aeron:udp?endpoint=127.0.0.1:" + ports[2];
        try
        {
            others.add(new ProcessBuilder(java(), "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "-Daeron.dir=" + aeronDir,
                "-cp", jar.toString(), "io.polybridge.driver.PolybridgeMediaDriver")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("udp-driver.log").toFile()).start());
            awaitDriverReady(aeronDir, others.get(0));
            // As on a worker host: requests on a UDP endpoint, announcements on a dynamic MDC control channel.
            others.add(new ProcessBuilder(goWorker().toString(), "--aeron-dir", aeronDir.toString(),
                "--worker-id", "go-udp", "--request-stream", "170",
                "--request-channel", "aeron:udp?endpoint=127.0.0.1:" + ports[0],
                "--announce-channel", announce + "|control-mode=dynamic|term-length=64k")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("udp-worker.log").toFile()).start());

            final Run listed = run(root, new byte[0], "workers", "--json", "--aeron-dir", aeronDir.toString(),
                "--announce-channel", announce, "--discover-ms", "4000");
            assertEquals(0, listed.status, listed.err);
            assertTrue(listed.stdout().contains("\"id\":\"go-udp\"") && listed.stdout().contains(
                "\"request_channel\":\"aeron:udp?endpoint=127.0.0.1:" + ports[0] + "\""), listed.stdout());

            final Run called = run(root, "over udp".getBytes(StandardCharsets.UTF_8), "call", "--aeron-dir",
                aeronDir.toString(), "--reply-channel", reply, "--announce-channel", announce, "--discover-ms", "20000",
                "echo");
            assertEquals(0, called.status, () -> called.err + "\nworker log:\n" + read(tmp.resolve("udp-worker.log")));
            assertEquals("over udp", called.stdout());

            final Run noReply = run(root, "x".getBytes(StandardCharsets.UTF_8), "call", "--aeron-dir",
                aeronDir.toString(), "--announce-channel", announce, "--discover-ms", "20000", "echo");
            assertEquals(8, noReply.status, noReply.err); // WORKER_UNAVAILABLE
            assertTrue(noReply.err.contains("replyChannel"), noReply.err);
        }
        finally
        {
            stopOthers();
            others.clear();
            deleteRecursively(aeronDir);
        }
    }

    private static int[] freeUdpPorts(final int count) throws java.io.IOException
    {
        final java.net.DatagramSocket[] sockets = new java.net.DatagramSocket[count];
        try
        {
            final int[] ports = new int[count];
            for (int i = 0; i < count; i++)
            {
                sockets[i] = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress());
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        }
        finally
        {
            for (final java.net.DatagramSocket socket : sockets)
            {
                if (socket != null)
                {
                    socket.close();
                }
            }
        }
    }

    @Test
    void callWithModulesReachesAWebAssemblyModuleThroughTheLibrarysGoTestWorker() throws Exception
    {
        final Path built = root.resolve("native-go/bin/wasm-modules/wat_echo.wasm");
        assumeTrue(Files.isRegularFile(built), built + " is not built (make wasm-modules)");
        final Process help = new ProcessBuilder(goWorker().toString(), "--help").redirectErrorStream(true).start();
        final String options = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        help.waitFor();
        assumeTrue(options.contains("-modules"), "this Go worker build takes no --modules (make workers)");
        final Path modules = Files.createDirectories(tmp.resolve("modules"));
        Files.copy(built, modules.resolve("upper.wasm")); // one small module: compiled in milliseconds

        final Run run = run(root, "through wasm".getBytes(StandardCharsets.UTF_8),
            "call", "--verbose", "--go", "0", "--rust", "0", "--modules", modules.toString(), "wasm.upper");

        assertEquals(0, run.status, run.err);
        assertEquals("THROUGH WASM", run.stdout());
        assertNothingLeft(run);
    }

    @Test
    void scanPrintsOneJsonLinePerFile() throws Exception
    {
        final Path page = tmp.resolve("page.html");
        Files.writeString(page, "<html><head><title>CLI</title></head><body><a href=\"https://x.example/\">x</a>" +
            "</body></html>");

        final Run run = run(root, new byte[0], "scan", "--header", "Server: nginx/1.25.3", page.toString());

        assertEquals(0, run.status, run.err);
        final List<String> lines = run.stdout().lines().toList();
        assertEquals(1, lines.size(), run::stdout);
        assertTrue(lines.get(0).startsWith("{\"file\":\"" + page + "\",\"url\":\"https://page.example/\""), lines.get(0));
        assertTrue(lines.get(0).contains("\"title\":\"CLI\""), lines.get(0));
        assertTrue(lines.get(0).contains("{\"name\":\"Nginx\",\"version\":\"1.25.3\""), lines.get(0));
    }

    @Test
    void aBadCommandLineExitsTwoBeforeStartingAnything() throws Exception
    {
        final Run run = run(root, new byte[0], "call", "--no-such-option", "echo");

        assertEquals(ExitStatus.USAGE, run.status, run.err);
        assertTrue(run.err.contains("unknown option --no-such-option"), run.err);
        assertTrue(run.err.contains("polybridge-cli call --help"), run.err);
        assertEquals(0, run.out.length);
    }

    private record Run(int status, byte[] out, String err)
    {
        String stdout()
        {
            return new String(out, StandardCharsets.UTF_8);
        }
    }

    /** The jar in a child JVM with no flags, stdin from a file, stdout and stderr to files (no pipe to fill up). */
    private Run run(final Path cwd, final byte[] stdin, final String... args) throws Exception
    {
        return run(cwd, jar, stdin, args);
    }

    private Run run(final Path cwd, final Path jar, final byte[] stdin, final String... args) throws Exception
    {
        final Path in = Files.write(Files.createTempFile(tmp, "stdin", ""), stdin);
        final Path out = Files.createTempFile(tmp, "stdout", "");
        final Path err = Files.createTempFile(tmp, "stderr", "");
        final List<String> command = new ArrayList<>(List.of(java(), "-jar", jar.toString()));
        command.addAll(List.of(args));
        final ProcessBuilder builder = new ProcessBuilder(command).directory(cwd.toFile())
            .redirectInput(in.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        final Map<String, String> environment = builder.environment();
        for (final String flags : List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"))
        {
            environment.remove(flags); // no --add-opens may sneak in: the manifest must be enough
        }
        final Process process = builder.start();
        if (!process.waitFor(3, TimeUnit.MINUTES))
        {
            process.destroyForcibly().waitFor();
            fail(command + " did not exit within 3 minutes; stderr: " + Files.readString(err));
        }
        return new Run(process.exitValue(), Files.readAllBytes(out), Files.readString(err));
    }

    /** The driver's directory is gone, and so is every process given it. */
    private static void assertNothingLeft(final Run run) throws IOException
    {
        final Matcher session = SESSION.matcher(run.err);
        assertTrue(session.find(), "no --verbose session line on stderr: " + run.err);
        final Path aeronDir = Path.of(session.group(1));
        if (session.group(2).equals("embedded"))
        {
            assertFalse(Files.exists(aeronDir.getParent()), aeronDir.getParent() + " was left in /dev/shm");
        }
        for (final long pid : spawnedPids(run))
        {
            assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "worker pid " + pid +
                " outlived the command");
        }
        try (Stream<Path> processes = Files.list(Path.of("/proc")))
        {
            for (final Path proc : processes.filter((p) -> p.getFileName().toString().matches("\\d+")).toList())
            {
                final String commandLine;
                try
                {
                    commandLine = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8);
                }
                catch (final IOException ex)
                {
                    continue; // exited meanwhile
                }
                assertFalse(commandLine.contains(aeronDir.toString()), "process " + proc.getFileName() + " (" +
                    commandLine.replace('\0', ' ') + ") was left running on " + aeronDir);
            }
        }
    }

    private static List<Long> spawnedPids(final Run run)
    {
        final Matcher session = SESSION.matcher(run.err);
        assertTrue(session.find(), "no --verbose session line on stderr: " + run.err);
        final List<Long> pids = new ArrayList<>();
        final Matcher pid = PID.matcher(session.group(3));
        while (pid.find())
        {
            pids.add(Long.parseLong(pid.group(1)));
        }
        return pids;
    }

    /** Until the driver has written its CnC version (last, when ready): the Go worker fails on a zero version. */
    private static void awaitDriverReady(final Path aeronDir, final Process driver) throws Exception
    {
        final Path cnc = aeronDir.resolve("cnc.dat");
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (cncVersion(cnc) == 0)
        {
            assertTrue(driver.isAlive(), "the standalone driver exited before it was ready");
            assertTrue(System.nanoTime() - deadlineNs < 0, "the standalone driver was not ready within 60 s");
            Thread.sleep(10);
        }
    }

    private static int cncVersion(final Path cnc) throws IOException
    {
        if (!Files.exists(cnc))
        {
            return 0;
        }
        try (FileChannel channel = FileChannel.open(cnc, StandardOpenOption.READ))
        {
            final ByteBuffer version = ByteBuffer.allocate(Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(version, 0);
            return version.remaining() == 0 ? version.getInt(0) : 0;
        }
    }

    private static void deleteRecursively(final Path dir) throws IOException
    {
        if (Files.exists(dir))
        {
            try (Stream<Path> paths = Files.walk(dir))
            {
                for (final Path path : paths.sorted((a, b) -> b.compareTo(a)).toList())
                {
                    Files.deleteIfExists(path);
                }
            }
        }
    }

    private static String read(final Path file)
    {
        try
        {
            return Files.readString(file);
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
    }

    private static Path goWorker()
    {
        return root.resolve("native-go/bin/polybridge-worker-go");
    }

    private static String java()
    {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
