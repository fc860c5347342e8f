package skiff.rootfs;

import skiff.image.Digest;
import skiff.image.ImageManifest;
import skiff.layer.Flattener;
import skiff.layer.LayerSource;
import skiff.layer.Progress;
import skiff.squashfs.SquashfsWriter;
import skiff.store.Store;
import skiff.util.FileTrees;
import skiff.util.ExitCode;
import skiff.util.Locks;
import skiff.util.SkiffException;
import skiff.util.Warnings;
import skiff.util.Env;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Converted root filesystems, cached by image manifest digest beside the OCI layout:
 * {@code STORAGE/sqfs/HEX.sqfs} and {@code STORAGE/dir/HEX/}.
 *
 * <p>A conversion streams the layer blobs through the {@link Flattener} into a SquashFS writer or a
 * {@link DirectorySink}, writing under {@code STORAGE/tmp} and renaming the result into place, so a cached
 * path is either complete or absent: an interrupted conversion leaves only a temporary name, removed by
 * the next conversion of that image. One conversion per image runs at a time ({@code locks/convert-HEX.lock});
 * other callers wait for it and reuse its result.
 */
public final class Rootfs {
    private Rootfs() {}

    public enum Format { SQUASHFS, DIR }

    /**
     * Converts in another process (e.g. a JVM with the full JIT); {@code output} null means the cache. Returns
     * false when it cannot, and this process converts after all.
     */
    @FunctionalInterface
    public interface Elsewhere {
        boolean convert(Store store, Digest manifest, Format format, Path output);
    }

    private static volatile ConversionWatcher watcher = ConversionWatcher.NONE;
    private static volatile Elsewhere elsewhere;

    /** Who hears of this process's conversions from now on (the command line sets it once, for its display). */
    public static void watchWith(ConversionWatcher w) {
        watcher = w == null ? ConversionWatcher.NONE : w;
    }

    /**
     * Hands this process's conversions to {@code e} from now on (null: convert here). 'skiff run' does, as its
     * JVM is tuned for start-up, not for bulk work. The other process loads the same config.toml settings.
     */
    public static void convertElsewhere(Elsewhere e) {
        elsewhere = e;
    }

    /** Where the converted image lives: STORAGE/sqfs/HEX.sqfs or STORAGE/dir/HEX/ (HEX = manifest digest hex). */
    public static Path path(Store store, Digest manifest, Format format) {
        return switch (format) {
            case SQUASHFS -> store.storage().resolve("sqfs").resolve(manifest.hex() + ".sqfs");
            case DIR -> store.storage().resolve("dir").resolve(manifest.hex());
        };
    }

    /**
     * The image's root filesystem in {@code format}, converting it first when it is not cached yet, with
     * the settings of the user's config.toml ({@link ConvertSettings#load}); warnings go to stderr.
     * Concurrent callers for the same image wait for one conversion; the result appears atomically.
     */
    public static Path ensure(Store store, Digest manifest, Format format) {
        return ensure(store, manifest, format, ConvertSettings.load(Env.process()), Rootfs::warn);
    }

    /** Images published by the image gateway on the shared file system: run from there, never converted here. */
    private static final java.util.concurrent.ConcurrentHashMap<Digest, Path> PUBLISHED = new java.util.concurrent.ConcurrentHashMap<>();

    /** The SquashFS of image {@code manifest} is {@code sqfs}, published by the gateway (skiff run on a compute node). */
    public static void usePublished(Digest manifest, Path sqfs) {
        PUBLISHED.put(manifest, sqfs);
    }

