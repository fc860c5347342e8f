package skiff.store;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageIndex;
import skiff.image.ImageManifest;
import skiff.image.MediaTypes;
import skiff.image.Platform;
import skiff.reference.Reference;
import skiff.registry.RegistryClient;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.Locks;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pulls one image from a registry into the {@link Store}: resolves the reference to a manifest (through
 * an index, choosing the platform), downloads the config and layers in parallel into
 * {@code STORAGE/tmp/ingest} (one partial file per digest, under a per-digest lock so concurrent pulls
 * never write the same part; a later pull resumes it), commits each verified blob by rename, stores the
 * manifest (and index), and only then names the image in index.json. A pull killed at any point leaves
 * nothing half-visible: the name appears last, and only verified blobs are ever renamed in.
 */
public final class Puller {
    /** index.json annotation on a pulled image: the digest of the index the reference resolved to. */
    public static final String INDEX_DIGEST = "dev.skiff.index.digest";
    /**
     * index.json annotation when the registry served a Docker schema 2 manifest: its digest. The store
     * keeps an OCI rewrite of it (OCI media types, same config and layers) because OCI tools such as
     * skopeo ignore index.json entries of Docker media types.
     */
    public static final String MANIFEST_DIGEST = "dev.skiff.manifest.digest";
    /** index.json annotation: the digest the reference resolved to at the registry (NAME@DIGEST pulls it again). */
    public static final String REPO_DIGEST = "dev.skiff.repo.digest";
    /** Layers beyond this are refused: no real image has that many, a hostile manifest might. */
    static final int MAX_LAYERS = 1000;

    /** What a pull reports as it goes; called from several threads. */
    public interface Listener {
        default void resolved(String name, Digest manifest, List<Descriptor> blobs) {}

        /**
         * Right after {@link #resolved}, before any layer is fetched: the image's layers in manifest order, and the
         * digest the store will name its manifest by (an OCI rewrite of a Docker manifest has its own). Enough to
         * start converting while the layers download: each is ready once {@link #blobDone} says so.
         */
        default void layers(Digest storedManifest, List<Descriptor> layers) {}

        default void blobStarted(Descriptor d) {}

        /** {@code bytes} is the total held so far for this blob (resumed parts included). */
        default void blobProgress(Descriptor d, long bytes) {}

        /** {@code downloaded} is false when the store already had it. */
        default void blobDone(Descriptor d, boolean downloaded) {}

        default void warning(String message) {}

        Listener NONE = new Listener() {};
    }

    /**
     * @param name            the store's name for the image (the normalised reference)
     * @param repoDigest      the digest the reference resolved to at the registry (the index's, for multi-platform images)
     * @param manifest        the index.json entry: the platform's image manifest
     * @param downloaded      blobs downloaded (not already in the store)
     * @param downloadedBytes their total size
     */
    public record Result(String name, Digest repoDigest, Descriptor manifest, int downloaded, long downloadedBytes) {}

    private final Store store;
    private final RegistryClient client;
    private final Listener listener;
    private final int parallel;

    public Puller(Store store, RegistryClient client, Listener listener, int parallel) {
        this.store = store;
        this.client = client;
        this.listener = listener == null ? Listener.NONE : listener;
        this.parallel = Math.max(1, parallel);
    }

    /**
     * @param wanted   the platform to choose from an index
     * @param explicit whether the user asked for {@code wanted} (a single-platform image of another
     *                 platform is then an error, rather than a warning)
     */
    public Result pull(Reference ref, Platform wanted, boolean explicit) throws IOException {
        if (!ref.domain().equals(client.domain()))
            throw new IllegalArgumentException("client for " + client.domain() + " used for " + ref);
        String repo = ref.path();
        try (var gc = store.gcShared()) {
            Metadata top = resolveTop(repo, ref);
            Digest repoDigest = top.digest;
            Metadata index = null;
            Metadata manifest;
            Platform platform = null;
            if (MediaTypes.isIndex(top.mediaType)) {
                index = top;
                Descriptor chosen = choose(ref, parse(top, ImageIndex.class), wanted);
                platform = chosen.platform();
                manifest = fetchMetadata(repo, chosen.digest(), chosen.size());
                if (!MediaTypes.isManifest(manifest.mediaType))
                    throw new SkiffException(ExitCode.IMAGE, "the " + platform + " entry of " + ref + " is not an image manifest (" + manifest.mediaType + ")");
            } else {
                manifest = top;
            }
            ImageManifest m = parse(manifest, ImageManifest.class);
            validate(ref, m);

            List<Descriptor> blobs = new ArrayList<>();
            blobs.add(m.config());
            Map<Digest, Descriptor> unique = new LinkedHashMap<>();
            for (Descriptor l : m.layers()) unique.putIfAbsent(l.digest(), l);
            unique.remove(m.config().digest());
            blobs.addAll(unique.values());
            listener.resolved(ref.toString(), manifest.digest, blobs);
            Metadata stored = ociManifest(manifest);
            listener.layers(stored.digest, stored == manifest ? m.layers() : parse(stored, ImageManifest.class).layers());

            AtomicInteger count = new AtomicInteger();
            AtomicLong bytes = new AtomicLong();
            // The config first: it is small, and says the image's platform before the big downloads start.
            if (fetchBlob(repo, m.config())) {
                count.incrementAndGet();
                bytes.addAndGet(m.config().size());
            }
            if (platform == null) platform = checkSinglePlatform(ref, m, wanted, explicit);
            // Highest layer first: a conversion overlapped with the pull reads the layers top down (layer.OnePass).
            fetchAll(repo, blobs.subList(1, blobs.size()).reversed(), count, bytes);

            if (index != null) putMetadata(index);
            putMetadata(manifest);
            putMetadata(stored);
            Map<String, String> annotations = new TreeMap<>();
            annotations.put(REPO_DIGEST, repoDigest.toString());
            if (index != null) annotations.put(INDEX_DIGEST, index.digest.toString());
            if (stored != manifest) annotations.put(MANIFEST_DIGEST, manifest.digest.toString());
            Descriptor named = new Descriptor(stored.mediaType, stored.digest, stored.bytes.length, null,
                    annotations, platform, null);
            store.tag(ref.toString(), named);
            return new Result(ref.toString(), repoDigest, named, count.get(), bytes.get());
        }
    }

