package io.polybridge.cli;


import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code scan}: the web-scan application, {@link Scan}, with its options and output as they are;
 * this command adds --help and the options that choose the workers' modules and extra workers.
 */
final class ScanCommand
{
    static final String HELP = """
        usage: polybridge-cli scan [options] [FILE|DIR]...

        Fingerprints (Go, wappalyzer) and extracts HTML signals (Rust) from each file, one JSON
        object per line on stdout; a summary on stderr. Folders are read recursively, files in name
        order; with no path, ../shared/corpus/html below the repository root. Each page is scanned
        as https://<file-stem>.example/.

        Options:
          --header 'Name: value'  a response header given to wappalyzer (repeatable)
          --aeron-dir DIR     use the media driver in DIR (the workers are still spawned, there)
                              (default: an embedded driver in a private /dev/shm directory)
          --go N              web-scan Go workers to spawn (default 1)
          --rust N            web-scan Rust workers to spawn (default 1)
          --concurrency N     files in flight at once (default 8)
          --timeout-ms N      deadline of each call (default 30000)
          --modules DIR       also serve the WebAssembly modules in DIR (see 'call --help')
          --worker CMD        also spawn this worker (see 'polybridge-cli call --help')
          --verbose           the workers' logs on stderr
          -h, --help          this help

        Exit status: 0 when every file was scanned, 1 when any failed (its line has an "error"
        field), 2 for a bad command line.
        """;

    /** Scan's options that take a value: their values are never options of ours. */
    private static final Set<String> SCAN_VALUE_OPTIONS =
        Set.of("--header", "--aeron-dir", "--go", "--rust", "--concurrency", "--timeout-ms");

    private ScanCommand()
    {
    }

    static int run(final List<String> args, final OutputStream out, final PrintStream err) throws UsageException
    {
        final List<String> scanArgs = new ArrayList<>();
        final LaunchOptions launch = new LaunchOptions();
        final Arguments arguments = new Arguments(args);
        while (arguments.hasNext())
        {
            final String arg = arguments.next();
            if (arg == null)
            {
                break;
            }
            switch (arg)
            {
                case "-h", "--help" ->
                {
                    PolybridgeCli.print(out, HELP);
                    return ExitStatus.OK;
                }
                case "--modules", "--worker" -> launch.parse(arg, arguments);
                case "--discover-ms" -> throw new UsageException("--discover-ms is for call and workers; scan " +
                    "always spawns the workers it needs");
                default ->
                {
                    scanArgs.add(arg);
                    if (SCAN_VALUE_OPTIONS.contains(arg))
                    {
                        scanArgs.add(arguments.value(arg));
                    }
                }
            }
        }
        PolybridgeCli.configureLogging(scanArgs.contains("--verbose")); // Scan quietens the rest itself
        final PrintStream jsonLines = out instanceof PrintStream stream ?
            stream : new PrintStream(out, false, StandardCharsets.UTF_8);
        return Scan.run(scanArgs.toArray(new String[0]), jsonLines, err, (ctx) -> Session.configure(ctx, launch));
    }
}
