package io.polybridge.hello;

import io.polybridge.client.Bridge;
import io.polybridge.client.Method;
import io.polybridge.client.WorkerSpec;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The hello example: a Java main launches a Go and a Rust worker with {@link Bridge} and calls the typed method
 * {@code hello.greet} (examples/hello/schema/hello.xml) on each. Exit status 1 when an answer is wrong.
 * <pre>
 * java -jar examples/hello/java/target/hello.jar [GO_WORKER RUST_WORKER]     (from the repository root)
 * </pre>
 */
public final class Hello
{
    /** Greet{name} → Greeting{text}, one message of hello.xml each way. */
    static final Method<String, String> GREET = Method.of("hello.greet", GreetCodecs.GREET, GreetCodecs.GREETING);

    public static void main(final String[] args)
    {
        Logger.getLogger("").setLevel(Level.WARNING); // the workers' logs: warnings only
        final Path go = Path.of(args.length > 0 ? args[0] : "examples/hello/go/bin/hello-worker-go");
        final Path rust = Path.of(args.length > 1 ? args[1] : "native-rust/target/release/hello-worker-rust");
        final Bridge.Context ctx = new Bridge.Context()
            .worker(new WorkerSpec("hello-go", go))
            .worker(new WorkerSpec("hello-rust", rust));
        int wrong = 0;
        try (Bridge bridge = Bridge.launch(ctx)) // returns once both workers have announced themselves
        {
            for (final String workerId : List.of("hello-go-0", "hello-rust-0"))
            {
                final String greeting = bridge.client().awaitWorker(workerId, Duration.ofSeconds(10))
                    .call(GREET, "Ada", Duration.ofSeconds(10)).join();
                System.out.println(workerId + ": " + greeting);
                wrong += greeting.startsWith("Hello, Ada") ? 0 : 1;
            }
        }
        System.exit(wrong == 0 ? 0 : 1);
    }
}
