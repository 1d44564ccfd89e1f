package io.polybridge.perf;

import io.aeron.driver.MediaDriver;
import io.polybridge.client.PolybridgeClient;
import io.polybridge.client.WorkerStub;
import io.polybridge.client.WorkerProcess;
import io.polybridge.codecs.Language;
import io.polybridge.driver.EmbeddedMediaDriver;
import io.polybridge.driver.PolybridgeMediaDriver;
import io.polybridge.perf.baseline.UdsBaselineClient;
import io.polybridge.perf.baseline.UdsBaselineServer;
import org.agrona.CloseHelper;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Something that answers {@code echo}: a polybridge worker process behind an embedded media
 * driver, or the UDS + protobuf baseline server. Same call shape for both, so one benchmark
 * body measures either.
 * <p>
 * Two knobs for finding out what bounds a result, off by default:
 * {@code -Dpolybridge.perf.workerOptions="--idle spin"} (extra worker command-line options) and
 * {@code -Dpolybridge.perf.clientIdle=yield|spin|backoff} (the client agent's idle strategy).
 */
abstract class Endpoint implements AutoCloseable
{
    abstract CompletableFuture<byte[]> call(String handler, byte[] payload);

    public abstract void close();

    /**
     * @param transport        which one.
     * @param ipcTermLength    the driver's IPC term length (0: polybridge's default, 16 MiB).
     * @param callTimeout      the deadline of each polybridge call.
     * @return a connected endpoint, its worker announced.
     */
    static Endpoint open(final Transport transport, final int ipcTermLength, final Duration callTimeout)
    {
        return switch (transport)
        {
            case POLYBRIDGE_GO -> polybridge(Language.GO, ipcTermLength, callTimeout);
            case POLYBRIDGE_RUST -> polybridge(Language.RUST, ipcTermLength, callTimeout);
            case UDS_PROTOBUF -> baseline();
        };
    }

    static Polybridge polybridge(final Language language, final int ipcTermLength, final Duration callTimeout)
    {
        return polybridge(language, LibraryWorkers.binary(language), ipcTermLength, callTimeout,
            System.getProperty("polybridge.perf.clientIdle", "backoff"));
    }

    /**
     * @param clientIdle the client agent's idle strategy: {@code backoff} (the client's default,
     *                   {@code BackoffSleepIdleStrategy}: spin, yield, park up to 1 ms, sleep when idle),
     *                   {@code yield} or {@code spin}.
     */
    static Polybridge polybridge(
        final Language language, final int ipcTermLength, final Duration callTimeout, final String clientIdle)
    {
        return polybridge(language, LibraryWorkers.binary(language), ipcTermLength, callTimeout, clientIdle);
    }

    /**
     * @param binary the worker to start (the library's test worker, or a web-scan worker for the real job).
     */
    static Polybridge polybridge(
        final Language language,
        final Path binary,
        final int ipcTermLength,
        final Duration callTimeout,
        final String clientIdle)
    {
        final MediaDriver.Context ctx = PolybridgeMediaDriver.context();
        if (ipcTermLength > 0)
        {
            ctx.ipcTermBufferLength(ipcTermLength);
        }
        final EmbeddedMediaDriver driver = EmbeddedMediaDriver.launch(ctx);
        WorkerProcess process = null;
        try
        {
            final String workerId = language.name().toLowerCase() + "-perf";
            process = WorkerProcess.start(
                binary, driver.aeronDirectoryName(), workerId,
                language == Language.GO ? 100 : 200,
                Path.of(System.getProperty("java.io.tmpdir"), "polybridge-perf-" + workerId + ".log"), workerOptions());
            final PolybridgeClient.Context clientCtx = new PolybridgeClient.Context()
                .aeronDirectoryName(driver.aeronDirectoryName())
                .defaultTimeout(callTimeout)
                .completionExecutor(Runnable::run);
            switch (clientIdle)
            {
                case "yield" -> clientCtx.idleStrategy(YieldingIdleStrategy::new);
                case "spin" -> clientCtx.idleStrategy(BusySpinIdleStrategy::new);
                case "backoff" -> { } // the client's default
                default -> throw new IllegalArgumentException("client idle strategy must be backoff, yield or spin, was " + clientIdle);
            }
            final PolybridgeClient client = PolybridgeClient.connect(clientCtx);
            try
            {
                return new Polybridge(driver, process, client, client.awaitWorker(workerId, Duration.ofSeconds(30)));
            }
            catch (final RuntimeException ex)
            {
                client.close();
                throw ex;
            }
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.closeAll(process, driver);
            throw ex;
        }
    }

    static List<String> workerOptions()
    {
        final String options = System.getProperty("polybridge.perf.workerOptions", "").trim();
        return options.isEmpty() ? List.of() : List.of(options.split("\\s+"));
    }

    static Baseline baseline()
    {
        final UdsBaselineServer server = UdsBaselineServer.start();
        try
        {
            return new Baseline(server, UdsBaselineClient.connect(server.socket()));
        }
        catch (final RuntimeException ex)
        {
            server.close();
            throw ex;
        }
    }

    static final class Polybridge extends Endpoint
    {
        final EmbeddedMediaDriver driver;
        final WorkerProcess process;
        final PolybridgeClient client;
        final WorkerStub worker;

        Polybridge(
            final EmbeddedMediaDriver driver, final WorkerProcess process, final PolybridgeClient client, final WorkerStub worker)
        {
            this.driver = driver;
            this.process = process;
            this.client = client;
            this.worker = worker;
        }

        CompletableFuture<byte[]> call(final String handler, final byte[] payload)
        {
            return worker.call(handler, payload);
        }

        public void close()
        {
            CloseHelper.closeAll(client, process, driver);
        }
    }

    static final class Baseline extends Endpoint
    {
        final UdsBaselineServer server;
        final UdsBaselineClient client;

        Baseline(final UdsBaselineServer server, final UdsBaselineClient client)
        {
            this.server = server;
            this.client = client;
        }

        CompletableFuture<byte[]> call(final String handler, final byte[] payload)
        {
            return client.call(handler, payload);
        }

        public void close()
        {
            CloseHelper.closeAll(client, server);
        }
    }
}
