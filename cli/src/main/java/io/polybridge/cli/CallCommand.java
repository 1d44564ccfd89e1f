package io.polybridge.cli;

import io.polybridge.codecs.ErrorCode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code call HANDLER}: the request payload from stdin, the response bytes to stdout, as they are.
 * A failed call prints its error code and message on stderr and exits with the code's
 * {@link ExitStatus}.
 */
final class CallCommand
{
    static final String HELP = """
        usage: polybridge-cli call [options] HANDLER < request > response

        Calls HANDLER on a live worker that serves it (the least loaded): the request payload is read
        from stdin, the response payload written to stdout as it is. A failed call writes its error
        code and message to stderr, e.g. "NOT_FOUND: no live worker serves 'x'; served: [echo, ...]",
        and exits with the code's status (see the table below).

        Options:
          --timeout-ms N      the call's deadline in milliseconds (default 30000)
        """ + LaunchOptions.HELP + """

        Examples:
          echo -n hello | polybridge-cli call echo
          polybridge-cli call --modules wasm/ wasm.upper < in.txt
          polybridge-cli call --aeron-dir /dev/shm/aeron-$USER --timeout-ms 500 debug.sleep < ms.bin

        """ + PolybridgeCli.EXIT_STATUS_HELP;

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** Past its deadline the client fails the call itself; this only guards against a bug there. */
    private static final Duration COMPLETION_GRACE = Duration.ofSeconds(10);

    private final LaunchOptions launch = new LaunchOptions();
    private Duration timeout = DEFAULT_TIMEOUT;
    private String handler;

    private CallCommand()
    {
    }

    static int run(final List<String> args, final InputStream in, final OutputStream out, final PrintStream err)
        throws UsageException
    {
        final CallCommand command = new CallCommand();
        if (!command.parse(new Arguments(args)))
        {
            PolybridgeCli.print(out, HELP);
            return ExitStatus.OK;
        }
        if (in == System.in && System.console() != null)
        {
            err.println("polybridge-cli call: reading the request from the terminal; end it with Ctrl-D " +
                "(or give it with < file, or an empty one with < /dev/null)");
        }
        final byte[] request;
        try
        {
            request = in.readAllBytes();
        }
        catch (final IOException ex)
        {
            err.println("polybridge-cli call: cannot read the request from stdin: " + ex);
            return ExitStatus.FAILED;
        }
        return command.call(request, out, err);
    }

    /** @return false for --help. */
    private boolean parse(final Arguments args) throws UsageException
    {
        while (args.hasNext())
        {
            final String arg = args.next();
            if (arg == null)
            {
                break;
            }
            if (!args.isOption(arg))
            {
                if (handler != null)
                {
                    throw new UsageException("one handler per call; got '" + handler + "' and '" + arg + "'");
                }
                handler = arg;
                continue;
            }
            switch (arg)
            {
                case "-h", "--help" ->
                {
                    return false;
                }
                case "--timeout-ms" -> timeout = Duration.ofMillis(args.number(arg, 1, Integer.MAX_VALUE));
                case "--header" -> throw new UsageException("--header: the transport carries no request " +
                    "metadata yet, so call sends the payload alone; put what the handler needs in the payload");
                default ->
                {
                    if (!launch.parse(arg, args))
                    {
                        throw new UsageException("unknown option " + arg);
                    }
                }
            }
        }
        if (handler == null)
        {
            throw new UsageException("which handler? e.g. 'polybridge-cli call echo < request'; " +
                "'polybridge-cli workers' lists the handlers served");
        }
        launch.check();
        return true;
    }

    private int call(final byte[] request, final OutputStream out, final PrintStream err)
    {
        PolybridgeCli.configureLogging(launch.verbose);
        boolean served = false;
        boolean module = false;
        try (Session session = Session.open(launch, err))
        {
            served = session.awaitHandler(handler);
            module = session.isModule(handler);
            final CompletableFuture<byte[]> call = session.bridge().call(handler, request, timeout);
            final byte[] response = call.get(timeout.plus(COMPLETION_GRACE).toMillis(), TimeUnit.MILLISECONDS);
            out.write(response);
            out.flush();
            return ExitStatus.OK;
        }
        catch (final ExecutionException ex)
        {
            final int status = PolybridgeCli.failed("call", ex.getCause(), err);
            if (!served && module)
            {
                err.println("polybridge-cli call: " + launch.modules + " holds the module of " + handler + ", but no " +
                    "Go worker announced it within " + Session.MODULES_TIMEOUT.toSeconds() + " s: it may not compile " +
                    "or may import what the sandbox refuses; --verbose shows why in the Go worker's log");
            }
            return status;
        }
        catch (final TimeoutException ex)
        {
            err.println("TIMEOUT: no outcome " + COMPLETION_GRACE.toSeconds() + " s past the deadline of " + timeout);
            return ExitStatus.of(ErrorCode.TIMEOUT);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return PolybridgeCli.failed("call", ex, err);
        }
        catch (final IOException | RuntimeException ex)
        {
            return PolybridgeCli.failed("call", ex, err);
        }
    }
}
