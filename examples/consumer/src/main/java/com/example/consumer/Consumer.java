package com.example.consumer;

import io.polybridge.client.Bridge;
import io.polybridge.webscan.Fingerprint;
import io.polybridge.webscan.Signals;
import io.polybridge.webscan.WebScan;
import io.polybridge.webscan.WebScanWorkers;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What a service depending on polybridge looks like: {@code Bridge.launch} starts a media driver and the
 * web-scan app's Go and Rust workers (extracted from the polybridge-web-scan jar by {@link WebScanWorkers}), and
 * each page gets one JSON line with its wappalyzer fingerprint (Go) and HTML signals (Rust) through
 * {@link WebScan}, the fields of polybridge's {@code scan}.
 * <pre>
 * java -jar target/consumer.jar page.html other.html
 * </pre>
 */
public final class Consumer
{
    public static void main(final String[] args) throws Exception
    {
        if (args.length == 0)
        {
            System.err.println("usage: java -jar consumer.jar FILE...");
            System.exit(2);
        }
        Logger.getLogger("").setLevel(Level.WARNING); // worker logs: warnings only
        int failed = 0;
        try (Bridge bridge = Bridge.launch(WebScanWorkers.addTo(new Bridge.Context(), 1, 1)))
        {
            final WebScan webScan = new WebScan(bridge, Duration.ofSeconds(30));
            for (final String name : args)
            {
                final Path file = Path.of(name);
                final URI url = URI.create("https://" + stem(file) + ".example/");
                try
                {
                    final byte[] body = Files.readAllBytes(file);
                    final long startNs = System.nanoTime();
                    final CompletableFuture<Fingerprint> fingerprint = webScan.fingerprint(url, Map.of(), body);
                    final CompletableFuture<Signals> signals = webScan.signals(url, body);
                    final Fingerprint f = fingerprint.join();
                    final long goMicros = (System.nanoTime() - startNs) / 1000;
                    final Signals s = signals.join();
                    final long rustMicros = (System.nanoTime() - startNs) / 1000;
                    System.out.println(json(file, url, body.length, f, s, goMicros, rustMicros));
                }
                catch (final Exception ex)
                {
                    failed++;
                    System.out.println("{\"file\":" + str(file.toString()) + ",\"error\":" + str(ex.toString()) + "}");
                }
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    private static String json(
        final Path file, final URI url, final int bytes, final Fingerprint f, final Signals s,
        final long goMicros, final long rustMicros)
    {
        final StringBuilder json = new StringBuilder("{\"file\":").append(str(file.toString()))
            .append(",\"url\":").append(str(url.toString())).append(",\"bytes\":").append(bytes)
            .append(",\"fingerprint\":{\"technologies\":[");
        for (int i = 0; i < f.technologies().size(); i++)
        {
            final Fingerprint.Technology t = f.technologies().get(i);
            json.append(i == 0 ? "" : ",").append("{\"name\":").append(str(t.name()))
                .append(",\"version\":").append(str(t.version()))
                .append(",\"categories\":").append(strings(t.categories())).append('}');
        }
        return json.append("]},\"signals\":{\"title\":").append(str(s.title()))
            .append(",\"links\":").append(s.links()).append(",\"scripts\":").append(s.scripts())
            .append(",\"stylesheets\":").append(s.stylesheets()).append(",\"iframes\":").append(s.iframes())
            .append(",\"forms\":").append(s.forms()).append(",\"password_inputs\":").append(s.passwordInputs())
            .append(",\"external_hosts\":").append(strings(s.externalHosts()))
            .append(",\"favicon\":").append(str(s.favicon())).append(",\"digest\":").append(str(s.digest()))
            .append("},\"micros\":{\"go\":").append(goMicros).append(",\"rust\":").append(rustMicros).append("}}")
            .toString();
    }

    private static String stem(final Path file)
    {
        final String name = file.getFileName().toString();
        final int dot = name.lastIndexOf('.');
        final String host = (dot > 0 ? name.substring(0, dot) : name).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
        return host.isEmpty() ? "page" : host;
    }

    private static String strings(final List<String> values)
    {
        final StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < values.size(); i++)
        {
            json.append(i == 0 ? "" : ",").append(str(values.get(i)));
        }
        return json.append(']').toString();
    }

    private static String str(final String value)
    {
        if (value == null)
        {
            return "null";
        }
        final StringBuilder out = new StringBuilder("\"");
        for (final char c : value.toCharArray())
        {
            switch (c)
            {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> out.append(c < 0x20 ? String.format("\\u%04x", (int)c) : String.valueOf(c));
            }
        }
        return out.append('"').toString();
    }
}
