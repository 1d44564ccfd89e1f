package com.example.consumer;

import io.polybridge.client.Bridge;
import io.polybridge.client.WorkerSpec;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts a worker of one's own (built on polybridge's Go or Rust SDK) with {@code Bridge}, calls one of its
 * handlers with a text and prints the answer:
 * <pre>
 * java -cp consumer.jar com.example.consumer.CallWorker ./polybridge-consumer-go consumer.upper "hello"
 * </pre>
 */
public final class CallWorker
{
    public static void main(final String[] args)
    {
        if (args.length != 3)
        {
            System.err.println("usage: CallWorker EXECUTABLE HANDLER TEXT");
            System.exit(2);
        }
        Logger.getLogger("").setLevel(Level.WARNING);
        final Bridge.Context context = new Bridge.Context()
            .worker(new WorkerSpec("consumer", Path.of(args[0]))) // any worker on the SDKs takes Bridge's flags
            .awaitHandlers(args[1]);
        try (Bridge bridge = Bridge.launch(context))
        {
            final byte[] answer = bridge.call(args[1], args[2].getBytes(StandardCharsets.UTF_8),
                Duration.ofSeconds(30)).join();
            System.out.println(new String(answer, StandardCharsets.UTF_8));
        }
    }
}
