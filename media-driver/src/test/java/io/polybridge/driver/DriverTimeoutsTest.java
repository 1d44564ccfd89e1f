package io.polybridge.driver;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.driver.MediaDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
            assertTrue(goneMs < 5_000, "the dead subscription held on for " + goneMs + " ms");
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