    /** A verified manifest or index and its digest. */
    private record Metadata(byte[] bytes, String mediaType, Digest digest) {}

    /** Resolves the reference: locally when the registry's HEAD names a digest the store already has. */
    private Metadata resolveTop(String repo, Reference ref) throws IOException {
        if (ref.digest() != null) return fetchMetadata(repo, ref.digest(), -1);
        Optional<Digest> head = client.headManifest(repo, ref.tag());
        if (head.isPresent() && store.hasBlob(head.get())) {
            Optional<Metadata> local = local(head.get());
            if (local.isPresent()) return local.get();
        }
        RegistryClient.Manifest got = client.getManifest(repo, ref.tag());
        return new Metadata(got.bytes(), got.mediaType(), got.digest());
    }

    private Metadata fetchMetadata(String repo, Digest d, long size) throws IOException {
        Metadata md = null;
        if (store.hasBlob(d)) md = local(d).orElse(null);
        if (md == null) {
            RegistryClient.Manifest got = client.getManifest(repo, d.toString());
            md = new Metadata(got.bytes(), got.mediaType(), d);
        }
        if (size >= 0 && md.bytes.length != size)
            throw new SkiffException(ExitCode.REGISTRY, "manifest " + d + " of " + repo + " is " + md.bytes.length
                    + " bytes but its index says " + size + "; refused");
        return md;
    }

    private Optional<Metadata> local(Digest d) throws IOException {
        byte[] data;
        try {
            data = store.readMetadataBlob(d);
        } catch (SkiffException e) {
            return Optional.empty(); // corrupt or odd local copy: fetch it again
        }
        JsonNode n = Json.MAPPER.readTree(data);
        String mt = n.path("mediaType").asText("");
        if (mt.isEmpty()) mt = n.has("manifests") ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
        if (!MediaTypes.isIndex(mt) && !MediaTypes.isManifest(mt)) return Optional.empty();
        return Optional.of(new Metadata(data, mt, d));
    }

    private void putMetadata(Metadata md) throws IOException {
        if (!store.hasBlob(md.digest)) AtomicFiles.write(store.blobPath(md.digest), md.bytes);
    }

    /** A Docker schema 2 manifest rewritten with the equivalent OCI media types; others unchanged. */
    private static Metadata ociManifest(Metadata md) throws IOException {
        if (!MediaTypes.DOCKER_MANIFEST.equals(md.mediaType)) return md;
        JsonNode root = Json.MAPPER.readTree(md.bytes);
        if (!(root instanceof com.fasterxml.jackson.databind.node.ObjectNode n)) return md;
        n.put("mediaType", MediaTypes.OCI_MANIFEST);
        if (n.get("config") instanceof com.fasterxml.jackson.databind.node.ObjectNode c
                && MediaTypes.DOCKER_CONFIG.equals(c.path("mediaType").asText()))
            c.put("mediaType", MediaTypes.OCI_CONFIG);
        for (JsonNode l : n.path("layers")) {
            if (!(l instanceof com.fasterxml.jackson.databind.node.ObjectNode layer)) continue;
            switch (layer.path("mediaType").asText()) {
                case MediaTypes.DOCKER_LAYER_GZIP -> layer.put("mediaType", MediaTypes.OCI_LAYER_GZIP);
                case MediaTypes.DOCKER_LAYER_FOREIGN -> layer.put("mediaType", MediaTypes.OCI_LAYER_NONDIST_GZIP);
                default -> { }
            }
        }
        byte[] out = Json.MAPPER.writeValueAsBytes(n);
        return new Metadata(out, MediaTypes.OCI_MANIFEST, Digest.sha256(out));
    }

