package io.polybridge.client;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.polybridge.codecs.ErrorCode;
import io.polybridge.codecs.Language;
import io.polybridge.codecs.MessageHeaderEncoder;
import io.polybridge.codecs.WorkerAnnouncementEncoder;
import io.polybridge.driver.EmbeddedMediaDriver;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.CloseHelper;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.IoUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The standalone media driver in a child JVM, SIGKILLed under a client with calls in flight: the host
 * JVM keeps running (Aeron's default error handler would call System.exit), every call fails
 * WORKER_UNAVAILABLE naming the driver within 2 s, new calls fail at once, the loss is reported once,
 * and closing the client is prompt and quiet.
 */
class DriverLossTest
{
    private static final int REQUEST_STREAM = 400;
    private static final long DESIGN_LIMIT_MS = 2_000;

    private Path aeronDir;
    private Process driver;
    private Aeron workerAeron;
    private PolybridgeClient client;

    @BeforeEach
    void startStandaloneDriver() throws Exception
    {
        aeronDir = Path.of(Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : System.getProperty("java.io.tmpdir"),
            "polybridge-driver-loss-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        final Path log = Path.of("target", "driver-loss-driver.log");
        Files.deleteIfExists(log);
        driver = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "-Daeron.dir=" + aeronDir,
            "-cp", System.getProperty("java.class.path"),
            PolybridgeMediaDriver.class.getName())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
        awaitTrue(() -> logSays(log, "polybridge media driver running") || !driver.isAlive(), "driver started");
        assertTrue(driver.isAlive(), "standalone driver exited; see " + log);
    }

    @AfterEach
    void stop() throws Exception
    {
        CloseHelper.quietCloseAll(client, workerAeron);
        driver.destroyForcibly();
        driver.waitFor();
        IoUtil.delete(aeronDir.toFile(), true); // a SIGKILLed driver leaves its directory
    }

    @Test
    void sigkilledDriverFailsCallsInFlightAndNewOnesAndLeavesTheHostRunning() throws Exception
    {
        final ConcurrentLinkedQueue<Throwable> workerErrors = new ConcurrentLinkedQueue<>();
        workerAeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString())
            .errorHandler(workerErrors::add));
        final HeldWorker held = new HeldWorker(workerAeron);

        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<String> losses = new ConcurrentLinkedQueue<>();
        final AtomicInteger lossCalls = new AtomicInteger();
        final AtomicLong lossReportedNs = new AtomicLong();
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(aeronDir.toString())
            .errorHandler(errors::add)
            .driverLostHandler((reason) ->
            {
                lossReportedNs.set(System.nanoTime());
                lossCalls.incrementAndGet();
                losses.add(reason);
            }));
        held.announce();
        final WorkerStub worker = client.awaitWorker("held-0", Duration.ofSeconds(10));

        final List<CompletableFuture<byte[]>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++)
        {
            calls.add(worker.call("echo", new byte[]{ (byte)i }, Duration.ofSeconds(60)));
        }
        awaitTrue(() -> held.poll() >= 8, "the held worker received every call");

        driver.destroyForcibly(); // SIGKILL
        final long killedNs = System.nanoTime();
        driver.waitFor();

        final String expected = "media driver in " + aeronDir + " is gone";
        for (final CompletableFuture<byte[]> call : calls)
        {
            final CompletionException failed = assertThrows(CompletionException.class,
                () -> call.orTimeout(30, TimeUnit.SECONDS).join());
            final PolybridgeException cause = assertInstanceOf(PolybridgeException.class, failed.getCause());
            assertEquals(ErrorCode.WORKER_UNAVAILABLE, cause.errorCode());
            assertTrue(cause.getMessage().contains(expected), cause.getMessage());
        }
        final long failedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
        final long reportedMs = TimeUnit.NANOSECONDS.toMillis(lossReportedNs.get() - killedNs);
        System.out.println("driver SIGKILLed: loss reported after " + reportedMs + " ms, all calls failed after " +
            failedMs + " ms");
        assertTrue(failedMs <= DESIGN_LIMIT_MS, "calls failed " + failedMs + " ms after the driver died");

        assertTrue(client.isDriverLost());
        assertTrue(client.driverLostReason().contains(expected), client.driverLostReason());
        assertTrue(client.driverLostReason().contains("its process " + driver.pid() + " exited"),
            "noticed by the driver's process, not the 10 s driver timeout: " + client.driverLostReason());

        final long newCallNs = System.nanoTime();
        final CompletableFuture<byte[]> late = worker.call("echo", new byte[]{ 9 }, Duration.ofSeconds(60));
        assertTrue(late.isDone(), "a call after the loss must fail at once");
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - newCallNs) < 1_000);
        final PolybridgeException lateCause = assertInstanceOf(PolybridgeException.class,
            assertThrows(CompletionException.class, late::join).getCause());
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, lateCause.errorCode());
        assertTrue(lateCause.getMessage().contains(expected), lateCause.getMessage());
        final PolybridgeException await = assertThrows(PolybridgeException.class,
            () -> client.awaitWorker("held-0", Duration.ofSeconds(10)));
        assertTrue(await.getMessage().contains(expected), await.getMessage());

        Thread.sleep(500);
        assertEquals(1, lossCalls.get(), "the loss is reported exactly once: " + losses);
        assertEquals(List.of(client.driverLostReason()), List.copyOf(losses));

        final long closeNs = System.nanoTime();
        client.close();
        workerAeron.close();
        final long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closeNs);
        assertTrue(closeMs < 2_000, "closing after the loss took " + closeMs + " ms");
        assertEquals(0, client.inFlight(), "window slots leaked");

        // What the dead driver left in /dev/shm goes with the next launch's reclaim, once its heartbeat is
        // older than the driver timeout (the loss itself was noticed well before that, by its process).
        final long sinceKillMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
        Thread.sleep(Math.max(0, PolybridgeMediaDriver.DEFAULT_DRIVER_TIMEOUT_MS + 200 - sinceKillMs));
        assertFalse(PolybridgeMediaDriver.isDriverActive(aeronDir.toString()));
        assertTrue(EmbeddedMediaDriver.reclaimStaleDirectories().contains(aeronDir), "stale " + aeronDir + " kept");
        assertFalse(Files.exists(aeronDir));
    }

    /**
     * A driver alive but silent (SIGSTOPped here; starved or in a GC pause on a loaded machine) for
     * longer than the old 1 s driver timeout is not taken for dead: its process is there, and the
     * driver timeout (10 s) is for silence. Calls made meanwhile complete once it runs again.
     */
    @Test
    void stoppedDriverIsNotTakenForDead() throws Exception
    {
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final AtomicInteger lossCalls = new AtomicInteger();
        try (JavaEchoWorker echo = new JavaEchoWorker(aeronDir.toString()))
        {
            client = PolybridgeClient.connect(new PolybridgeClient.Context()
                .aeronDirectoryName(aeronDir.toString())
                .errorHandler(errors::add)
                .driverLostHandler((reason) -> lossCalls.incrementAndGet()));
            final WorkerStub worker = client.awaitWorker(JavaEchoWorker.WORKER_ID, Duration.ofSeconds(10));
            assertEquals(1, worker.call("echo", new byte[]{ 1 }, Duration.ofSeconds(30)).join()[0]);

            signal("STOP", driver.pid());
            final CompletableFuture<byte[]> duringStop;
            try
            {
                duringStop = worker.call("echo", new byte[]{ 2 }, Duration.ofSeconds(30));
                Thread.sleep(3_000); // three times the old driver timeout
                assertFalse(client.isDriverLost(), "a stopped driver was taken for dead: " + client.driverLostReason());
                assertFalse(duringStop.isCompletedExceptionally(), "a call failed while the driver was stopped");
            }
            finally
            {
                signal("CONT", driver.pid());
            }
            assertEquals(2, duringStop.join()[0]);
            for (int i = 3; i < 13; i++)
            {
                assertEquals(i, worker.call("echo", new byte[]{ (byte)i }, Duration.ofSeconds(30)).join()[0]);
            }
            assertFalse(client.isDriverLost());
            assertEquals(0, lossCalls.get());
            assertTrue(errors.isEmpty(), "errors: " + errors);
            client.close();
        }
    }

    private static void signal(final String signal, final long pid) throws Exception
    {
        final Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -" + signal + " " + pid);
    }

    @Test
    void idleClientNoticesTheLossToo() throws Exception
    {
        final AtomicLong lossReportedNs = new AtomicLong();
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(aeronDir.toString())
            .errorHandler((error) -> { })
            .driverLostHandler((reason) -> lossReportedNs.set(System.nanoTime())));
        driver.destroyForcibly();
        final long killedNs = System.nanoTime();
        awaitTrue(client::isDriverLost, "the loss noticed");
        final long noticedMs = TimeUnit.NANOSECONDS.toMillis(lossReportedNs.get() - killedNs);
        assertTrue(noticedMs <= DESIGN_LIMIT_MS, "noticed after " + noticedMs + " ms");
        final long closeNs = System.nanoTime();
        client.close();
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closeNs) < 2_000);
    }

    @Test
    void closingBeforeTheLossIsNoticedIsPromptAndQuietToo() throws Exception
    {
        final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        final AtomicInteger lossCalls = new AtomicInteger();
        client = PolybridgeClient.connect(new PolybridgeClient.Context()
            .aeronDirectoryName(aeronDir.toString())
            .errorHandler(errors::add)
            .driverLostHandler((reason) -> lossCalls.incrementAndGet()));
        client.publication(REQUEST_STREAM); // something to close
        driver.destroyForcibly();
        // No waitFor: the driver's exit is noticed within ~100 ms, so close right away to close first
        // (most of the time; when the loss is noticed first, it is reported once and never again).
        final long closeNs = System.nanoTime();
        client.close();
        final long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closeNs);
        final int reportedBeforeClose = lossCalls.get();
        assertTrue(closeMs < 2_000, "close took " + closeMs + " ms");
        assertTrue(reportedBeforeClose <= 1, "reported " + reportedBeforeClose + " times");
        driver.waitFor();
        Thread.sleep(PolybridgeMediaDriver.DEFAULT_DRIVER_TIMEOUT_MS + 500);
        assertEquals(reportedBeforeClose, lossCalls.get(), "a closed client reports nothing");
    }

    @Test
    void connectingWhereNoDriverRunsFailsWithWorkerUnavailableNamingTheDirectory() throws Exception
    {
        driver.destroyForcibly();
        driver.waitFor();
        Thread.sleep(PolybridgeMediaDriver.DEFAULT_DRIVER_TIMEOUT_MS + 200); // its heartbeat is stale now
        final long startNs = System.nanoTime();
        final PolybridgeException thrown = assertThrows(PolybridgeException.class,
            () -> PolybridgeClient.connect(new PolybridgeClient.Context().aeronDirectoryName(aeronDir.toString())));
        assertEquals(ErrorCode.WORKER_UNAVAILABLE, thrown.errorCode());
        assertTrue(thrown.getMessage().contains(aeronDir.toString()), thrown.getMessage());
        assertTrue(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs) < 5_000);
    }

    private static boolean logSays(final Path log, final String text)
    {
        try
        {
            return Files.exists(log) && Files.readString(log).contains(text);
        }
        catch (final java.io.IOException ex)
        {
            return false;
        }
    }

    private static void awaitTrue(final BooleanSupplier condition, final String what)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() < deadline, what + ": not within 30 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /** Announces itself, takes requests, never answers. */
    private static final class HeldWorker
    {
        private final Subscription requests;
        private final ExclusivePublication control;
        private int received;

        HeldWorker(final Aeron aeron)
        {
            requests = aeron.addSubscription("aeron:ipc", REQUEST_STREAM);
            control = aeron.addExclusivePublication("aeron:ipc", 10);
        }

        void announce()
        {
            final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer();
            final WorkerAnnouncementEncoder encoder = new WorkerAnnouncementEncoder()
                .wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder())
                .schemaId(WorkerAnnouncementEncoder.SCHEMA_ID).schemaVersion(WorkerAnnouncementEncoder.SCHEMA_VERSION)
                .language(Language.JAVA).pid(ProcessHandle.current().pid()).requestStreamId(REQUEST_STREAM);
            encoder.handlersCount(1).next().name("echo");
            encoder.workerId("held-0");
            encoder.requestChannel("");
            final int length = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
            awaitTrue(() -> control.offer(buffer, 0, length) > 0, "announced");
        }

        int poll()
        {
            received += requests.poll((buffer, offset, length, header) -> { }, 10);
            return received;
        }
    }
}
