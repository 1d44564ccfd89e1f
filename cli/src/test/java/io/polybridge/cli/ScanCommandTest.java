package io.polybridge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scan command (the web-scan app's workers from this module's classpath): JSON lines, an error line per unreadable file, the exit status. */
class ScanCommandTest
{
    @Test
    void jsonStringsEscapeQuotesBackslashesAndControlCharactersAndReplaceLoneSurrogates()
    {
        assertEquals("\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\\u2028é😀\ufffd\"",
            Json.string(new StringBuilder(), "a\"b\\c\n\t\u0001\u007f\u2028é😀\ud800").toString());
        assertEquals("null", Json.string(new StringBuilder(), null).toString());
    }

    @Test
    void everyFileGetsOneLineAnUnreadableOneAnErrorAndTheExitStatusSaysSo(@TempDir final Path dir) throws Exception
    {
        final Path page = dir.resolve("My Page.html");
        Files.writeString(page, "<html><head><title>Tab\tand \"quotes\"</title></head>" +
            "<body><form><input type=password></form><a href=\"https://other.example/\">x</a></body></html>");
        final Path missing = dir.resolve("missing.html");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();

        final int status = Scan.run(new String[]{ "--header", "Server: nginx/1.25.3", page.toString(), missing.toString() },
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

        final List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(1, status, err.toString(StandardCharsets.UTF_8));
        assertEquals(2, lines.size(), lines::toString);
        final String ok = lines.get(0);
        assertTrue(ok.startsWith("{\"file\":\"" + page + "\",\"url\":\"https://my-page.example/\",\"bytes\":"), ok);
        assertTrue(ok.contains("\"title\":\"Tab and \\\"quotes\\\"\""), ok);
        assertTrue(ok.contains("\"password_inputs\":1"), ok);
        assertTrue(ok.contains("\"external_hosts\":[\"other.example\"]"), ok);
        assertTrue(ok.contains("{\"name\":\"Nginx\",\"version\":\"1.25.3\""), ok);
        assertTrue(ok.matches(".*\"micros\":\\{\"go\":\\d+,\"rust\":\\d+}}$"), ok);
        assertTrue(lines.get(1).startsWith("{\"file\":\"" + missing + "\",\"error\":\"cannot read: "), lines.get(1));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("2 files (1 failed)"), err::toString);
    }
}