    /** As {@link #ensure(Store, Digest, Format)}, with explicit settings and a receiver for warnings. */
    public static Path ensure(Store store, Digest manifest, Format format, ConvertSettings settings, Consumer<String> warnings) {
        Path published = PUBLISHED.get(manifest);
        if (published != null) {
            if (format == Format.SQUASHFS) return published;
            throw new SkiffException(ExitCode.USAGE, "image " + manifest.shortHex() + " comes from the image gateway as SquashFS"
                    + " only (" + published + "): run it without --rootfs-format dir or --writable-tmpfs, or pull it here with 'skiff pull --no-gateway'");
        }
        Path target = path(store, manifest, format);
        if (present(target, format)) return target;
        Elsewhere other = elsewhere;
        if (other != null && other.convert(store, manifest, format, null)) {
            if (present(target, format)) return target;
            throw new SkiffException(ExitCode.STORAGE, "the conversion of image " + manifest.shortHex() + " ended without a result"
                    + " in " + target.getParent() + " (check the storage directory)");
        }
        Path lockFile = store.lockFile("convert-" + manifest.hex());
        ConversionWatcher w = watcher;
        // File locks exclude other processes only; threads of this one queue on the monitor first.
        synchronized (monitor(lockFile)) {
            boolean[] waited = {false};
            try (Locks.Held _ = Locks.exclusive(lockFile, pid -> {
                waited[0] = true;
                w.waiting(manifest, pid);
            })) {
                if (present(target, format)) { // converted while we waited
                    if (waited[0]) w.ended(manifest, target);
                    return target;
                }
                removeLeftovers(store, manifest);
                Files.createDirectories(target.getParent());
                write(store, manifest, format, settings, warnings, target, store.tmpDir(), "convert-" + manifest.hex() + "-");
                return target;
            } catch (IOException e) {
                throw failed(manifest, format, e);
            }
        }
    }

    private static final java.util.concurrent.ConcurrentHashMap<Path, Object> MONITORS = new java.util.concurrent.ConcurrentHashMap<>();

    private static Object monitor(Path lockFile) {
        return MONITORS.computeIfAbsent(lockFile.toAbsolutePath().normalize(), k -> new Object());
    }

