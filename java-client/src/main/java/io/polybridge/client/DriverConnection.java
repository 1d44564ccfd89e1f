package io.polybridge.client;

import io.aeron.CommonContext;
import io.polybridge.driver.EmbeddedMediaDriver;
import io.polybridge.driver.PolybridgeMediaDriver;
import org.agrona.CloseHelper;

import java.io.File;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The bridge's media driver and its {@link PolybridgeClient}: an embedded driver (launched, and
 * relaunched after a loss, in a fresh private directory) or an external one at a fixed directory,
 * waited for after a loss. Opened and reopened on the supervisor thread; {@link #client()} from any.
 */
final class DriverConnection
{
    private static final System.Logger LOG = System.getLogger("polybridge.bridge");
    /** A driver's heartbeat older than this means no live driver is at the directory. */
    private static final long DRIVER_ACTIVE_TIMEOUT_MS = 1_000;

    private final String externalDirectory;
    private final PolybridgeClient.Context clientContext;
    private final Consumer<String> userDriverLostHandler;
    private EmbeddedMediaDriver embedded;
    private volatile PolybridgeClient client;
    private volatile String directory;
    /** The process of the driver the current (or last) client connected to, when visible; supervisor thread. */
    private ProcessHandle connectedDriver;

    /**
     * @param externalDirectory an external driver's directory, or null to embed one.
     * @param clientContext     the client settings, reused for every connection.
     */
    DriverConnection(final String externalDirectory, final PolybridgeClient.Context clientContext)
    {
        this.externalDirectory = externalDirectory;
        this.clientContext = clientContext;
        this.userDriverLostHandler = clientContext.driverLostHandler();
    }

    /**
     * Launch the embedded driver if there is none, and connect a new client.
     *
     * @param driverLost told, once, when this client's driver is gone: must not block.
     * @return the new client.
     */
    PolybridgeClient open(final Consumer<PolybridgeClient> driverLost)
    {
        if (externalDirectory == null && embedded == null)
        {
            // launch() first removes stale polybridge directories whose driver is dead (a SIGKILLed JVM's)
            embedded = EmbeddedMediaDriver.launch();
        }
        directory = externalDirectory != null ? externalDirectory : embedded.aeronDirectoryName();
        final PolybridgeClient[] connected = new PolybridgeClient[1];
        clientContext
            .aeronDirectoryName(directory)
            .driverLostHandler((reason) ->
            {
                driverLost.accept(connected[0]);
                if (userDriverLostHandler != null)
                {
                    userDriverLostHandler.accept(reason);
                }
            });
        connected[0] = PolybridgeClient.connect(clientContext);
        client = connected[0];
        connectedDriver = PolybridgeMediaDriver.driverProcess(directory).orElse(null);
        return connected[0];
    }

    /**
     * @return whether {@link #open} can connect now: the driver is embedded (relaunched by open), or an
     *     external driver is active at the directory and is not the one lost. A driver killed moments ago
     *     still has a fresh heartbeat in its cnc.dat: connecting to it waits out the client's whole driver
     *     timeout (10 s) although its successor answers ~1.5 s after the kill. So, when the lost driver's
     *     process was visible, wait for a live driver process that is another one (never waits itself).
     */
    boolean driverAvailable()
    {
        if (externalDirectory == null)
        {
            return true;
        }
        if (!PolybridgeMediaDriver.isDriverActive(externalDirectory))
        {
            return false;
        }
        final ProcessHandle driver = PolybridgeMediaDriver.driverProcess(externalDirectory).orElse(null);
        if (connectedDriver == null)
        {
            // the lost driver's process could not be seen (another pid namespace): its heartbeat decides
            return driver != null ||
                CommonContext.isDriverActive(new File(externalDirectory), DRIVER_ACTIVE_TIMEOUT_MS, (message) -> { });
        }
        return driver != null && !driver.equals(connectedDriver); // equals compares pid and start time
    }

    /**
     * After a loss: close the client, whose Aeron client is finished, and the embedded driver if its
     * heartbeat has stopped too (its directory goes with it), so open starts afresh. An embedded driver
     * still heartbeating was only starved of CPU past the client's driver timeout: it is kept.
     */
    void closeAfterLoss()
    {
        final long startNs = System.nanoTime();
        CloseHelper.quietClose(client);
        if (embedded != null &&
            !CommonContext.isDriverActive(new File(directory), DRIVER_ACTIVE_TIMEOUT_MS, (message) -> { }))
        {
            LOG.log(System.Logger.Level.WARNING, "the embedded media driver in " + directory + " is dead; " +
                "closing it and launching a new one");
            CloseHelper.quietClose(embedded);
            embedded = null;
        }
        final long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNs);
        LOG.log(tookMs > 500 ? System.Logger.Level.WARNING : System.Logger.Level.DEBUG,
            "closed the client of the lost driver in " + tookMs + " ms");
    }

    /** Close the client, then the embedded driver; an external driver keeps running. */
    void close()
    {
        try
        {
            CloseHelper.quietClose(client);
        }
        finally
        {
            CloseHelper.quietClose(embedded);
            embedded = null;
        }
    }

    /**
     * @return the current client, null before the first open.
     */
    PolybridgeClient client()
    {
        return client;
    }

    /**
     * @return whether the driver is embedded.
     */
    boolean isEmbedded()
    {
        return externalDirectory == null;
    }

    /**
     * @return the driver's directory (a new one after an embedded driver is relaunched), null before
     *     the first open.
     */
    String aeronDirectoryName()
    {
        return directory;
    }
}
