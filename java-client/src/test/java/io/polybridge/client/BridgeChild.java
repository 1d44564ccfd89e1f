package io.polybridge.client;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Main class of child JVMs that use a {@link Bridge} (see {@link ChildJvm}): prints what the test needs
 * as lines "KEY value" and, on purpose, never calls System.exit, so the JVM must end by itself.
 * <ul>
 *     <li>{@code launch}: {@code Bridge.launch()} with the defaults;</li>
 *     <li>{@code bogus-option}: the Go worker gets an option it does not know;</li>
 *     <li>{@code wrapper-then-failure}: a Go worker started through a shell wrapper (its child), then a
 *     Rust worker that fails;</li>
 *     <li>{@code serve}: launch the defaults, print the directory and pids, and wait to be killed.</li>
 * </ul>
 */
public final class BridgeChild
{
    private BridgeChild()
    {
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        Bridge.Context ctx = NativeWorkers.context(1, 1).startTimeout(Duration.ofSeconds(60));
        switch (mode)
        {
            case "launch", "serve" ->
            {
            }
            case "bogus-option" -> ctx = new Bridge.Context().startTimeout(Duration.ofSeconds(60))
                .worker(NativeWorkers.go().options("--no-such-option"));
            case "wrapper-then-failure" -> ctx = new Bridge.Context().startTimeout(Duration.ofSeconds(60))
                .worker(NativeWorkers.rust().options("--no-such-option"))
                .worker(new WorkerSpec("wrapped", List.of(
                    "/bin/sh", "-c", "\"$0\" \"$@\"; echo wrapper done", NativeWorkers.binary(
                    io.polybridge.codecs.Language.GO).toAbsolutePath().toString())));
            default -> throw new IllegalArgumentException(mode);
        }
        try
        {
            final Bridge bridge = Bridge.launch(ctx);
            System.out.println("DIR " + bridge.aeronDirectoryName());
            System.out.println("PIDS " + String.join(" ", bridge.processes().values().stream()
                .map((p) -> Long.toString(p.pid())).toList()));
            System.out.println("READY");
            if (!mode.equals("serve"))
            {
                bridge.close();
                return;
            }
            while (true)
            {
                LockSupport.parkNanos(Duration.ofSeconds(1).toNanos()); // until a signal ends the JVM
            }
        }
        catch (final RuntimeException ex)
        {
            System.out.println("FAILED " + ex.getClass().getName() + ": " +
                ex.getMessage().replace("\n", "\\n"));
            ex.printStackTrace(System.out);
        }
        System.out.println("MAIN RETURNED");
    }
}
