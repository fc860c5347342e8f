package skiff.container;

import skiff.image.Digest;
import skiff.rootfs.ConvertSettings;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.util.FileTrees;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.Locks;
import skiff.util.Procs;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.LinkOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Persistent containers: {@code STORAGE/containers/NAME/} holds {@code rootfs/} (a writable copy of an
 * image's root filesystem, owned by the user) and {@code container.json} ({@link ContainerMetadata}).
 *
 * <p>Every change of the set of names is a rename(2) in {@code STORAGE/containers}: a container is built
 * completely under a hidden temporary name and renamed into place, and removed by renaming it to a
 * hidden trash name before its tree is deleted. So other processes (and {@code skiff run NAME}) see a
 * container either complete or not at all. Renames that claim a name run under
 * {@code STORAGE/locks/containers.lock}, so of two concurrent creates of one name exactly one wins.
 */
public final class Containers {
    public static final String METADATA = "container.json";
    public static final String ROOTFS = "rootfs";
    private static final long MAX_METADATA = 8L << 20;

    /** What fills the new container's root filesystem directory (which does not exist yet). */
    @FunctionalInterface
    public interface Populator {
        void populate(Path rootfs) throws IOException;
    }

    /** A listed container: its metadata and where it lives. */
    public record Listed(ContainerMetadata metadata, Path dir) {
        public Path rootfs() {
            return dir.resolve(ROOTFS);
        }
    }

    private final Path storageDir;

    private Containers(Path storageDir) {
        this.storageDir = storageDir;
    }

    /**
     * The containers of the storage directory {@code storageDir}. Nothing is read or locked here; the name lock
     * (a file lock, which util.Locks also makes threads of one JVM wait for) is taken per operation.
     */
    public static Containers open(Path storageDir) {
        return new Containers(storageDir);
    }

    /** Where the containers live: one directory each, named by the container. */
    public Path dir() {
        return storageDir.resolve("containers");
    }

    private Path lockFile() {
        return storageDir.resolve("locks").resolve("containers.lock");
    }

    /**
     * The container {@code name}, if it exists. Cheap, as it is on the path of every {@code skiff run}:
     * one open and one small JSON read, no directory listing.
     */
    public Optional<Container> find(String name) {
        if (!ContainerNames.isValid(name)) return Optional.empty();
        Path d = dir().resolve(name);
        ContainerMetadata m;
        try {
            m = readMetadata(d);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new SkiffException(ExitCode.STORAGE, "cannot read container '" + name + "' (" + d.resolve(METADATA)
                    + "): " + e.getMessage() + " (remove it with 'skiff rm " + name + "' and create it again)", e);
        }
        return Optional.of(new Container(name, d.resolve(ROOTFS), m.image(), m.manifest(), m.config()));
    }

    /** Like {@link #find} but a missing container is an error (exit 3). */
    public Container get(String name) {
        return find(name).orElseThrow(() -> notFound(name));
    }

    public ContainerMetadata metadata(String name) throws IOException {
        if (!ContainerNames.isValid(name)) throw notFound(name);
        try {
            return readMetadata(dir().resolve(name)).withName(name);
        } catch (NoSuchFileException | NotDirectoryException e) {
            throw notFound(name);
        }
    }

    static SkiffException notFound(String name) {
        return new SkiffException(ExitCode.IMAGE, "no such container: '" + name + "' (see 'skiff ps' for the containers there are)");
    }

    private static ContainerMetadata readMetadata(Path containerDir) throws IOException {
        try (InputStream in = Files.newInputStream(containerDir.resolve(METADATA))) {
            byte[] data = in.readNBytes((int) MAX_METADATA + 1);
            if (data.length > MAX_METADATA) throw new IOException("container.json is larger than " + MAX_METADATA + " bytes");
            return Json.read(data, ContainerMetadata.class);
        }
    }

    /** All containers, by name. Hidden work directories and unreadable entries are skipped. */
    public List<Listed> list() throws IOException {
        Path d = dir();
        List<Listed> out = new ArrayList<>();
        if (!Files.isDirectory(d)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!ContainerNames.isValid(n)) continue;
                try {
                    out.add(new Listed(readMetadata(p).withName(n), p));
                } catch (NoSuchFileException | NotDirectoryException e) {
                    // removed meanwhile, or not a container
                } catch (IOException e) {
                    out.add(new Listed(new ContainerMetadata(n, null, "<unreadable: " + e.getMessage() + ">", null, null, null), p));
                }
            }
        }
        out.sort(Comparator.comparing(l -> l.metadata().name()));
        return out;
    }

    /**
     * Creates container {@code name} (generated when null) from an image of the store; returns its metadata.
     * When the image's directory rootfs is cached it is copied (cp -a: reflinks make that nearly free);
     * otherwise the layers are flattened straight into the container, so no second copy lands in the cache.
     */
    public ContainerMetadata create(Store store, String image, String name, Map<String, String> env,
                                           Consumer<String> warnings) throws IOException {
        ResolvedImage img = ResolvedImage.resolve(store, image);
        if (name != null) checkFree(name);
        ContainerMetadata m = new ContainerMetadata(null, null, img.name(), img.manifest(), null, img.config());
        return build(name, m, rootfs -> populateFromImage(store, img.manifest(), env, warnings, rootfs));
    }

    /** Fills {@code rootfs} (which must not exist) with the image's flattened tree. */
    public static void populateFromImage(Store store, Digest manifest, Map<String, String> env, Consumer<String> warnings,
                                         Path rootfs) throws IOException {
        Path cached = Rootfs.path(store, manifest, Rootfs.Format.DIR);
        if (Files.isDirectory(cached, LinkOption.NOFOLLOW_LINKS)) {
            Trees.copy(cached, rootfs);
        } else {
            Rootfs.convertTo(store, manifest, Rootfs.Format.DIR, ConvertSettings.load(env), warnings, rootfs);
        }
    }

    /**
     * Builds a container under a temporary name with {@code populator}, writes its metadata (fresh id and
     * creation time) and renames it to {@code name} (generated when null).
     */
    public ContainerMetadata build(String name, ContainerMetadata template, Populator populator) throws IOException {
        if (name != null) checkFree(name);
        Path cdir = Files.createDirectories(dir());
        sweepLeftovers();
        // The build lock is taken before the directory exists and held until it is renamed into place, so a
        // sweeper that gets the lock knows the directory belongs to a create that died.
        String token = ContainerNames.newId().substring(0, 16);
        Path tmp = cdir.resolve(".tmp-" + (name != null ? name : "new") + "-" + token);
        try (BuildLock lock = BuildLock.acquire(buildLockFile(token))) {
            Files.createDirectory(tmp);
            try {
                populator.populate(tmp.resolve(ROOTFS));
                ContainerMetadata m = template.withId(ContainerNames.newId())
                        .withCreated(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
                while (true) {
                    String n = name != null ? name : ContainerNames.generate(c -> Files.exists(cdir.resolve(c)));
                    AtomicFiles.write(tmp.resolve(METADATA), Json.bytes(m.withName(n)));
                    try (var l = Locks.exclusive(lockFile())) {
                        if (Files.exists(cdir.resolve(n))) {
                            if (name == null) continue; // a generated name was taken meanwhile: draw another
                            throw inUse(n);
                        }
                        Files.move(tmp, cdir.resolve(n), StandardCopyOption.ATOMIC_MOVE);
                    }
                    return m.withName(n);
                }
            } finally {
                if (Files.exists(tmp)) FileTrees.delete(tmp);
            }
        }
    }

    private Path buildLockFile(String token) {
        return storageDir.resolve("locks").resolve("container-build-" + token + ".lock");
    }

    /** A non-blocking exclusive lock on a build's lock file; deleted with the lock when the build ends. */
    private record BuildLock(Path file, java.nio.channels.FileChannel channel) implements AutoCloseable {
        static BuildLock acquire(Path file) throws IOException {
            Files.createDirectories(file.getParent());
            var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.WRITE);
            ch.lock();
            return new BuildLock(file, ch);
        }

        /** The lock if nobody holds it (the builder is gone), else empty. */
        static Optional<BuildLock> tryAcquire(Path file) {
            try {
                var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.WRITE);
                try {
                    if (ch.tryLock() != null) return Optional.of(new BuildLock(file, ch));
                } catch (java.nio.channels.OverlappingFileLockException e) {
                    // held by a build in this very JVM
                }
                ch.close();
            } catch (IOException e) {
                // cannot tell: leave it
            }
            return Optional.empty();
        }

        @Override
        public void close() throws IOException {
            try {
                Files.deleteIfExists(file);
            } finally {
                channel.close();
            }
        }
    }

    /**
     * Best effort: deletes what killed commands left: {@code .tmp-*} directories of creates whose build
     * lock nobody holds any more, and {@code .trash-*} directories of interrupted removals.
     */
    void sweepLeftovers() {
        Path cdir = dir();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(cdir, ".{tmp,trash}-*")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                try {
                    if (n.startsWith(".trash-")) {
                        FileTrees.delete(p);
                        continue;
                    }
                    String token = n.substring(n.lastIndexOf('-') + 1);
                    if (!token.matches("[0-9a-f]{16}")) continue;
                    Optional<BuildLock> dead = BuildLock.tryAcquire(buildLockFile(token));
                    if (dead.isEmpty()) continue;
                    try (BuildLock l = dead.get()) {
                        FileTrees.delete(p);
                    }
                } catch (IOException | RuntimeException e) {
                    // another process may be deleting it right now; a later sweep tries again
                }
            }
        } catch (IOException ignored) {
            // nothing to sweep
        }
    }

    private void checkFree(String name) {
        ContainerNames.check(name);
        if (Files.exists(dir().resolve(name))) throw inUse(name);
    }

    private static SkiffException inUse(String name) {
        return new SkiffException(ExitCode.USAGE, "the container name '" + name + "' is already in use"
                + " (choose another name, or remove that container first with 'skiff rm " + name + "')");
    }

    /** Copies container {@code src} (its rootfs as it is now) to a new container {@code dst} (generated when null). */
    public ContainerMetadata clone(String src, String dst) throws IOException {
        ContainerMetadata m = metadata(src);
        if (dst != null) checkFree(dst);
        Path from = dir().resolve(src).resolve(ROOTFS);
        return build(dst, m, rootfs -> Trees.copy(from, rootfs));
    }

    /** Renames a container; the new name must be free. */
    public void rename(String from, String to) throws IOException {
        ContainerMetadata m = metadata(from);
        ContainerNames.check(to);
        Path cdir = dir();
        try (var l = Locks.exclusive(lockFile())) {
            if (!Files.exists(cdir.resolve(from))) throw notFound(from);
            if (Files.exists(cdir.resolve(to))) throw inUse(to);
            Files.move(cdir.resolve(from), cdir.resolve(to), StandardCopyOption.ATOMIC_MOVE);
        }
        // The directory name is authoritative; the name inside is only refreshed for readers of the file.
        AtomicFiles.write(cdir.resolve(to).resolve(METADATA), Json.bytes(m.withName(to)));
    }

    /** Where the runs of a container are recorded: one file per run, named by its pid, holding its start time. */
    private static final String RUNNING = "running";

    /**
     * Records that process {@code pid} runs container {@code name} (skiff run, whose pid the payload keeps). The record
     * lives in the container's directory, so a rename takes it along; it names a live process exactly as long as
     * that process runs, whatever happens to the pid afterwards (the start time tells a reused pid apart).
     */
    public void markRunning(String name, long pid) throws IOException {
        String start = Procs.startTime(pid);
        if (start == null) return;
        Path d = Files.createDirectories(dir().resolve(name).resolve(RUNNING));
        AtomicFiles.write(d.resolve(Long.toString(pid)), (start + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    /** Drops the record of {@code pid} (a run of this JVM that has ended: skiff run --rm). */
    public void unmarkRunning(String name, long pid) throws IOException {
        Files.deleteIfExists(dir().resolve(name).resolve(RUNNING).resolve(Long.toString(pid)));
    }

    /** The pids running container {@code name} now; records of processes that ended are dropped. */
    public List<Long> running(String name) {
        Path d = dir().resolve(name).resolve(RUNNING);
        List<Long> live = new ArrayList<>();
        try (var s = Files.newDirectoryStream(d)) {
            for (Path f : s) {
                long pid;
                try {
                    pid = Long.parseLong(f.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue; // a temporary file of AtomicFiles
                }
                if (Procs.alive(pid, Files.readString(f).strip())) live.add(pid);
                else Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            // no record directory (never run), or it went away with the container
        }
        live.sort(null);
        return live;
    }

    /** Removes a container: it disappears at once (rename to a hidden trash name), then its tree is deleted. */
    public void remove(String name) throws IOException {
        remove(name, false);
    }

    /**
     * As {@link #remove(String)}; a running container is refused unless {@code force}, which first kills its
     * processes (SIGKILL, as docker rm -f): deleting the tree under a running program would break it half-way.
     */
    public void remove(String name, boolean force) throws IOException {
        if (!ContainerNames.isValid(name)) throw notFound(name);
        Path cdir = dir();
        Path trash;
        try (var l = Locks.exclusive(lockFile())) {
            Path d = cdir.resolve(name);
            if (!Files.isRegularFile(d.resolve(METADATA))) throw notFound(name);
            List<Long> pids = running(name);
            if (!pids.isEmpty() && !force)
                throw new SkiffException(ExitCode.USAGE, "container '" + name + "' is running (pid "
                        + pids.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(", "))
                        + "): stop it first, or kill and remove it with 'skiff rm -f " + name + "'");
            for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            trash = cdir.resolve(".trash-" + name + "-" + ContainerNames.newId().substring(0, 12));
            Files.move(d, trash, StandardCopyOption.ATOMIC_MOVE);
        }
        try {
            FileTrees.delete(trash);
        } catch (IOException e) {
            throw new SkiffException(ExitCode.STORAGE, "container '" + name + "' was removed but deleting its files in "
                    + trash + " failed: " + e.getMessage() + " (delete that directory by hand)", e);
        }
        sweepLeftovers();
    }

    /** Apparent size of a container's root filesystem in bytes (walks the tree: not cheap). */
    public static long size(Listed c) throws IOException {
        return Trees.diskUsage(c.rootfs());
    }
}
