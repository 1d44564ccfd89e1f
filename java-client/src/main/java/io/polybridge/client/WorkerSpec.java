package io.polybridge.client;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link Bridge} spawns and supervises: a worker command, how many instances of it, and their
 * options and environment. Instance {@code i} announces itself as {@code <name>-<i>}.
 * <pre>{@code
 * new Bridge.Context()
 *     .worker(new WorkerSpec("thumbnails", "/opt/thumbs/worker").instances(2).options("--pool-size", "4"))
 *     .worker(WorkerSpec.fromResource("hello", "hello-worker-go")); // carried by a jar, see ExecutableResource
 * }</pre>
 * Every worker is started as
 * {@code <command...> --aeron-dir DIR --worker-id NAME-i --request-stream N --announce-interval-ms MS
 * --parent-pid JVM_PID <options...>}: the flags every worker built on the Go or Rust SDK accepts
 * (docs/lifecycle.md). The request stream changes with every incarnation of a worker; on an external
 * driver even the first is a fresh one, unique among the bridges sharing it.
 */
public final class WorkerSpec
{
    private final String name;
    private final List<String> command;
    private int instances = 1;
    private List<String> options = List.of();
    private Map<String, String> environment = Map.of();
    private int firstRequestStream;

    /**
     * @param name    prefix of the worker ids ({@code name-0}, ...), unique among a bridge's specs.
     * @param command the executable and any arguments before the flags the bridge adds.
     */
    public WorkerSpec(final String name, final List<String> command)
    {
        this.name = Objects.requireNonNull(name, "name");
        this.command = List.copyOf(Objects.requireNonNull(command, "command"));
    }

    /**
     * @param name       prefix of the worker ids.
     * @param executable the worker executable.
     */
    public WorkerSpec(final String name, final String executable)
    {
        this(name, List.of(executable));
    }

    /**
     * @param name       prefix of the worker ids.
     * @param executable the worker executable.
     */
    public WorkerSpec(final String name, final Path executable)
    {
        this(name, List.of(executable.toString()));
    }

    /**
     * A worker whose executable a jar on the classpath carries (under
     * {@link ExecutableResource#RESOURCE_ROOT}): extracted once into an owner-only, hash-checked cache.
     *
     * @param name     prefix of the worker ids.
     * @param resource the executable's name in the jar, e.g. "web-scan-worker-go".
     * @return the spec, running the extracted file.
     * @throws IllegalStateException when no jar carries it for this platform, saying which resource was looked for.
     */
    public static WorkerSpec fromResource(final String name, final String resource)
    {
        return new WorkerSpec(name, ExecutableResource.extract(resource));
    }

    /**
     * @param instances how many processes to run (default 1; 0 for none).
     * @return this.
     */
    public WorkerSpec instances(final int instances)
    {
        this.instances = instances;
        return this;
    }

    /**
     * @param options flags added after the bridge's own, e.g. {@code --pool-size 4}.
     * @return this.
     */
    public WorkerSpec options(final List<String> options)
    {
        this.options = List.copyOf(options);
        return this;
    }

    /**
     * @param options flags added after the bridge's own.
     * @return this.
     */
    public WorkerSpec options(final String... options)
    {
        return options(List.of(options));
    }

    /**
     * @param environment variables added to (or replacing those of) the JVM's environment.
     * @return this.
     */
    public WorkerSpec environment(final Map<String, String> environment)
    {
        this.environment = Map.copyOf(environment);
        return this;
    }

    /**
     * @param streamId request stream of instance 0's first incarnation (instance i: streamId + i);
     *                 0 (the default) takes them from the bridge's pool of fresh streams like
     *                 every later incarnation. Used only with the bridge's embedded driver: on an
     *                 external one ({@link Bridge.Context#aeronDirectoryName(String)}) other bridges
     *                 would use the same fixed streams, so every incarnation takes a fresh one.
     * @return this.
     */
    public WorkerSpec firstRequestStream(final int streamId)
    {
        this.firstRequestStream = streamId;
        return this;
    }

    /**
     * @return prefix of the worker ids.
     */
    public String name()
    {
        return name;
    }

    /**
     * @return the executable and its leading arguments.
     */
    public List<String> command()
    {
        return command;
    }

    /**
     * @return how many processes to run.
     */
    public int instances()
    {
        return instances;
    }

    /**
     * @return flags added after the bridge's own.
     */
    public List<String> options()
    {
        return options;
    }

    /**
     * @return extra environment variables.
     */
    public Map<String, String> environment()
    {
        return environment;
    }

    /**
     * @return request stream of instance 0's first incarnation, or 0 for fresh streams.
     */
    public int firstRequestStream()
    {
        return firstRequestStream;
    }

    /**
     * @param instance which instance.
     * @return its worker id, {@code name-instance}.
     */
    public String workerId(final int instance)
    {
        return name + "-" + instance;
    }

    void validate()
    {
        if (name.isBlank() || !name.matches("[A-Za-z0-9._-]+"))
        {
            throw new IllegalArgumentException("worker spec name must be letters, digits, '.', '_' or '-', was '" +
                name + "'");
        }
        if (command.isEmpty() || command.get(0).isBlank())
        {
            throw new IllegalArgumentException("worker spec '" + name + "' has no command");
        }
        if (instances < 0)
        {
            throw new IllegalArgumentException("worker spec '" + name + "': instances must be 0 or more, was " +
                instances);
        }
        if (firstRequestStream < 0 || (firstRequestStream > 0 &&
            (long)firstRequestStream + instances > StreamIds.FRESH_BASE))
        {
            throw new IllegalArgumentException("worker spec '" + name + "': firstRequestStream must be 0 (fresh " +
                "streams) or in 1.." + (StreamIds.FRESH_BASE - instances) + ", was " + firstRequestStream);
        }
        for (final String key : environment.keySet())
        {
            if (key.isEmpty() || key.indexOf('=') >= 0)
            {
                throw new IllegalArgumentException("worker spec '" + name + "': bad environment variable name '" +
                    key + "'");
            }
        }
    }

    WorkerSpec copy()
    {
        return new WorkerSpec(name, command).instances(instances).options(options)
            .environment(new LinkedHashMap<>(environment)).firstRequestStream(firstRequestStream);
    }

    public String toString()
    {
        return "WorkerSpec{" + name + " x" + instances + ": " + command + " " + options + "}";
    }
}
