package io.polybridge.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * An executable shipped inside a jar as a classpath resource (a worker binary), made runnable: extracted once
 * per content hash into an owner-only cache, verified against its SHA-256, and never handed out when the hash
 * does not match. A cached copy is hashed again whenever it changed since it was last verified (its size, inode,
 * modification or change time differ from {@code <name>.verified} next to it), so an unchanged cache costs a
 * {@code stat}, not a hash of ten megabytes.
 * <p>
 * Resource layout, one folder per platform ({@link #platform()}):
 * <pre>
 * META-INF/polybridge/workers/linux-x86_64/polybridge-worker-go           the executable
 * META-INF/polybridge/workers/linux-x86_64/polybridge-worker-go.sha256    its SHA-256, lowercase hex (sha256sum's output)
 * </pre>
 * The {@code .sha256} file is optional: without it the resource is hashed on every resolution, which costs
 * tens of milliseconds for a 10 MB binary.
 * <p>
 * Cache: {@code <cache>/<sha256>/<name>}, where {@code <cache>} is the first usable of
 * {@code -Dpolybridge.cache.dir}; else {@code $XDG_CACHE_HOME/polybridge} or {@code ~/.cache/polybridge};
 * then {@code <java.io.tmpdir>/polybridge-<uid>}; then a fresh private temporary directory deleted when the JVM
 * exits. A cache directory is used only when this user owns it and no one else can write to it. Extraction
 * writes to a temporary name in the same directory and renames it into place, so two JVMs extracting the same
 * binary at once each see either no file or a whole one.
 * <p>
 * Over 400 lines for one job: most of it is the handling of each bad input (missing resource, unwritable or
 * foreign cache, hash mismatch, unsupported platform) with a message that says what to do, and its javadoc.
 */
public final class ExecutableResource
{
    /**
     * Folder below which executables live, one sub-folder per platform.
     */
    public static final String RESOURCE_ROOT = "META-INF/polybridge/workers";

    /**
     * System property naming the cache directory (the SHA-256 folders go below it).
     */
    public static final String CACHE_DIR_PROP_NAME = "polybridge.cache.dir";

    /**
     * Platforms polybridge knows how to name; a jar may carry executables for any of them.
     */
    public static final List<String> PLATFORMS = List.of("linux-x86_64", "linux-aarch64");

    private static final Set<PosixFilePermission> OWNER_ONLY_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_EXECUTABLE = PosixFilePermissions.fromString("rwx------");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");
    private static final Duration STALE_TEMPORARY_FILE = Duration.ofMinutes(10);
    private static final String TEMPORARY_SUFFIX = ".tmp";
    private static final String STAMP_SUFFIX = ".verified";

    private ExecutableResource()
    {
    }

    /** Looked up only when something is logged: initialising logging costs a cold JVM tens of milliseconds. */
    private static System.Logger logger()
    {
        return System.getLogger(ExecutableResource.class.getName());
    }

    /**
     * This JVM's platform as resource folders name it, e.g. {@code linux-x86_64}.
     *
     * @return the platform name, one of {@link #PLATFORMS}.
     * @throws IllegalStateException when the OS or architecture is not one polybridge supports.
     */
    public static String platform()
    {
        return platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    static String platform(final String osName, final String osArch)
    {
        final String os = osName.toLowerCase(Locale.ROOT).startsWith("linux") ? "linux" : null;
        final String arch = switch (osArch.toLowerCase(Locale.ROOT))
        {
            case "amd64", "x86_64", "x86-64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> null;
        };
        if (os == null || arch == null)
        {
            throw new IllegalStateException("unsupported platform: os.name=" + osName + ", os.arch=" + osArch +
                "; polybridge runs workers on " + String.join(", ", PLATFORMS) + " (the polybridge-workers jar " +
                "carries linux-x86_64)");
        }
        return os + "-" + arch;
    }

    /**
     * @param platform e.g. {@code linux-x86_64}.
     * @param name     the executable's file name, e.g. {@code polybridge-worker-go}.
     * @return its resource name, e.g. {@code META-INF/polybridge/workers/linux-x86_64/polybridge-worker-go}.
     */
    public static String resourceName(final String platform, final String name)
    {
        return RESOURCE_ROOT + "/" + platform + "/" + name;
    }

    /**
     * Whether the classpath carries the executable for this platform (false on an unsupported platform).
     *
     * @param name the executable's file name.
     * @return true when {@link #extract(String)} would find it.
     */
    public static boolean isAvailable(final String name)
    {
        return isAvailable(name, ExecutableResource.class.getClassLoader());
    }

    static boolean isAvailable(final String name, final ClassLoader classLoader)
    {
        final String platform;
        try
        {
            platform = platform();
        }
        catch (final IllegalStateException ex)
        {
            return false;
        }
        return classLoader.getResource(resourceName(platform, name)) != null;
    }

    /**
     * Extract the executable for this platform, or find the verified copy extracted before.
     *
     * @param name the executable's file name, e.g. {@code polybridge-worker-go}.
     * @return an owner-only executable file whose SHA-256 matches the resource's.
     * @throws IllegalStateException when the platform is unsupported, the resource is missing or corrupt, or no
     *                               cache directory could be written (the message lists each one tried and why).
     */
    public static Path extract(final String name)
    {
        return extract(name, new Context());
    }

    /**
     * Extract an executable with explicit settings.
     *
     * @param name    the executable's file name.
     * @param context where to look and where to cache.
     * @return an owner-only executable file whose SHA-256 matches the resource's.
     */
    public static Path extract(final String name, final Context context)
    {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.startsWith("."))
        {
            throw new IllegalArgumentException("executable name must be a plain file name, was '" + name + "'");
        }
        context.conclude();
        final String resource = resourceName(context.platform, name);
        if (context.classLoader.getResource(resource) == null)
        {
            throw new IllegalStateException(missingMessage(context, name, resource));
        }
        final String expected = expectedSha256(context.classLoader, resource);

        final List<String> failures = new ArrayList<>();
        for (final Path cacheDirectory : context.cacheDirectories)
        {
            try
            {
                return extractInto(context.classLoader, resource, name, expected, cacheDirectory);
            }
            catch (final IOException | UnsupportedOperationException | SecurityException ex)
            {
                failures.add(cacheDirectory + ": " + ex);
                logger().log(System.Logger.Level.DEBUG, "cannot cache " + name + " in " + cacheDirectory, ex);
            }
        }
        if (context.privateTemporaryFallback)
        {
            try
            {
                final Path temporary = Files.createTempDirectory("polybridge-",
                    PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
                // Nothing to reuse next time: remove it (and the executable, registered after) at exit.
                temporary.toFile().deleteOnExit();
                final Path extracted = extractInto(context.classLoader, resource, name, expected, temporary);
                extracted.getParent().toFile().deleteOnExit();
                extracted.toFile().deleteOnExit();
                extracted.resolveSibling(name + STAMP_SUFFIX).toFile().deleteOnExit();
                logger().log(System.Logger.Level.WARNING, "no writable cache for " + name + " (" +
                    String.join("; ", failures) + "); extracted to " + extracted + " for this run only");
                return extracted;
            }
            catch (final IOException | UnsupportedOperationException | SecurityException ex)
            {
                failures.add("a new temporary directory in " + System.getProperty("java.io.tmpdir") + ": " + ex);
            }
        }
        throw new IllegalStateException("cannot extract " + resource + ": no cache directory is usable; tried " +
            String.join("; ", failures) + ". Set -D" + CACHE_DIR_PROP_NAME + " to a directory this user can write");
    }

    private static String missingMessage(final Context context, final String name, final String resource)
    {
        final List<String> elsewhere = new ArrayList<>();
        for (final String platform : PLATFORMS)
        {
            if (!platform.equals(context.platform) &&
                context.classLoader.getResource(resourceName(platform, name)) != null)
            {
                elsewhere.add(platform);
            }
        }
        return "no executable '" + name + "' for platform " + context.platform + " on the classpath (resource " +
            resource + ")" + (elsewhere.isEmpty() ?
            "; add the jar that carries it, e.g. io.polybridge:polybridge-workers for the shipped workers" :
            "; the classpath carries it only for " + String.join(", ", elsewhere));
    }

    private static String expectedSha256(final ClassLoader classLoader, final String resource)
    {
        final String hashResource = resource + ".sha256";
        try (InputStream in = classLoader.getResourceAsStream(hashResource))
        {
            if (in == null)
            {
                try (InputStream executable = open(classLoader, resource))
                {
                    return HexFormat.of().formatHex(sha256(executable, OutputStream.nullOutputStream()));
                }
            }
            final String text = new String(in.readNBytes(4096), StandardCharsets.US_ASCII).trim();
            final String hex = text.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
            if (!SHA256_HEX.matcher(hex).matches())
            {
                throw new IllegalStateException(hashResource + " does not start with a SHA-256 in hex: '" +
                    (text.length() > 80 ? text.substring(0, 80) + "..." : text) + "'");
            }
            return hex;
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot read " + resource + " from the classpath", ex);
        }
    }

    private static Path extractInto(
        final ClassLoader classLoader,
        final String resource,
        final String name,
        final String expected,
        final Path cacheDirectory) throws IOException
    {
        final Path directory = ownerOnlyDirectory(ownerOnlyDirectory(cacheDirectory).resolve(expected));
        final Path target = directory.resolve(name);
        if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS))
        {
            if (Files.isExecutable(target) && stamp(target, expected).equals(readStamp(directory, name)))
            {
                return target; // verified before and not written to since
            }
            final String actual = sha256(target);
            if (actual.equals(expected) && Files.isExecutable(target))
            {
                writeStamp(directory, name, stamp(target, expected));
                return target;
            }
            // Truncated, tampered with or not executable: never run it, replace it.
            logger().log(System.Logger.Level.WARNING, target + " has SHA-256 " + actual + ", expected " + expected +
                " (or is not executable); extracting " + resource + " again");
        }

        final Path temporary = Files.createTempFile(directory, name + ".", TEMPORARY_SUFFIX,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try
        {
            final String written;
            try (InputStream in = open(classLoader, resource);
                FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE);
                OutputStream out = java.nio.channels.Channels.newOutputStream(channel))
            {
                written = HexFormat.of().formatHex(sha256(in, out));
                out.flush();
                channel.force(true);
            }
            if (!written.equals(expected))
            {
                throw new IllegalStateException("resource " + resource + " has SHA-256 " + written + " but its " +
                    ".sha256 says " + expected + ": the jar is corrupt or was repackaged; not extracting it");
            }
            Files.setPosixFilePermissions(temporary, OWNER_ONLY_EXECUTABLE);
            try
            {
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            }
            catch (final AtomicMoveNotSupportedException ex)
            {
                throw new IOException("cannot rename into place atomically in " + directory, ex);
            }
        }
        finally
        {
            Files.deleteIfExists(temporary);
        }
        writeStamp(directory, name, stamp(target, expected));
        removeStaleTemporaryFiles(directory, name);
        return target;
    }

    /**
     * What the file was when its hash was last checked: size, inode, modification and change times. Hashing a
     * 12 MB executable in a fresh JVM takes hundreds of milliseconds (the digest runs interpreted at first), so a
     * later lookup hashes again only when this changed. Any write to the file or its mode moves its change time,
     * which no unprivileged process can set back; the stamp is as trustworthy as the owner-only directory it is
     * in.
     */
    private static String stamp(final Path file, final String sha256) throws IOException
    {
        final var attributes = Files.readAttributes(file, "unix:size,ino,lastModifiedTime,ctime", LinkOption.NOFOLLOW_LINKS);
        return sha256 + " " + attributes.get("size") + " " + attributes.get("ino") + " " +
            ((FileTime)attributes.get("lastModifiedTime")).to(java.util.concurrent.TimeUnit.NANOSECONDS) + " " +
            ((FileTime)attributes.get("ctime")).to(java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    private static String readStamp(final Path directory, final String name)
    {
        try
        {
            return Files.readString(directory.resolve(name + STAMP_SUFFIX), StandardCharsets.US_ASCII).trim();
        }
        catch (final IOException ex)
        {
            return "";
        }
    }

    private static void writeStamp(final Path directory, final String name, final String stamp)
    {
        try
        {
            final Path temporary = Files.createTempFile(directory, name + ".", TEMPORARY_SUFFIX,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try
            {
                Files.writeString(temporary, stamp + "\n", StandardCharsets.US_ASCII);
                Files.move(temporary, directory.resolve(name + STAMP_SUFFIX), StandardCopyOption.ATOMIC_MOVE);
            }
            finally
            {
                Files.deleteIfExists(temporary);
            }
        }
        catch (final IOException ex)
        {
            // Only an optimisation: the next lookup hashes the file again.
            logger().log(System.Logger.Level.DEBUG, "cannot write " + name + STAMP_SUFFIX + " in " + directory, ex);
        }
    }

    /**
     * Create the directory owner-only, or accept an existing one only when this user owns it and no one else can
     * write to it (tighten it to owner-only when it is ours but looser).
     */
    private static Path ownerOnlyDirectory(final Path directory) throws IOException
    {
        try
        {
            Files.createDirectories(directory.getParent() == null ? directory : directory.getParent());
            Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIR));
        }
        catch (final FileAlreadyExistsException ignore)
        {
            // checked below
        }
        if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS))
        {
            throw new IOException(directory + " is not a directory");
        }
        final Object owner = Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        final Object self = currentUid();
        if (self != null && !self.equals(owner))
        {
            throw new IOException(directory + " belongs to uid " + owner + ", not to this user (uid " + self + ")");
        }
        final Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(directory, LinkOption.NOFOLLOW_LINKS);
        if (!OWNER_ONLY_DIR.equals(permissions))
        {
            Files.setPosixFilePermissions(directory, OWNER_ONLY_DIR);
        }
        return directory;
    }

    private static Object currentUid()
    {
        try
        {
            // /proc/self belongs to the process's effective user.
            return Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        }
        catch (final IOException | UnsupportedOperationException | IllegalArgumentException ex)
        {
            return null;
        }
    }

    private static void removeStaleTemporaryFiles(final Path directory, final String name)
    {
        // Left by a JVM killed mid-extraction; a young one may be another JVM's extraction in progress.
        final FileTime cutoff = FileTime.from(Instant.now().minus(STALE_TEMPORARY_FILE));
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(directory, name + ".*" + TEMPORARY_SUFFIX))
        {
            for (final Path leftover : leftovers)
            {
                if (Files.getLastModifiedTime(leftover, LinkOption.NOFOLLOW_LINKS).compareTo(cutoff) < 0)
                {
                    Files.deleteIfExists(leftover);
                }
            }
        }
        catch (final IOException ex)
        {
            logger().log(System.Logger.Level.DEBUG, "cannot clean up " + directory, ex);
        }
    }

    private static InputStream open(final ClassLoader classLoader, final String resource) throws IOException
    {
        final InputStream in = classLoader.getResourceAsStream(resource);
        if (in == null)
        {
            throw new IOException("resource " + resource + " disappeared from the classpath");
        }
        return in;
    }

    private static String sha256(final Path file) throws IOException
    {
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS))
        {
            return HexFormat.of().formatHex(sha256(in, OutputStream.nullOutputStream()));
        }
    }

    private static byte[] sha256(final InputStream in, final OutputStream copy) throws IOException
    {
        final MessageDigest digest;
        try
        {
            digest = MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("every Java platform has SHA-256", ex);
        }
        final byte[] buffer = new byte[64 * 1024];
        int read;
        while ((read = in.read(buffer)) >= 0)
        {
            digest.update(buffer, 0, read);
            copy.write(buffer, 0, read);
        }
        return digest.digest();
    }

    /**
     * Where to look for executables and where to cache them; {@link #conclude()} fills the defaults.
     */
    public static final class Context
    {
        private ClassLoader classLoader;
        private String platform;
        private List<Path> cacheDirectories;
        private boolean privateTemporaryFallback = true;

        Context conclude()
        {
            if (classLoader == null)
            {
                classLoader = ExecutableResource.class.getClassLoader();
            }
            if (platform == null)
            {
                platform = ExecutableResource.platform();
            }
            if (cacheDirectories == null)
            {
                cacheDirectories = defaultCacheDirectories();
            }
            return this;
        }

        /**
         * @param classLoader where the resources are (default: the one that loaded polybridge).
         * @return this.
         */
        public Context classLoader(final ClassLoader classLoader)
        {
            this.classLoader = classLoader;
            return this;
        }

        /**
         * @param platform the resource folder to use (default {@link ExecutableResource#platform()}).
         * @return this.
         */
        public Context platform(final String platform)
        {
            this.platform = platform;
            return this;
        }

        /**
         * @param cacheDirectories directories to try in order (default: see {@link ExecutableResource}).
         * @return this.
         */
        public Context cacheDirectories(final List<Path> cacheDirectories)
        {
            this.cacheDirectories = List.copyOf(cacheDirectories);
            return this;
        }

        /**
         * @param privateTemporaryFallback whether to fall back to a fresh temporary directory, deleted at exit,
         *                                 when no cache directory is usable (default true).
         * @return this.
         */
        public Context privateTemporaryFallback(final boolean privateTemporaryFallback)
        {
            this.privateTemporaryFallback = privateTemporaryFallback;
            return this;
        }

        /**
         * @return the cache directories tried in order when none are set.
         */
        public static List<Path> defaultCacheDirectories()
        {
            final List<Path> directories = new ArrayList<>();
            final String explicit = System.getProperty(CACHE_DIR_PROP_NAME);
            if (explicit != null && !explicit.isBlank())
            {
                directories.add(Path.of(explicit));
            }
            else
            {
                final String xdg = System.getenv("XDG_CACHE_HOME");
                if (xdg != null && Path.of(xdg).isAbsolute())
                {
                    directories.add(Path.of(xdg, "polybridge"));
                }
                else
                {
                    final String home = System.getProperty("user.home");
                    if (home != null && !home.isBlank() && !"?".equals(home))
                    {
                        directories.add(Path.of(home, ".cache", "polybridge"));
                    }
                }
            }
            final Object uid = currentUid();
            directories.add(Path.of(System.getProperty("java.io.tmpdir"),
                "polybridge-" + (uid != null ? uid : System.getProperty("user.name", "user"))));
            return directories;
        }
    }
}
