package io.polybridge.client;

import io.polybridge.codecs.ErrorCode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * WebAssembly handlers (docs/wasm.md): Java → Bridge → Go worker with {@code --modules DIR} →
 * a wazero-hosted module → Java, for modules written in Go, Rust and WAT, in both ABIs. The
 * modules are built from {@code native-go/wasm/testdata/modules} by
 * {@code native-go/wasm/build-modules.sh} (run here; quick when up to date). Rust modules need
 * the wasm32-wasip1 target: without it their tests are skipped, saying so.
 */
class WasmHandlersTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final List<String> ECHO_MODULES = List.of(
        "go_echo", "go_echo_reactor", "rust_echo", "rust_echo_reactor", "wat_echo", "wat_echo_command");
    private static final List<String> SERVED = List.of(
        "go_echo", "go_echo_reactor", "go_stats", "rust_echo", "rust_echo_reactor", "rust_stats", "rust_trap",
        "wat_echo", "wat_echo_command", "wat_loop", "wat_trap", "wat_hog");

    private static Path root;
    private static Path built;
    private static Path modules;
    private static boolean rustBuilt;
    private static Bridge bridge;

    @BeforeAll
    static void launch() throws Exception
    {
        NativeWorkers.build();
        root = Path.of(System.getProperty("polybridge.root", "..")).toAbsolutePath().normalize();
        built = root.resolve("native-go/bin/wasm-modules");
        final Process build = new ProcessBuilder(root.resolve("native-go/wasm/build-modules.sh").toString(), built.toString())
            .inheritIO().start();
        assertTrue(build.waitFor(20, TimeUnit.MINUTES), "build-modules.sh did not finish");
        assertEquals(0, build.exitValue(), "build-modules.sh failed");
        rustBuilt = !Files.exists(built.resolve("SKIPPED-rust"));

        // A directory of its own, with only what these tests call (compiling a module costs the
        // worker time) and one module that cannot load, which must not disturb the others.
        modules = Files.createTempDirectory("polybridge-wasm-modules");
        for (final String name : SERVED)
        {
            if (rustBuilt || !name.startsWith("rust_"))
            {
                Files.copy(built.resolve(name + ".wasm"), modules.resolve(name + ".wasm"));
            }
        }
        Files.write(modules.resolve("broken.wasm"), "not a module".getBytes(StandardCharsets.US_ASCII));

        final List<String> awaited = new ArrayList<>();
        for (final String name : SERVED)
        {
            if (rustBuilt || !name.startsWith("rust_"))
            {
                awaited.add("wasm." + name);
            }
        }
        bridge = Bridge.launch(new Bridge.Context()
            .worker(NativeWorkers.go().options(List.of(
                "--modules", modules.toString(),
                "--wasm-memory-limit", "16",
                // Compiled code kept between runs: a Go module takes the worker seconds to compile.
                "--wasm-cache", root.resolve("native-go/bin/wasm-cache/worker").toString())))
            // The worker announces each module once compiled; the first compile of the Go ones is slow.
            .startTimeout(Duration.ofMinutes(5))
            .awaitHandlers(awaited.toArray(new String[0])));
    }

    @AfterAll
    static void close() throws IOException
    {
        if (bridge != null)
        {
            bridge.close();
        }
        if (modules != null)
        {
            try (var files = Files.list(modules))
            {
                for (final Path file : files.toList())
                {
                    Files.deleteIfExists(file);
                }
            }
            Files.deleteIfExists(modules);
        }
    }

    private static void assumeRust(final String module)
    {
        assumeTrue(!module.startsWith("rust_") || rustBuilt, () -> "Rust modules were not built: " + skipReason());
    }

    private static String skipReason()
    {
        try
        {
            return Files.readString(built.resolve("SKIPPED-rust")).trim();
        }
        catch (final IOException ex)
        {
            return ex.toString();
        }
    }

    @Test
    void echoModulesInGoRustAndWatOfBothAbisUpperCaseThroughTheBridge()
    {
        final byte[] small = "Hello, polybridge! 123".getBytes(StandardCharsets.UTF_8);
        final byte[] large = new byte[512 * 1024];
        for (int i = 0; i < large.length; i++)
        {
            large[i] = (byte)"abcXYZ 09-".charAt(i % 10);
        }
        for (final String module : ECHO_MODULES)
        {
            if (module.startsWith("rust_") && !rustBuilt)
            {
                continue;
            }
            for (final byte[] payload : List.of(small, large, new byte[0]))
            {
                final byte[] reply = bridge.call("wasm." + module, payload, DEADLINE).join();
                assertArrayEquals(upper(payload), reply, module + " with " + payload.length + " bytes");
            }
        }
        assumeTrue(rustBuilt, () -> "Go and WAT modules passed; Rust modules were not built: " + skipReason());
    }

    @Test
    void statsIsATypedMethodOverItsLittleEndianSchema()
    {
        for (final String module : List.of("go_stats", "rust_stats"))
        {
            assumeRust(module);
            final ByteBuffer request = ByteBuffer.allocate(4 * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            request.putDouble(3).putDouble(-1.5).putDouble(10).putDouble(0.5);
            final ByteBuffer reply = ByteBuffer.wrap(bridge.call("wasm." + module, request.array(), DEADLINE).join())
                .order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(32, reply.remaining(), module);
            assertEquals(4, reply.getLong(), module + " count");
            assertEquals(-1.5, reply.getDouble(), module + " min");
            assertEquals(10, reply.getDouble(), module + " max");
            assertEquals(3, reply.getDouble(), module + " mean");

            final PolybridgeException bad = failure(bridge.call("wasm." + module, new byte[7], DEADLINE));
            assertEquals(ErrorCode.BAD_REQUEST, bad.errorCode(), bad.getMessage());
        }
    }

    @Test
    void sandboxLimitsReachTheCallerAsErrorCodesAndTheWorkerKeepsServing()
    {
        final long pid = bridge.processes().get("go-0").pid();

        final long started = System.nanoTime();
        final PolybridgeException timeout = failure(bridge.call("wasm.wat_loop", new byte[0], Duration.ofMillis(500)));
        assertEquals(ErrorCode.TIMEOUT, timeout.errorCode(), timeout.getMessage());
        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(30), "the loop outlived its deadline");

        final PolybridgeException trap = failure(bridge.call("wasm.wat_trap", new byte[0], DEADLINE));
        assertEquals(ErrorCode.PANIC, trap.errorCode(), trap.getMessage());
        assertTrue(trap.getMessage().contains("unreachable"), trap.getMessage());

        final PolybridgeException hog = failure(bridge.call("wasm.wat_hog", new byte[0], DEADLINE));
        assertEquals(ErrorCode.HANDLER_ERROR, hog.errorCode(), hog.getMessage());
        assertTrue(hog.getMessage().contains("exceeded its memory limit of 16 MiB"), hog.getMessage());

        if (rustBuilt)
        {
            final PolybridgeException panic = failure(bridge.call("wasm.rust_trap", new byte[0], DEADLINE));
            assertEquals(ErrorCode.PANIC, panic.errorCode(), panic.getMessage());
            assertTrue(panic.getMessage().contains("gives up"), panic.getMessage());
        }

        assertArrayEquals("STILL".getBytes(StandardCharsets.US_ASCII),
            bridge.call("wasm.wat_echo", "still".getBytes(StandardCharsets.US_ASCII), DEADLINE).join());
        assertEquals(pid, bridge.processes().get("go-0").pid(), "the worker was restarted");
    }

    @Test
    void aBrokenModuleIsNotAnnouncedAndTheOthersAre()
    {
        final List<String> handlers = bridge.liveWorkers().get(0).handlers();
        assertTrue(handlers.contains("wasm.wat_echo"), handlers::toString);
        assertTrue(handlers.contains("echo"), handlers::toString);
        assertFalse(handlers.contains("wasm.broken"), handlers::toString);
        assertEquals(ErrorCode.NOT_FOUND, failure(bridge.call("wasm.broken", new byte[0], DEADLINE)).errorCode());
    }

    @Test
    void aModuleAddedToTheDirectoryIsServedAndARemovedOneIsNotWithoutARestart() throws IOException
    {
        final long pid = bridge.processes().get("go-0").pid();
        final Path staged = modules.resolve(".added.wasm.tmp");
        Files.copy(built.resolve("wat_echo.wasm"), staged, StandardCopyOption.REPLACE_EXISTING);
        Files.move(staged, modules.resolve("added.wasm"), StandardCopyOption.ATOMIC_MOVE);

        // Generous bounds: the worker polls every 250 ms; on a loaded 2-core machine anything goes.
        awaitUntil(() -> routable("wasm.added"), "wasm.added was not announced");
        assertArrayEquals("ADDED".getBytes(StandardCharsets.US_ASCII),
            bridge.call("wasm.added", "added".getBytes(StandardCharsets.US_ASCII), DEADLINE).join());

        Files.delete(modules.resolve("added.wasm"));
        awaitUntil(() -> !routable("wasm.added"), "wasm.added was still announced after its file was removed");
        assertEquals(ErrorCode.NOT_FOUND, failure(bridge.call("wasm.added", new byte[0], DEADLINE)).errorCode());
        assertEquals(pid, bridge.processes().get("go-0").pid(), "the worker was restarted");
    }

    private static boolean routable(final String handler)
    {
        for (final WorkerInfo info : bridge.liveWorkers())
        {
            if (info.handlers().contains(handler))
            {
                return true;
            }
        }
        return false;
    }

    private static void awaitUntil(final BooleanSupplier condition, final String message)
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                fail(message + " within 60 s; workers: " + bridge.describeWorkers());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
    }

    private static byte[] upper(final byte[] payload)
    {
        return new String(payload, StandardCharsets.ISO_8859_1).toUpperCase(Locale.ROOT).getBytes(StandardCharsets.ISO_8859_1);
    }

    private static PolybridgeException failure(final CompletableFuture<byte[]> call)
    {
        try
        {
            final byte[] unexpected = call.join();
            return fail("expected a failure, got " + Arrays.toString(Arrays.copyOf(unexpected, Math.min(16, unexpected.length))));
        }
        catch (final CompletionException ex)
        {
            return assertInstanceOf(PolybridgeException.class, ex.getCause());
        }
    }
}
