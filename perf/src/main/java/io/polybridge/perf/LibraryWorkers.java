package io.polybridge.perf;

import io.polybridge.codecs.Language;

import java.nio.file.Path;

/**
 * The library's test workers (echo and the debug handlers) as the checkout's build puts them
 * ({@code make workers}), or where {@code -Dpolybridge.worker.go} / {@code -Dpolybridge.worker.rust} say;
 * {@code -Dpolybridge.root} is the repository root (default: here).
 */
final class LibraryWorkers
{
    private LibraryWorkers()
    {
    }

    static Path binary(final Language language)
    {
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        return switch (language)
        {
            case GO -> Path.of(System.getProperty("polybridge.worker.go",
                root.resolve("native-go/bin/polybridge-worker-go").toString()));
            case RUST -> Path.of(System.getProperty("polybridge.worker.rust",
                root.resolve("native-rust/target/release/polybridge-worker-rust").toString()));
            default -> throw new IllegalArgumentException("no test worker for " + language);
        };
    }
}
