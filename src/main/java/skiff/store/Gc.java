package skiff.store;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageIndex;
import skiff.image.ImageManifest;
import skiff.image.MediaTypes;
import skiff.util.FileTrees;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Mark-and-sweep garbage collection of the store. Marking starts at index.json and follows what the
 * image spec says a blob references: an index its manifests (nested indexes too), a manifest its
 * config, layers and subject; plus the index blob a pull recorded in the {@value StoredImage#INDEX_DIGEST}
 * annotation. Everything else under {@code blobs/} is garbage.
 *
 * <p>Both phases run under {@link Store#gcExclusive()}: commands that add blobs hold the shared side
 * until their image is named in index.json, so a blob written but not yet referenced is never swept.
 */
public final class Gc {
    private Gc() {}

    /** Cached conversions are named by the manifest digest's hex, optionally with a suffix (.sqfs). */
    private static final Pattern CACHE_NAME = Pattern.compile("([0-9a-f]{64})(?:\\..*)?");

    /** What to collect besides unreferenced blobs. */
    public record Options(List<Path> cacheDirs, Duration tmpAge) {
        /** Blobs and caches only (what {@code rmi} does). */
        public static Options blobsAndCaches(List<Path> cacheDirs) {
            return new Options(cacheDirs, null);
        }
    }

    public record Result(List<Digest> blobs, long blobBytes, List<Path> caches, long cacheBytes, int tempFiles, long tempBytes) {
        public long bytes() {
            return blobBytes + cacheBytes + tempBytes;
        }

        /** e.g. "3 blobs, 1 cached root filesystem, 2 temporary files: 12.3 MB freed". */
        public String summary() {
            StringBuilder s = new StringBuilder().append(blobs.size()).append(blobs.size() == 1 ? " blob" : " blobs");
            if (!caches.isEmpty()) s.append(", ").append(caches.size()).append(caches.size() == 1 ? " cached root filesystem" : " cached root filesystems");
            if (tempFiles > 0) s.append(", ").append(tempFiles).append(tempFiles == 1 ? " temporary file" : " temporary files");
            return s.append(", ").append(String.format(java.util.Locale.ROOT, "%.1f MB freed", bytes() / 1e6)).toString();
        }
    }

    /** The marked set: every blob reachable from index.json, and which of them are image manifests. */
    public record Marked(Set<Digest> blobs, Set<String> manifestHex) {}

    /** Marks what index.json references. A referenced blob that is corrupt stops the collection: better keep garbage than lose data. */
    public static Marked mark(Store store) throws IOException {
        Marked m = new Marked(new HashSet<>(), new HashSet<>());
        List<Descriptor> roots = new ArrayList<>(store.index());
        // Images a running batch job resolved a tag to stay until its pin expires, even once the tag moved on.
        roots.addAll(JobPins.roots(store));
        for (Descriptor d : roots) {
            visit(store, d, m, 0);
            String idx = d.annotation(StoredImage.INDEX_DIGEST);
            if (idx != null) {
                try {
                    visit(store, Descriptor.of(MediaTypes.OCI_INDEX, Digest.parse(idx), -1), m, 0);
                } catch (SkiffException e) {
                    if (e.exitCode() != ExitCode.IMAGE) throw e; // malformed annotation: nothing to keep
                }
            }
        }
        return m;
    }

    private static void visit(Store store, Descriptor d, Marked m, int depth) throws IOException {
        if (d == null || d.digest() == null || !m.blobs().add(d.digest())) return;
        if (depth > 16) throw new SkiffException(ExitCode.STORAGE, "references nested more than 16 deep in " + store.layout() + "; refusing to collect garbage");
        if (!store.hasBlob(d.digest())) return;
        String mt = d.mediaType();
        if (!StoredImage.isIndex(mt) && !StoredImage.isManifest(mt)) {
            // Layers and configs reference nothing. An unknown JSON type (an artifact) might; sniff it.
            boolean maybeRefs = mt == null || mt.endsWith("+json") && !mt.contains("config");
            if (!maybeRefs) return;
            mt = sniff(store, d.digest());
            if (mt == null) return;
        }
        if (StoredImage.isIndex(mt)) {
            ImageIndex idx = store.imageIndex(d.digest());
            for (Descriptor c : idx.manifests()) visit(store, c, m, depth + 1);
            visit(store, idx.subject(), m, depth + 1);
        } else {
            ImageManifest man = store.manifest(d.digest());
            m.manifestHex().add(d.digest().hex());
            visit(store, man.config(), m, depth + 1);
            for (Descriptor l : man.layers()) visit(store, l, m, depth + 1);
            visit(store, man.subject(), m, depth + 1);
        }
    }

    /** The media type a JSON blob says it has (manifests and indexes carry it), or null. */
    private static String sniff(Store store, Digest d) throws IOException {
        if (Files.size(store.blobPath(d)) > Store.MAX_METADATA_BLOB) return null;
        try {
            var node = Json.MAPPER.readTree(store.readMetadataBlob(d));
            if (node == null || !node.isObject()) return null;
            if (node.has("manifests")) return MediaTypes.OCI_INDEX;
            if (node.has("config") && node.has("layers")) return MediaTypes.OCI_MANIFEST;
            return null;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return null;
        }
    }

    /** Marks and sweeps under the exclusive gc lock. */
    public static Result collect(Store store, Options opts) throws IOException {
        try (var lock = store.gcExclusive()) {
            Marked marked = mark(store);
            List<Digest> blobs = new ArrayList<>();
            long blobBytes = 0;
            Path blobsDir = store.layout().resolve("blobs");
            int[] temps = {0};
            long[] tempBytes = {0};
            Instant cutoff = opts.tmpAge() == null ? null : Instant.now().minus(opts.tmpAge());
            if (Files.isDirectory(blobsDir)) {
                try (Stream<Path> algs = Files.list(blobsDir)) {
                    for (Path alg : algs.toList()) {
                        if (!Files.isDirectory(alg)) continue;
                        try (Stream<Path> files = Files.list(alg)) {
                            for (Path f : files.toList()) {
                                String name = f.getFileName().toString();
                                Digest d = digestOrNull(alg.getFileName().toString(), name);
                                if (d == null) {
                                    if (cutoff != null && name.startsWith(".tmp-") && olderThan(f, cutoff)) {
                                        tempBytes[0] += FileTrees.delete(f);
                                        temps[0]++;
                                    }
                                    continue;
                                }
                                if (marked.blobs().contains(d)) continue;
                                long size = sizeOrZero(f);
                                if (Files.deleteIfExists(f)) {
                                    blobs.add(d);
                                    blobBytes += size;
                                }
                            }
                        }
                    }
                }
            }
            List<Path> caches = new ArrayList<>();
            long cacheBytes = 0;
            for (Path dir : opts.cacheDirs()) {
                if (!Files.isDirectory(dir)) continue;
                try (Stream<Path> entries = Files.list(dir)) {
                    for (Path e : entries.toList()) {
                        var mm = CACHE_NAME.matcher(e.getFileName().toString());
                        if (!mm.matches() || marked.manifestHex().contains(mm.group(1))) continue;
                        cacheBytes += FileTrees.delete(e);
                        caches.add(e);
                    }
                }
            }
            if (cutoff != null) {
                for (Path dir : List.of(store.storage().resolve("tmp"), store.layout())) {
                    if (!Files.isDirectory(dir)) continue;
                    boolean onlyDotTmp = dir.equals(store.layout());
                    try (Stream<Path> entries = Files.list(dir)) {
                        for (Path e : entries.toList()) {
                            if (onlyDotTmp && !e.getFileName().toString().startsWith(".tmp-")) continue;
                            if (!olderThan(e, cutoff)) continue;
                            tempBytes[0] += FileTrees.delete(e);
                            temps[0]++;
                        }
                    }
                }
            }
            return new Result(blobs, blobBytes, caches, cacheBytes, temps[0], tempBytes[0]);
        }
    }

    private static Digest digestOrNull(String alg, String hex) {
        try {
            return new Digest(alg, hex);
        } catch (SkiffException e) {
            return null;
        }
    }

    private static boolean olderThan(Path p, Instant cutoff) throws IOException {
        try {
            FileTime t = Files.getLastModifiedTime(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            return t.toInstant().isBefore(cutoff);
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static long sizeOrZero(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

}
