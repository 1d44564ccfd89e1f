package io.polybridge.cli;

import io.polybridge.codecs.ErrorCode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing and the exit-status table, in process: nothing here starts a driver or a worker. */
class CommandLineTest
{
    @Test
    void everyErrorCodeHasItsOwnExitStatusAndTheHelpTableSaysWhich()
    {
        final Set<Integer> statuses = new HashSet<>();
        for (final ErrorCode code : ErrorCode.values())
        {
            if (code == ErrorCode.OK || code == ErrorCode.NULL_VAL)
            {
                continue;
            }
            final int status = ExitStatus.of(code);
            assertTrue(status > ExitStatus.USAGE && status < 64, code + " -> " + status);
            assertTrue(statuses.add(status), code + " shares exit status " + status);
            assertTrue(Pattern.compile("\\b" + status + " " + code.name() + "\\b").matcher(PolybridgeCli.EXIT_STATUS_HELP)
                .find(), "the help's exit status table lacks '" + status + " " + code + "'");
        }
        assertEquals(0, ExitStatus.of(ErrorCode.OK));
        assertEquals(4, ExitStatus.of(ErrorCode.NOT_FOUND));
        assertEquals(5, ExitStatus.of(ErrorCode.TIMEOUT));
    }

    @Test
    void optionsTakeTheirValueAfterASpaceOrAnEqualsSignAndDoubleDashEndsThem() throws Exception
    {
        final Arguments args = new Arguments(List.of("--go", "2", "--rust=3", "--", "--odd-handler"));
        final LaunchOptions launch = new LaunchOptions();
        assertTrue(launch.parse(args.next(), args));
        assertTrue(launch.parse(args.next(), args));
        final String operand = args.next();
        assertEquals("--odd-handler", operand);
        assertFalse(args.isOption(operand));
        assertFalse(args.hasNext());
        assertEquals(2, launch.goInstances());
        assertEquals(3, launch.rustInstances());
    }

    @Test
    void attachingToADriverSpawnsNoGoOrRustWorkerUnlessAskedTo() throws Exception
    {
        final LaunchOptions launch = new LaunchOptions();
        final Arguments args = new Arguments(List.of("--aeron-dir", "/dev/shm/somewhere", "--rust", "1"));
        assertTrue(launch.parse(args.next(), args));
        assertTrue(launch.parse(args.next(), args));
        assertEquals(0, launch.goInstances());
        assertEquals(1, launch.rustInstances());
        assertEquals(1, new LaunchOptions().goInstances());
    }

    @Test
    void aWorkerCommandIsFoundOnThePathAndKeepsItsOwnOptions() throws Exception
    {
        final WorkerCommand command = WorkerCommand.parse("  sh -c true ");
        assertTrue(command.executable().isAbsolute(), command::toString);
        assertEquals(List.of("-c", "true"), command.options());
        final UsageException missing = assertThrows(UsageException.class,
            () -> WorkerCommand.parse("./no/such/worker --pool-size 2"));
        assertTrue(missing.getMessage().contains("is not an executable file"), missing::getMessage);
    }

    @Test
    void badCommandLinesExitTwoWithWhatToDoAndStartNothing()
    {
        for (final List<String> args : List.of(
            List.<String>of(),
            List.of("frob"),
            List.of("call"),
            List.of("call", "--bogus", "echo"),
            List.of("call", "echo", "html.signals"),
            List.of("call", "--timeout-ms", "soon", "echo"),
            List.of("call", "--timeout-ms"),
            List.of("call", "--go", "-1", "echo"),
            List.of("call", "--modules", "/no/such/dir", "echo"),
            List.of("workers", "--json=yes"),
            List.of("workers", "extra"),
            List.of("scan", "--discover-ms", "5"),
            List.of("call", "--reply-channel", "aeron:udp?endpoint=10.0.0.1:41000", "echo"),
            List.of("workers", "--announce-channel", "aeron:udp?control=10.0.0.2:40102"),
            List.of("call", "--aeron-dir", "/dev/shm/x", "--reply-channel", "10.0.0.1:41000", "echo"),
            List.of("workers", "--aeron-dir", "/dev/shm/x", "--announce-channel", "udp://10.0.0.2:40102"),
            List.of("help", "frob")))
        {
            final Run run = run(args);
            assertEquals(ExitStatus.USAGE, run.status, args + ": " + run.err);
            assertTrue(run.err.contains("--help"), args + ": " + run.err);
            assertEquals("", run.out, args.toString());
        }
    }

    @Test
    void helpGoesToStdoutWithStatusZero()
    {
        for (final List<String> args : List.of(List.of("--help"), List.of("help", "call"), List.of("call", "--help"),
            List.of("workers", "-h"), List.of("scan", "--help")))
        {
            final Run run = run(args);
            assertEquals(ExitStatus.OK, run.status, args + ": " + run.err);
            assertTrue(run.out.startsWith("usage: polybridge-cli "), run.out);
            assertEquals("", run.err, args.toString());
        }
        assertTrue(run(List.of("call", "--help")).out.contains("4 NOT_FOUND"));
    }

    private record Run(int status, String out, String err)
    {
    }

    private static Run run(final List<String> args)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int status = PolybridgeCli.run(args.toArray(new String[0]), InputStream.nullInputStream(), out,
            new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
