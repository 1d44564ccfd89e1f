package io.polybridge.driver;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static io.polybridge.driver.ChildJvm.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The timeouts of the drivers polybridge starts: a SIGKILLed client's subscription goes within the
 * client liveness timeout, and a driver restarted after a kill -9 takes over its directory at once.
 * The measured times are printed (docs/lifecycle.md quotes them); the assertions leave wide margins.
 */
class DriverTimeoutsTest
{
    private static final Path LOGS = Path.of("target", "driver-timeouts");

    private Path scratch;

    @BeforeEach
    void scratch() throws IOException
    {
        scratch = Files.createTempDirectory(DriverDirectories.sharedMemoryBase(), "driver-timeouts-test-");
    }

    @AfterEach
    void removeScratch() throws IOException
    {
        DriverDirectories.deleteTree(scratch);
    }

    @Test
    void contextShortensAeronsTimeoutsUnlessPropertiesSaySo()
    {
        final MediaDriver.Context ctx = PolybridgeMediaDriver.context();
        assertEquals(PolybridgeMediaDriver.DEFAULT_TIMER_INTERVAL_NS, ctx.timerIntervalNs());
        assertEquals(PolybridgeMediaDriver.DEFAULT_CLIENT_LIVENESS_TIMEOUT_NS, ctx.clientLivenessTimeoutNs());
        assertEquals(PolybridgeMediaDriver.DEFAULT_DRIVER_TIMEOUT_MS, ctx.driverTimeoutMs());
        assertEquals(PolybridgeMediaDriver.DEFAULT_PUBLICATION_UNBLOCK_TIMEOUT_NS, ctx.publicationUnblockTimeoutNs());
    }

    @Test
    void subscriptionOfASigkilledClientStopsHoldingThePublicationWithinTheLivenessTimeout() throws Exception
    {
        try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch();
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            Publication publication = aeron.addPublication("aeron:ipc", 777))
        {
            final ChildJvm subscriber = ChildJvm.start(LOGS.resolve("subscriber.log"), List.of(), Probes.Subscriber.class,
                driver.aeronDirectoryName(), "777");
            try
            {
                awaitTrue(publication::isConnected, "the child's subscription connected");
                // Keepalives are sent every 500 ms: let one go out so the measurement starts from a
                // realistic point rather than right after a keepalive.
                Thread.sleep(250);
            }
            finally
            {
                subscriber.kill();
            }
            final long killedNs = System.nanoTime();
            awaitTrue(() -> !publication.isConnected(), "the dead subscription removed");
            final long goneMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
            System.out.println("subscription of a SIGKILLed client removed after " + goneMs + " ms (client " +
                "liveness timeout " + TimeUnit.NANOSECONDS.toMillis(driver.context().clientLivenessTimeoutNs()) +
                " ms, timer " + TimeUnit.NANOSECONDS.toMillis(driver.context().timerIntervalNs()) + " ms)");
            assertTrue(goneMs < 8_000, "the dead subscription held on for " + goneMs + " ms");
        }
    }

    @Test
    void frameLeftHalfWrittenByASigkilledWriterHoldsTheLogBackOnlyUntilTheUnblockTimeout() throws Exception
    {
        try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch();
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            Subscription subscription = aeron.addSubscription("aeron:ipc", 778);
            Publication publication = aeron.addPublication("aeron:ipc", 778)) // shares the log with the child's
        {
            final Path log = LOGS.resolve("claimant.log");
            Files.deleteIfExists(log);
            final ChildJvm claimant = ChildJvm.start(log, List.of(), Probes.Claimant.class,
                driver.aeronDirectoryName(), "778");
            try
            {
                awaitTrue(() -> ChildJvm.logSays(log, "claimed") || !claimant.process.isAlive(), "the child claimed");
            }
            finally
            {
                claimant.kill(); // the claimed frame is never committed
            }
            final long killedNs = System.nanoTime();
            final UnsafeBuffer message = new UnsafeBuffer(new byte[]{ 1, 2, 3 });
            awaitTrue(() -> publication.offer(message) > 0, "offered behind the hole");
            final AtomicInteger received = new AtomicInteger();
            awaitTrue(() -> subscription.poll((buffer, offset, length, header) -> received.incrementAndGet(), 10) >= 0 &&
                received.get() > 0, "the frame behind the hole delivered");
            final long heldMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
            System.out.println("a frame behind a SIGKILLed writer's half-written one was delivered after " + heldMs +
                " ms (unblock timeout " +
                TimeUnit.NANOSECONDS.toMillis(driver.context().publicationUnblockTimeoutNs()) + " ms from the claim)");
            assertTrue(heldMs < 8_000, "held back for " + heldMs + " ms");
        }
    }

    @Test
    void standaloneDriverRestartedAfterKill9TakesOverItsDirectory() throws Exception
    {
        final Path aeronDir = scratch.resolve("polybridge-restarted");
        final ChildJvm first = ChildJvm.standaloneDriver(aeronDir, LOGS.resolve("first.log"));
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString())
            .errorHandler((error) -> { })))
        {
            aeron.addPublication("aeron:ipc", 1); // something for the old error log to be about: nothing, fine
        }
        first.kill();
        final long killedNs = System.nanoTime();
        try (ChildJvm second = ChildJvm.standaloneDriver(aeronDir, LOGS.resolve("second.log")))
        {
            final long upMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNs);
            System.out.println("standalone driver restarted in the same directory " + upMs + " ms after kill -9");
            assertTrue(upMs < 10_000, "the restarted driver took " + upMs + " ms");
            try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString())
                .errorHandler((error) -> { })))
            {
                assertTrue(aeron.clientId() >= 0);
            }
        }
        assertFalse(Files.exists(aeronDir));
        try (Stream<Path> left = Files.list(scratch))
        {
            assertEquals(List.of(), left.toList(), "left next to the driver's directory (an old error log?)");
        }
    }
}
