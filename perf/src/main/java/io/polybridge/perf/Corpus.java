package io.polybridge.perf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The shared HTML corpus, read in place ({@code -Dpolybridge.corpus}, default
 * {@code <polybridge.root>/../shared/corpus}: manifest.tsv and html/).
 */
final class Corpus
{
    record Page(String name, byte[] body)
    {
    }

    private Corpus()
    {
    }

    static Path directory()
    {
        final Path root = Path.of(System.getProperty("polybridge.root", "."));
        return Path.of(System.getProperty("polybridge.corpus", root.resolve("../shared/corpus").toString()));
    }

    /**
     * Pages in manifest order: {@code all}, {@code sample} (every 7th, from the first) or
     * {@code smoke} (the first 3); perf/uds-baseline's inprocess-fingerprint selects the same way.
     */
    static List<Page> pages(final String which)
    {
        final Path dir = directory();
        try
        {
            final List<String> lines = Files.readAllLines(dir.resolve("manifest.tsv"));
            final List<String> names = new ArrayList<>();
            for (final String line : lines.subList(1, lines.size()))
            {
                if (!line.isBlank())
                {
                    names.add(line.split("\t", 2)[0]);
                }
            }
            final List<String> chosen = switch (which)
            {
                case "all" -> names;
                case "sample" ->
                {
                    final List<String> some = new ArrayList<>();
                    for (int i = 0; i < names.size(); i += 7)
                    {
                        some.add(names.get(i));
                    }
                    yield some;
                }
                case "smoke" -> names.subList(0, Math.min(3, names.size()));
                default -> throw new IllegalArgumentException("pages must be all, sample or smoke, not " + which);
            };
            final List<Page> pages = new ArrayList<>();
            for (final String name : chosen)
            {
                pages.add(new Page(name, Files.readAllBytes(dir.resolve("html").resolve(name + ".html"))));
            }
            return pages;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("the corpus is read from " + dir + " (-Dpolybridge.corpus)", ex);
        }
    }

    /**
     * Real page bytes of exactly {@code size}: the smallest page at least that large, cut to size;
     * above the largest page, pages concatenated from the largest down, then cut.
     */
    static byte[] payloadOf(final int size)
    {
        final List<Page> pages = new ArrayList<>(pages("all"));
        pages.sort(Comparator.comparingInt((Page p) -> p.body().length));
        for (final Page page : pages)
        {
            if (page.body().length >= size)
            {
                return java.util.Arrays.copyOf(page.body(), size);
            }
        }
        final byte[] payload = new byte[size];
        int filled = 0;
        for (int i = pages.size() - 1; filled < size; i = i == 0 ? pages.size() - 1 : i - 1)
        {
            final byte[] body = pages.get(i).body();
            final int n = Math.min(body.length, size - filled);
            System.arraycopy(body, 0, payload, filled, n);
            filled += n;
        }
        return payload;
    }
}
