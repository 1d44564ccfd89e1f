package io.polybridge.cli;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * A worker given with {@code --worker CMD}: its executable, found as a shell would (a name without
 * a slash on the PATH), and the options that follow it.
 *
 * @param executable the worker's executable.
 * @param options    its own options, placed after those every spawned worker is given.
 * @param text       the command as given, for messages.
 */
record WorkerCommand(Path executable, List<String> options, String text)
{
    static WorkerCommand parse(final String command) throws UsageException
    {
        final String text = command.strip();
        if (text.isEmpty())
        {
            throw new UsageException("option --worker needs a command, e.g. --worker './my-worker --pool-size 2'");
        }
        final String[] words = text.split("\\s+");
        final Path executable = find(words[0]);
        if (executable == null)
        {
            throw new UsageException("--worker '" + text + "': " + words[0] + " is not an executable file" +
                (words[0].contains("/") ? "" : " on the PATH") + "; give its path, e.g. ./bin/my-worker");
        }
        return new WorkerCommand(executable, List.of(Arrays.copyOfRange(words, 1, words.length)), text);
    }

    private static Path find(final String name)
    {
        if (name.contains("/"))
        {
            final Path path = Path.of(name).toAbsolutePath().normalize();
            return Files.isRegularFile(path) && Files.isExecutable(path) ? path : null;
        }
        final String searchPath = System.getenv("PATH");
        for (final String dir : (searchPath == null ? "" : searchPath).split(File.pathSeparator))
        {
            final Path path = Path.of(dir.isEmpty() ? "." : dir).resolve(name);
            if (Files.isRegularFile(path) && Files.isExecutable(path))
            {
                return path.toAbsolutePath().normalize();
            }
        }
        return null;
    }
}
