package io.polybridge.chaos;

import io.polybridge.client.Bridge;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * A neighbour: another JVM with its own small {@link Bridge} (one Go and one Rust worker) on the
 * same external driver, calling echo now and then. The harness SIGKILLs it and starts a new one;
 * its workers must notice their parent is gone, and the host must not notice anything. On
 * {@code stop} or end of stdin it closes its bridge and returns from main.
 */
public final class ChaosClientJvm
{
    private static volatile boolean expectedExit;

    private ChaosClientJvm()
    {
    }

    /**
     * @param args {@code --aeron-dir DIR [--go N] [--rust N]}.
     */
    public static void main(final String[] args) throws Exception
    {
        final PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        final Args options = new Args(args);
        ChaosHost.reportUncaughtExceptions();
        Runtime.getRuntime().addShutdownHook(new Thread(() ->
        {
            if (!expectedExit)
            {
                System.err.println("chaos client JVM: exiting without having been asked to");
                protocol.println(Protocol.line("exiting", Map.of("expected", false)));
            }
            ChaosHost.witnessBridgeShutdown();
        }, "chaos-client-exit-witness"));

        final Bridge bridge;
        try
        {
            bridge = Bridge.launch(LibraryWorkers.spawn(new Bridge.Context()
                .aeronDirectoryName(options.text("aeron-dir")), options.integer("go", 1), options.integer("rust", 1)));
        }
        catch (final RuntimeException ex)
        {
            ex.printStackTrace();
            protocol.println(Protocol.line("launch-failed", Map.of("error", ChaosHost.token(ex.toString()))));
            expectedExit = true;
            return;
        }
        protocol.println(Protocol.line("ready", Map.of("pid", ProcessHandle.current().pid())));

        final LongAdder ok = new LongAdder();
        final LongAdder failed = new LongAdder();
        final Thread caller = new Thread(() ->
        {
            final byte[] payload = new byte[64];
            while (!Thread.currentThread().isInterrupted())
            {
                bridge.call("echo", payload, Duration.ofSeconds(2))
                    .whenComplete((response, error) -> (error == null ? ok : failed).increment());
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
        }, "chaos-client-caller");
        caller.setDaemon(true);
        caller.start();

        try (BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)))
        {
            String command;
            while ((command = commands.readLine()) != null && !command.trim().equals("stop"))
            {
                System.err.println("chaos client JVM: unknown command '" + command + "'");
            }
        }
        caller.interrupt();
        expectedExit = true;
        bridge.close();
        protocol.println(Protocol.line("closed", Map.of("ok", ok.sum(), "failed", failed.sum())));
    }
}
