package skiff.store;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.Locks;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * What an image name meant for a batch job: the first time a job resolves a tag in this store (its
 * {@code skiff pull}, or its first {@code skiff run}), the entry it found is recorded, and every later run of
 * the same job uses that entry, whatever the tag points to by then. Without this, a pull by another job (or a
 * re-pull in this one) between two job steps, or between the ranks of one step, would give ranks of one job
 * different images. {@code STORAGE/jobs/KEY} holds one line per name: {@code NAME TAB MEDIATYPE TAB DIGEST TAB
 * SIZE}. Pinned images are garbage-collection roots until the pin file is {@link #MAX_AGE} old.
 */
public final class JobPins {
    private JobPins() {}

    /** A pin older than this belongs to a job that has surely ended (Slurm's default MaxTime is far below). */
    public static final Duration MAX_AGE = Duration.ofDays(30);

    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    /**
     * The job this process belongs to, as a file name: {@code slurm-CLUSTER-JOBID} from SLURM_JOB_ID and
     * SLURM_CLUSTER_NAME (job ids are unique per cluster); empty outside a batch job.
     */
    public static Optional<String> job(Map<String, String> env) {
        String id = env.get("SLURM_JOB_ID");
        if (id == null || !id.matches("[0-9]{1,20}")) return Optional.empty();
        String cluster = env.getOrDefault("SLURM_CLUSTER_NAME", "");
        if (!SAFE.matcher(cluster).matches()) cluster = "cluster";
        return Optional.of("slurm-" + cluster + "-" + id);
    }

    static Path dir(Store store) {
        return store.storage().resolve("jobs");
    }

    /** The entry {@code refName} is pinned to for {@code job}, if any. */
    public static Optional<Descriptor> get(Store store, String job, String refName) throws IOException {
        return Optional.ofNullable(read(dir(store).resolve(job)).get(refName));
    }

    /**
     * The entry {@code refName} means for {@code job}: the pinned one, else {@code current} (what the store's
     * index says now), which is then pinned. Several ranks resolving at once agree: the first to take the lock
     * pins, the others read its choice. Empty when nothing is pinned and {@code current} has nothing.
     */
    public static Optional<Descriptor> resolve(Store store, String job, String refName,
                                               Supplier<Optional<Descriptor>> current) throws IOException {
        Path file = dir(store).resolve(job);
        Optional<Descriptor> quick = Optional.ofNullable(read(file).get(refName));
        if (quick.isPresent()) return checked(store, job, refName, quick.get());
        Files.createDirectories(dir(store));
        try (var l = Locks.exclusive(store.lockFile("jobs"))) {
            Map<String, Descriptor> pins = read(file);
            Descriptor pinned = pins.get(refName);
            if (pinned != null) return checked(store, job, refName, pinned);
            Optional<Descriptor> now = current.get();
            if (now.isEmpty()) return now;
            pins.put(refName, now.get());
            write(file, pins);
            return now;
        }
    }

    /** Pins {@code d} for {@code job} unless the job pinned {@code refName} already; returns what is pinned. */
    public static Descriptor pinIfAbsent(Store store, String job, String refName, Descriptor d) throws IOException {
        return resolve(store, job, refName, () -> Optional.of(d)).orElse(d);
    }

    /** Every pinned entry of pin files younger than {@link #MAX_AGE}; older files are removed. For gc. */
    public static List<Descriptor> roots(Store store) throws IOException {
        List<Descriptor> out = new ArrayList<>();
        Path dir = dir(store);
        if (!Files.isDirectory(dir)) return out;
        Instant cutoff = Instant.now().minus(MAX_AGE);
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                if (p.getFileName().toString().startsWith(".")) continue;
                if (Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
                    Files.deleteIfExists(p);
                    continue;
                }
                out.addAll(read(p).values());
            }
        }
        return out;
    }

    private static Optional<Descriptor> checked(Store store, String job, String refName, Descriptor d) {
        if (!store.hasBlob(d.digest()))
            throw new SkiffException(ExitCode.STORAGE, "image " + refName + " was resolved to " + d.digest() + " for job "
                    + job + ", but that image is no longer in the store " + store.layout() + "; pull it again by digest"
                    + " (skiff pull " + repository(refName) + "@" + d.digest() + ") or submit a new job");
        return Optional.of(d);
    }

    /** The name without its tag. */
    static String repository(String refName) {
        int colon = refName.lastIndexOf(':');
        return colon > refName.lastIndexOf('/') ? refName.substring(0, colon) : refName;
    }

    static Map<String, Descriptor> read(Path file) throws IOException {
        Map<String, Descriptor> pins = new LinkedHashMap<>();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return pins;
        }
        for (String line : text.split("\n")) {
            String[] f = line.split("\t");
            if (f.length != 4) continue;
            try {
                pins.put(f[0], Descriptor.of(f[1], Digest.parse(f[2]), Long.parseLong(f[3])));
            } catch (RuntimeException e) {
                // a damaged line pins nothing; the next resolution pins again
            }
        }
        return pins;
    }

    private static void write(Path file, Map<String, Descriptor> pins) throws IOException {
        StringBuilder sb = new StringBuilder();
        pins.forEach((name, d) -> sb.append(name).append('\t').append(d.mediaType()).append('\t').append(d.digest())
                .append('\t').append(d.size()).append('\n'));
        AtomicFiles.write(file, sb.toString().getBytes(StandardCharsets.UTF_8));
    }
}