    private static <T> T parse(Metadata md, Class<T> type) {
        try {
            return Json.read(md.bytes, type);
        } catch (IOException | RuntimeException e) {
            throw new SkiffException(ExitCode.REGISTRY, "manifest " + md.digest + " is malformed: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
    }

    private static void validate(Reference ref, ImageManifest m) {
        if (m.config() == null || m.config().digest() == null)
            throw new SkiffException(ExitCode.REGISTRY, "manifest of " + ref + " has no config; refused");
        if (m.config().size() < 0 || m.config().size() > Store.MAX_METADATA_BLOB)
            throw new SkiffException(ExitCode.REGISTRY, "manifest of " + ref + " has a config of " + m.config().size() + " bytes; refused");
        if (m.layers().size() > MAX_LAYERS)
            throw new SkiffException(ExitCode.REGISTRY, "manifest of " + ref + " has " + m.layers().size() + " layers, more than " + MAX_LAYERS + "; refused");
        for (Descriptor l : m.layers()) {
            if (l == null || l.digest() == null || l.size() < 0)
                throw new SkiffException(ExitCode.REGISTRY, "manifest of " + ref + " has a layer without digest or size; refused");
        }
    }

    private Descriptor choose(Reference ref, ImageIndex idx, Platform wanted) {
        List<String> available = new ArrayList<>();
        for (Descriptor d : idx.manifests()) {
            if (d == null || d.digest() == null || d.platform() == null) continue;
            Platform p = d.platform();
            if ("unknown".equals(p.os()) && "unknown".equals(p.architecture())) continue; // attestations
            if (!MediaTypes.isManifest(d.mediaType()) && d.mediaType() != null) continue;
            if (wanted.matches(p)) return d;
            available.add(p.toString());
        }
        throw new SkiffException(ExitCode.IMAGE, "image " + ref + " has no " + wanted + " variant (it has: "
                + (available.isEmpty() ? "none" : String.join(", ", available)) + "); choose one with --platform");
    }

    private Platform checkSinglePlatform(Reference ref, ImageManifest m, Platform wanted, boolean explicit) throws IOException {
        JsonNode cfg = Json.MAPPER.readTree(store.readMetadataBlob(m.config().digest()));
        String os = cfg.path("os").asText("");
        String arch = cfg.path("architecture").asText("");
        if (os.isEmpty() || arch.isEmpty()) return null;
        String variant = cfg.path("variant").asText("");
        Platform p = Platform.of(os, arch, variant.isEmpty() ? null : variant);
        if (!wanted.matches(p)) {
            if (explicit)
                throw new SkiffException(ExitCode.IMAGE, "image " + ref + " has no " + wanted + " variant (it has: " + p + ")");
            listener.warning("image " + ref + " is for " + p + ", not this host's " + wanted);
        }
        return p;
    }

    private void fetchAll(String repo, List<Descriptor> blobs, AtomicInteger count, AtomicLong bytes) throws IOException {
        if (blobs.isEmpty()) return;
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, blobs.size()), r -> {
            Thread t = new Thread(r, "skiff-pull");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (Descriptor d : blobs) {
                futures.add(pool.submit(() -> {
                    try {
                        if (fetchBlob(repo, d)) {
                            count.incrementAndGet();
                            bytes.addAndGet(d.size());
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof UncheckedIOException u) throw u.getCause();
                    if (c instanceof RuntimeException r) throw r;
                    if (c instanceof Error err) throw err;
                    throw new IOException(c);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SkiffException(ExitCode.REGISTRY, "interrupted");
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Downloads one blob unless the store has it; returns whether it downloaded. */
    private boolean fetchBlob(String repo, Descriptor d) throws IOException {
        if (store.hasBlob(d.digest())) {
            listener.blobDone(d, false);
            return false;
        }
        Path ingest = Files.createDirectories(store.tmpDir().resolve("ingest"));
        String key = d.digest().algorithm() + "-" + d.digest().hex();
        Path lockFile = ingest.resolve(key + ".lock");
        try (var lock = Locks.exclusive(lockFile)) {
            // Another process may have finished it while this one waited for the lock.
            if (store.hasBlob(d.digest())) {
                listener.blobDone(d, false);
                return false;
            }
            Path part = ingest.resolve(key + ".part");
            listener.blobStarted(d);
            client.downloadBlob(repo, d, part, n -> listener.blobProgress(d, n));
            store.commitBlob(part, d.digest());
            // Safe to unlink while held: whoever waits on it, or opens a new one, finds the blob committed.
            Files.deleteIfExists(lockFile);
        }
        listener.blobDone(d, true);
        return true;
    }
}
