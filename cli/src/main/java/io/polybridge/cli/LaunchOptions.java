package io.polybridge.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How a command gets its workers, the options every command shares: by default an embedded media
 * driver and the web-scan app's Go and Rust workers, one each, as {@code scan} has always done; with {@code --aeron-dir}
 * the workers already announced on that driver (plus any asked for with --go, --rust or --worker).
 */
final class LaunchOptions
{
    /** Bridge gives each language 100 request streams (100.., 200..); far more than 2 cores can use. */
    static final int MAX_INSTANCES = 64;

    /** Help lines for these options, shared by every command's --help. */
    static final String HELP = """
          --aeron-dir DIR     attach to the media driver in DIR and use the workers announced there;
                              no Go or Rust worker is spawned unless --go or --rust asks for one
                              (default: an embedded driver in a private /dev/shm directory)
          --go N              web-scan Go workers to spawn (wappalyzer.fingerprint, echo; default 1,
                              or 0 with --aeron-dir)
          --rust N            web-scan Rust workers to spawn (html.signals, echo; default 1, or 0
                              with --aeron-dir)
          --worker CMD        also spawn and supervise this worker (repeatable): the executable (a
                              path, or a name on the PATH) and its own options, separated by
                              spaces (no shell quoting). Its id is the executable's name and the
                              instance, e.g. my-worker-0. It is started with the options every
                              spawned worker gets (--aeron-dir, --worker-id, --request-stream,
                              --announce-interval-ms, ...) before its own, as workers built on the
                              Go and Rust SDKs accept
          --modules DIR       serve the WebAssembly modules in DIR: spawns the library's Go test
                              worker (native-go/bin/polybridge-worker-go of the checkout) as wasm-0
                              with --modules DIR; NAME.wasm is the handler wasm.NAME.
                              A module is announced once compiled: call wasm.NAME and workers wait
                              for DIR's modules, at most 30 s (one that does not compile never is)
          --discover-ms N     with --aeron-dir: how long to listen for workers' announcements
                              (default 2000; workers started on their own announce every second)
          --reply-channel URI with --aeron-dir: where workers on other hosts reply to this client,
                              aeron:udp?endpoint=HOST:PORT with an address of this host they can
                              reach (default: none, replies over IPC from this host's workers)
          --announce-channel URI
                              with --aeron-dir: also listen for announcements there (repeatable),
                              e.g. aeron:udp?control=WORKERHOST:40102 for a worker host's workers;
                              this host's (IPC) workers are always heard. See docs/hosts.md
          --verbose           the workers' logs and the driver's directory on stderr
          -h, --help          this help
        """;

    String aeronDir;
    Integer goInstances;
    Integer rustInstances;
    final List<WorkerCommand> workers = new ArrayList<>();
    Path modules;
    Duration discover = Duration.ofSeconds(2);
    String replyChannel;
    final List<String> announceChannels = new ArrayList<>();
    boolean verbose;

    /**
     * Read one of the shared options.
     *
     * @param option the option's name.
     * @param args   for its value.
     * @return false when it is not one of the shared options.
     * @throws UsageException for a missing or bad value.
     */
    boolean parse(final String option, final Arguments args) throws UsageException
    {
        switch (option)
        {
            case "--aeron-dir" -> aeronDir = args.value(option);
            case "--go" -> goInstances = (int)args.number(option, 0, MAX_INSTANCES);
            case "--rust" -> rustInstances = (int)args.number(option, 0, MAX_INSTANCES);
            case "--worker" ->
            {
                workers.add(WorkerCommand.parse(args.value(option)));
            }
            case "--modules" ->
            {
                final Path dir = Path.of(args.value(option));
                if (!Files.isDirectory(dir))
                {
                    throw new UsageException("--modules " + dir + ": not a directory; give the folder holding the " +
                        "NAME.wasm modules");
                }
                modules = dir.toAbsolutePath().normalize();
            }
            case "--reply-channel" ->
            {
                replyChannel = args.value(option);
                if (!replyChannel.startsWith("aeron:udp?endpoint="))
                {
                    throw new UsageException("--reply-channel " + replyChannel + ": give aeron:udp?endpoint=HOST:PORT, " +
                        "an address of this host that the worker hosts can reach");
                }
            }
            case "--announce-channel" ->
            {
                final String channel = args.value(option);
                if (!channel.startsWith("aeron:"))
                {
                    throw new UsageException("--announce-channel " + channel + ": give an Aeron URI such as " +
                        "aeron:udp?control=WORKERHOST:40102");
                }
                announceChannels.add(channel);
            }
            case "--discover-ms" -> discover = Duration.ofMillis(args.number(option, 0, Integer.MAX_VALUE));
            case "--verbose" ->
            {
                args.flag(option);
                verbose = true;
            }
            default ->
            {
                return false;
            }
        }
        return true;
    }

    /**
     * The options that only make sense together; called once the command line is read.
     *
     * @throws UsageException when --reply-channel or --announce-channel come without --aeron-dir.
     */
    void check() throws UsageException
    {
        if ((replyChannel != null || !announceChannels.isEmpty()) && !attached())
        {
            throw new UsageException("--reply-channel and --announce-channel reach workers on other hosts through " +
                "this host's media driver: give its directory with --aeron-dir (see docs/hosts.md)");
        }
    }

    /**
     * @return whether the command attaches to an external driver rather than embedding one.
     */
    boolean attached()
    {
        return aeronDir != null;
    }

    int goInstances()
    {
        return goInstances != null ? goInstances : attached() ? 0 : 1;
    }

    int rustInstances()
    {
        return rustInstances != null ? rustInstances : attached() ? 0 : 1;
    }
}
