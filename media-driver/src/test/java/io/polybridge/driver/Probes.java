package io.polybridge.driver;

import io.aeron.Aeron;
import io.aeron.Subscription;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Programs the tests run in child JVMs. */
final class Probes
{
    private Probes()
    {
    }

    /** Launch an embedded driver, write its directory to args[0], run until stdin closes. */
    static final class EmbeddedDriver
    {
        public static void main(final String[] args) throws IOException
        {
            try (EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch())
            {
                final Path out = Path.of(args[0]);
                final Path tmp = Path.of(args[0] + ".tmp");
                Files.writeString(tmp, driver.aeronDirectoryName(), StandardCharsets.UTF_8);
                Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
                while (System.in.read() >= 0)
                {
                    Thread.onSpinWait();
                }
            }
        }
    }

    /** Claim a frame on stream args[1] of the driver in args[0], never commit it, and sleep. */
    static final class Claimant
    {
        public static void main(final String[] args) throws InterruptedException
        {
            final Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(args[0]).errorHandler((e) -> { }));
            final io.aeron.Publication publication = aeron.addPublication("aeron:ipc", Integer.parseInt(args[1]));
            final io.aeron.logbuffer.BufferClaim claim = new io.aeron.logbuffer.BufferClaim();
            while (publication.tryClaim(64, claim) <= 0)
            {
                Thread.sleep(1);
            }
            System.out.println("claimed at " + System.currentTimeMillis());
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    /** Subscribe to args[1] on the driver in args[0] with Aeron's default client settings, then sleep. */
    static final class Subscriber
    {
        public static void main(final String[] args) throws InterruptedException
        {
            final Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(args[0]).errorHandler((e) -> { }));
            final Subscription subscription = aeron.addSubscription("aeron:ipc", Integer.parseInt(args[1]));
            System.out.println("subscribed " + subscription.streamId());
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}