    /**
     * Converts the image into {@code output} (not the cache), atomically: a temporary sibling renamed into
     * place. An existing file is replaced; an existing directory is refused.
     */
    public static Path convertTo(Store store, Digest manifest, Format format, ConvertSettings settings,
                                 Consumer<String> warnings, Path output) {
        Path out = output.toAbsolutePath().normalize();
        try {
            if (Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS))
                throw new SkiffException(ExitCode.USAGE, out + " already exists as a directory; remove it or choose another output path");
            if (format == Format.DIR && Files.exists(out, LinkOption.NOFOLLOW_LINKS))
                throw new SkiffException(ExitCode.USAGE, out + " already exists; remove it or choose another output path");
            Path parent = out.getParent();
            if (parent == null || !Files.isDirectory(parent))
                throw new SkiffException(ExitCode.USAGE, "cannot write " + out + ": " + parent + " is not a directory");
            Elsewhere other = elsewhere;
            if (other == null || !other.convert(store, manifest, format, out))
                write(store, manifest, format, settings, warnings, out, parent, ".tmp-" + out.getFileName() + "-");
            return out;
        } catch (IOException e) {
            throw failed(manifest, format, e);
        }
    }

    /**
     * Converts right after 'skiff pull' as the user's config asks ({@code [convert] format}, default
     * squashfs; "none" converts nothing). Returns the converted path, if any. Warnings go to stderr.
     */
    public static Optional<Path> afterPull(Store store, Digest manifest, Map<String, String> env) {
        return afterPull(store, manifest, ConvertSettings.load(env));
    }

    /** As {@link #afterPull(Store, Digest, Map)} with settings already resolved (e.g. 'pull --convert'). */
    public static Optional<Path> afterPull(Store store, Digest manifest, ConvertSettings s) {
        if (s.format() == null) return Optional.empty();
        return Optional.of(ensure(store, manifest, s.format(), s, Rootfs::warn));
    }

    /**
     * As {@link #ensure(Store, Digest, Format, ConvertSettings, Consumer)} for an image whose manifest is not in the
     * store yet: a pull still downloading it. {@code layers} are the manifest's layers in order, whose openers may
     * block until their blob has arrived and been verified (and fail if the pull fails); {@code manifest} is the
     * digest the store will name the image by. {@code beforePublish} runs just before the result is renamed into
     * the cache and throws if the pull failed, so a failed pull never leaves a converted image behind. Same lock,
     * same temporary names and same bytes as a conversion of the stored image. The store's gc lock is not taken:
     * the pulling thread holds it (a second holder in one JVM would wait for the pull to end, undoing the overlap),
     * and once the pull has released it the image is named, so 'skiff prune' keeps its layers.
     */
    public static Path ensureArriving(Store store, Digest manifest, List<LayerSource> layers, long layerBytes, Format format,
                                      ConvertSettings settings, Consumer<String> warnings, Runnable beforePublish) {
        Path target = path(store, manifest, format);
        if (present(target, format)) return target;
        Path lockFile = store.lockFile("convert-" + manifest.hex());
        ConversionWatcher w = watcher;
        synchronized (monitor(lockFile)) {
            boolean[] waited = {false};
            try (Locks.Held _ = Locks.exclusive(lockFile, pid -> {
                waited[0] = true;
                w.waiting(manifest, pid);
            })) {
                if (present(target, format)) {
                    if (waited[0]) w.ended(manifest, target);
                    return target;
                }
                removeLeftovers(store, manifest);
                Files.createDirectories(target.getParent());
                writeLayers(store, manifest, layers, layerBytes, format, settings, warnings, target, store.tmpDir(),
                        "convert-" + manifest.hex() + "-", beforePublish, false);
                return target;
            } catch (IOException e) {
                throw failed(manifest, format, e);
            }
        }
    }

    /** The formats already converted for this image (for 'skiff images'). */
    public static Set<Format> formatsPresent(Store store, Digest manifest) {
        Set<Format> out = EnumSet.noneOf(Format.class);
        for (Format f : Format.values()) if (present(path(store, manifest, f), f)) out.add(f);
        return out;
    }

    /**
     * Removes the cached conversions of an image (for 'skiff rmi'/'prune'); returns whether any existed.
     * A directory is first renamed away, so it disappears at once even if deleting it takes a while.
     */
    public static boolean removeCached(Store store, Digest manifest) {
        boolean any = false;
        Path lockFile = store.lockFile("convert-" + manifest.hex());
        synchronized (monitor(lockFile)) {
            try (Locks.Held _ = Locks.exclusive(lockFile, pid -> {})) {
                removeLeftovers(store, manifest);
                Path sqfs = path(store, manifest, Format.SQUASHFS);
                any |= Files.deleteIfExists(sqfs);
                Path dir = path(store, manifest, Format.DIR);
                if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                    Path doomed = store.tmpDir().resolve("convert-" + manifest.hex() + "-removed");
                    Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
                    FileTrees.delete(doomed);
                    any = true;
                }
            } catch (IOException e) {
                throw new SkiffException(ExitCode.STORAGE, "cannot remove the converted root filesystems of " + manifest + ": " + e.getMessage());
            }
        }
        return any;
    }

    // ------------------------------------------------------------------------------------------------

    private static boolean present(Path p, Format f) {
        return f == Format.DIR ? Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) : Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS);
    }

    private static void write(Store store, Digest manifest, Format format, ConvertSettings settings, Consumer<String> warnings,
                              Path output, Path tmpParent, String tmpPrefix) throws IOException {
        if (!store.hasBlob(manifest))
            throw new SkiffException(ExitCode.IMAGE, "image " + manifest + " is not in the store " + store.layout() + " (pull it first)");
        ImageManifest m = null;
        try {
            m = store.manifest(manifest);
        } catch (SkiffException e) {
            throw e; // corrupt blob: its own message says what to do
        } catch (IOException | RuntimeException e) {
            // not JSON of a manifest's shape: m stays null
        }
        if (m == null || m.config() == null || m.config().digest() == null || (m.mediaType() != null && !skiff.image.MediaTypes.isManifest(m.mediaType())))
            throw new SkiffException(ExitCode.IMAGE, manifest + " is not an image manifest (an index, a config or another"
                    + " artifact): name the image, or the manifest of one platform");
        List<LayerSource> layers = m.layers().stream().map(d -> LayerSource.of(store, d)).toList();
        writeLayers(store, manifest, layers, m.layers().stream().mapToLong(d -> Math.max(0, d.size())).sum(), format, settings,
                warnings, output, tmpParent, tmpPrefix, () -> {}, true);
    }

    /**
     * Flattens {@code sources} into {@code output} through a temporary sibling; {@code beforePublish} runs just before
     * the rename and may throw to stop it (an overlapped pull that failed after the last layer arrived).
     */
    private static void writeLayers(Store store, Digest manifest, List<LayerSource> sources, long layerBytes, Format format,
                                    ConvertSettings settings, Consumer<String> warnings, Path output, Path tmpParent,
                                    String tmpPrefix, Runnable beforePublish, boolean gcLock) throws IOException {
        ConversionWatcher watch = watcher;
        Progress progress = watch.started(manifest, format, layerBytes);
        List<LayerSource> layers = sources.stream().map(l -> Progress.counting(l, progress)).toList();
        Path tmp = null;
        Path result = null;
        try (AutoCloseable _ = gcLock ? gcShared(store) : () -> {}) {
            progress.phase(Progress.Phase.READING);
            if (format == Format.DIR) {
                tmp = Files.createTempDirectory(tmpParent, tmpPrefix);
                Flattener.flatten(layers, Progress.reporting(new DirectorySink(tmp, warnings), progress), settings.limits(),
                        warnings, settings.threads());
                beforePublish.run();
                Files.move(tmp, output, StandardCopyOption.ATOMIC_MOVE);
            } else {
                tmp = Files.createTempFile(tmpParent, tmpPrefix, ".sqfs");
                Files.delete(tmp); // the writer creates its output itself
                try (SquashfsWriter w = newWriter(tmp, settings, warnings)) {
                    Flattener.flatten(layers, Progress.reporting(w, progress), settings.limits(), warnings, settings.threads());
                }
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                beforePublish.run();
                Files.move(tmp, output, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            result = output;
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename into " + output.getParent() + " atomically: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        } finally {
            if (tmp != null) FileTrees.delete(tmp);
            watch.ended(manifest, result);
        }
    }

    private static SquashfsWriter newWriter(Path tmp, ConvertSettings settings, Consumer<String> warnings) throws IOException {
        try {
            return new SquashfsWriter(tmp, settings.squashfsOptions(warnings));
        } catch (UnsupportedOperationException e) {
            throw new SkiffException(ExitCode.STORAGE, "SquashFS output is not available in this build (" + e.getMessage() + "); use --format dir");
        }
    }

    /** Holds the store's gc lock shared, so 'skiff prune' cannot delete blobs being read. */
    private static AutoCloseable gcShared(Store store) throws IOException {
        try {
            return store.gcShared();
        } catch (OverlappingFileLockException e) {
            return () -> {}; // this process holds it already (e.g. 'pull' converting right away)
        }
    }

    /** Temporary outputs of killed conversions of this image; only called under its convert lock. */
    private static void removeLeftovers(Store store, Digest manifest) throws IOException {
        Path tmp = store.storage().resolve("tmp");
        if (!Files.isDirectory(tmp)) return;
        try (var s = Files.newDirectoryStream(tmp, "convert-" + manifest.hex() + "-*")) {
            for (Path p : s) FileTrees.delete(p);
        }
    }

    private static SkiffException failed(Digest manifest, Format format, IOException e) {
        String why = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getFile() + ": " + fse.getReason() : e.getMessage();
        String hint = why != null && why.contains("No space left") ? "free some space or set --storage elsewhere" : "check the storage directory";
        return new SkiffException(ExitCode.STORAGE, "cannot convert image " + manifest.shortHex() + " to "
                + format.name().toLowerCase(Locale.ROOT) + ": " + why + " (" + hint + ")", e);
    }

    private static void warn(String s) {
        Warnings.print(s);
    }
}
