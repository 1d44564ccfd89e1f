package io.polybridge.cli;

import io.polybridge.client.PolybridgeException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The polybridge command line, {@code java -jar cli/target/polybridge-cli.jar COMMAND ...}:
 * {@code scan}, {@code call}, {@code workers}. Each command's {@code --help} lists its options;
 * {@link ExitStatus} the exit statuses.
 */
public final class PolybridgeCli
{
    static final String EXIT_STATUS_HELP = """
        Exit status:
           0 OK                   5 TIMEOUT              10 VERSION_MISMATCH
           1 failed (not a call)  6 CANCELLED            11 HANDLER_ERROR
           2 usage error          7 OVERLOADED           12 PANIC
           3 BAD_REQUEST          8 WORKER_UNAVAILABLE   13 UNKNOWN
           4 NOT_FOUND            9 TOO_LARGE
        """;

    static final String HELP = """
        usage: polybridge-cli COMMAND [options] [operands]
               (java -jar cli/target/polybridge-cli.jar COMMAND ...)

        Commands:
          scan      fingerprint and extract HTML signals from files, one JSON line each (make demo)
          call      call a handler: request payload on stdin, response payload on stdout
          workers   list the workers announced on the driver: id, language, pid, handlers, liveness

        Each launches an embedded media driver with the web-scan app's Go and Rust workers (one
        each), or attaches to a running driver with --aeron-dir DIR. 'polybridge-cli COMMAND
        --help' lists its options.

        """ + EXIT_STATUS_HELP;

    /** Held here: JUL keeps loggers weakly, and a collected one would forget its level. */
    private static final Logger WORKER_LOGS = Logger.getLogger("polybridge.worker");

    private PolybridgeCli()
    {
    }

    /**
     * @param args the command and its arguments.
     */
    public static void main(final String[] args)
    {
        locateRoot();
        System.exit(run(args, System.in, System.out, System.err));
    }

    /**
     * Run a command.
     *
     * @param args the command and its arguments.
     * @param in   the request of {@code call}.
     * @param out  the command's output: a response, JSON lines, the list of workers, help.
     * @param err  problems, summaries and, with --verbose, logs.
     * @return the exit status, see {@link ExitStatus}.
     */
    public static int run(final String[] args, final InputStream in, final OutputStream out, final PrintStream err)
    {
        if (args.length == 0)
        {
            err.println("polybridge-cli: which command? scan, call or workers; 'polybridge-cli --help' says more");
            return ExitStatus.USAGE;
        }
        final String command = args[0];
        final List<String> rest = Arrays.asList(args).subList(1, args.length);
        try
        {
            return switch (command)
            {
                case "scan" -> ScanCommand.run(rest, out, err);
                case "call" -> CallCommand.run(rest, in, out, err);
                case "workers" -> WorkersCommand.run(rest, out, err);
                case "help", "-h", "--help" -> help(rest, out, err);
                default ->
                {
                    err.println("polybridge-cli: unknown command '" + command + "'; the commands are scan, call " +
                        "and workers, 'polybridge-cli --help' says more");
                    yield ExitStatus.USAGE;
                }
            };
        }
        catch (final UsageException ex)
        {
            err.println("polybridge-cli " + command + ": " + ex.getMessage());
            err.println("Run 'polybridge-cli " + command + " --help' for its options.");
            return ExitStatus.USAGE;
        }
    }

    private static int help(final List<String> rest, final OutputStream out, final PrintStream err)
        throws UsageException
    {
        if (rest.isEmpty())
        {
            print(out, HELP);
            return ExitStatus.OK;
        }
        return switch (rest.get(0))
        {
            case "scan", "call", "workers" -> run(new String[]{ rest.get(0), "--help" }, InputStream.nullInputStream(),
                out, err);
            default -> throw new UsageException("no command '" + rest.get(0) + "'; the commands are scan, call and " +
                "workers");
        };
    }

    /**
     * Report a failure: a polybridge error with its code's status and a message that starts with the
     * code's name, anything else with {@link ExitStatus#FAILED}.
     *
     * @param command the command that failed.
     * @param failure what happened.
     * @param err     where the message goes.
     * @return the exit status.
     */
    static int failed(final String command, final Throwable failure, final PrintStream err)
    {
        if (failure instanceof PolybridgeException ex)
        {
            err.println(ex.getMessage());
            return ExitStatus.of(ex.errorCode());
        }
        err.println("polybridge-cli " + command + ": " + (failure.getMessage() != null ? failure.getMessage() :
            failure.toString()));
        return ExitStatus.FAILED;
    }

    static void print(final OutputStream out, final String text)
    {
        try
        {
            out.write(text.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * Without --verbose, stderr carries the command's own messages and the bridge's warnings only:
     * the workers' output (logged as {@code polybridge.worker.<id>}) is hidden, since a worker that
     * fails to start is reported with its last lines anyway. With --verbose, everything at INFO.
     *
     * @param verbose whether to show everything.
     */
    static void configureLogging(final boolean verbose)
    {
        final Level level = verbose ? Level.INFO : Level.WARNING;
        final Logger root = Logger.getLogger("");
        root.setLevel(level);
        for (final Handler handler : root.getHandlers())
        {
            handler.setLevel(level);
        }
        WORKER_LOGS.setLevel(verbose ? Level.INFO : Level.OFF);
    }

    /**
     * Workers and the default corpus are found below the repository root ({@code -Dpolybridge.root},
     * default the working directory). When neither says, and this jar lies where the build puts it
     * ({@code <root>/cli/target/}), its checkout is the root: {@code java -jar} works from anywhere.
     */
    static void locateRoot()
    {
        if (System.getProperty("polybridge.root") != null || isCheckout(Path.of("")))
        {
            return;
        }
        try
        {
            final Path jar = Path.of(PolybridgeCli.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            final Path target = jar.toAbsolutePath().getParent();
            final Path root = target == null || target.getParent() == null ? null : target.getParent().getParent();
            if (root != null && isCheckout(root))
            {
                System.setProperty("polybridge.root", root.toString());
            }
        }
        catch (final URISyntaxException | RuntimeException ex)
        {
            // Not run from a jar on a file system: the working directory stays the root.
        }
    }

    private static boolean isCheckout(final Path dir)
    {
        return Files.isRegularFile(dir.resolve("cli").resolve("pom.xml"));
    }
}
