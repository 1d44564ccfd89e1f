package io.polybridge.cli;

import io.polybridge.client.PolybridgeClient;
import io.polybridge.client.WorkerInfo;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * {@code workers}: the workers announced on the driver, one per line: a table, or JSON lines with
 * {@code --json}.
 */
final class WorkersCommand
{
    static final String HELP = """
        usage: polybridge-cli workers [options]

        Lists the workers announced on the driver, one per line: id, language, pid, request stream,
        schema (id:version), state (live, or dead when it stopped announcing itself) and handlers.
        By default that is the workers it spawns itself (one Go, one Rust); with --aeron-dir, those
        announcing themselves on that driver within --discover-ms.

        Options:
          --json              one JSON object per worker per line: id, language, pid,
                              request_stream, schema_id, schema_version, live, handlers,
                              request_channel (where its requests go)
        """ + LaunchOptions.HELP + """

        Examples:
          polybridge-cli workers
          polybridge-cli workers --aeron-dir /dev/shm/aeron-$USER --json

        Exit status: 0, also when no worker announced itself; 1 when the workers could not be
        started; 2 for a bad command line.
        """;

    private final LaunchOptions launch = new LaunchOptions();
    private boolean json;

    private WorkersCommand()
    {
    }

    static int run(final List<String> args, final OutputStream out, final PrintStream err) throws UsageException
    {
        final WorkersCommand command = new WorkersCommand();
        if (!command.parse(new Arguments(args)))
        {
            PolybridgeCli.print(out, HELP);
            return ExitStatus.OK;
        }
        return command.list(out, err);
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
                throw new UsageException("workers takes no operands, got '" + arg + "'");
            }
            switch (arg)
            {
                case "-h", "--help" ->
                {
                    return false;
                }
                case "--json" ->
                {
                    args.flag(arg);
                    json = true;
                }
                default ->
                {
                    if (!launch.parse(arg, args))
                    {
                        throw new UsageException("unknown option " + arg);
                    }
                }
            }
        }
        launch.check();
        return true;
    }

    private int list(final OutputStream out, final PrintStream err)
    {
        PolybridgeCli.configureLogging(launch.verbose);
        final List<Row> rows = new ArrayList<>();
        try (Session session = Session.open(launch, err))
        {
            session.awaitModules();
            session.discover();
            final PolybridgeClient client = session.bridge().client();
            for (final WorkerInfo info : client.workers())
            {
                rows.add(new Row(info, client.isLive(info.requestStreamId())));
            }
        }
        catch (final RuntimeException ex)
        {
            return PolybridgeCli.failed("workers", ex, err);
        }
        rows.sort(Comparator.comparing((Row row) -> row.info.workerId()));
        final StringBuilder text = new StringBuilder();
        if (json)
        {
            for (final Row row : rows)
            {
                json(text, row).append('\n');
            }
        }
        else
        {
            table(text, rows);
        }
        PolybridgeCli.print(out, text.toString());
        if (rows.isEmpty())
        {
            err.println("polybridge-cli workers: no worker announced itself" +
                (launch.attached() ? " on " + launch.aeronDir + " within " + launch.discover.toMillis() + " ms" : ""));
        }
        return ExitStatus.OK;
    }

    /**
     * A worker's latest announcement; live when it is still announcing itself. (A worker that
     * replaced it on the same request stream, or another with its id, is a row of its own.)
     */
    private record Row(WorkerInfo info, boolean live)
    {
    }

    private static StringBuilder json(final StringBuilder out, final Row row)
    {
        final WorkerInfo info = row.info;
        out.append("{\"id\":");
        Json.string(out, info.workerId()).append(",\"language\":");
        Json.string(out, String.valueOf(info.language())).append(",\"pid\":").append(info.pid())
            .append(",\"request_stream\":").append(info.requestStreamId())
            .append(",\"schema_id\":").append(info.schemaId())
            .append(",\"schema_version\":").append(info.schemaVersion())
            .append(",\"live\":").append(row.live)
            .append(",\"handlers\":[");
        for (int i = 0; i < info.handlers().size(); i++)
        {
            Json.string(out.append(i == 0 ? "" : ","), info.handlers().get(i));
        }
        Json.string(out.append("],\"request_channel\":"), info.requestChannel());
        return out.append('}');
    }

    private static void table(final StringBuilder out, final List<Row> rows)
    {
        final List<String[]> cells = new ArrayList<>();
        cells.add(new String[]{ "ID", "LANGUAGE", "PID", "STREAM", "SCHEMA", "STATE", "HANDLERS" });
        for (final Row row : rows)
        {
            final WorkerInfo info = row.info;
            cells.add(new String[]{
                info.workerId(),
                String.valueOf(info.language()),
                Long.toString(info.pid()),
                Integer.toString(info.requestStreamId()),
                info.schemaId() + ":" + info.schemaVersion(),
                row.live ? "live" : "dead",
                String.join(",", info.handlers()) });
        }
        final int[] widths = new int[cells.get(0).length];
        for (final String[] line : cells)
        {
            for (int i = 0; i < line.length; i++)
            {
                widths[i] = Math.max(widths[i], line[i].length());
            }
        }
        for (final String[] line : cells)
        {
            final StringBuilder text = new StringBuilder();
            for (int i = 0; i < line.length; i++)
            {
                text.append(i == line.length - 1 ? line[i] : String.format(Locale.ROOT, "%-" + widths[i] + "s  ", line[i]));
            }
            out.append(text.toString().stripTrailing()).append('\n');
        }
    }
}
