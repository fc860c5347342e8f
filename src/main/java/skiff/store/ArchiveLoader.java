package skiff.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.image.ImageIndex;
import skiff.image.ImageManifest;
import skiff.image.MediaTypes;
import skiff.reference.Reference;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Imports image archives into the store: docker-archive ({@code docker save}, {@code skopeo copy
 * docker-archive:}) and OCI archives (a tar of an OCI image layout, {@code skopeo copy oci-archive:}),
 * optionally gzip- or zstd-compressed.
 *
 * <p>The archive is untrusted. It is read through a random-access tar index, so layers stream from
 * disk into the store and are never held in memory; JSON members are bounded by
 * {@link Store#MAX_METADATA_BLOB}; member names with absolute paths or {@code ..} are refused; every
 * blob is checked against its digest (layers of a docker-archive against the config's diff_ids)
 * before it is renamed into the store. Any defect is exit 5 with one line saying what is wrong.
 */
public final class ArchiveLoader {
    private static final int MAX_ENTRIES = 200_000;
    private static final int MAX_LINK_HOPS = 16;
    private static final int MAX_LAYERS = 1000;
    private static final Pattern HEX_NAME = Pattern.compile("(?:.*/)?(?:blobs/sha256/)?([0-9a-f]{64})(?:\\.json)?");
    /** The name containerd and Docker put on OCI archive entries; ref.name there is often only the tag. */
    public static final String CONTAINERD_NAME = "io.containerd.image.name";

    /** What was loaded: the image's names (empty for an unnamed image) and its index.json descriptor. */
    public record Loaded(List<String> names, Descriptor descriptor, Digest configDigest) {}

    private final Store store;
    private final TarFile tar;
    private final Map<String, TarArchiveEntry> entries = new HashMap<>();

    private ArchiveLoader(Store store, TarFile tar) {
        this.store = store;
        this.tar = tar;
    }

    static SkiffException bad(String what) {
        return new SkiffException(ExitCode.STORAGE, "bad image archive: " + what);
    }

    /**
     * Loads every image of the archive at {@code file} (a plain or compressed tar). Holds the shared gc
     * lock so a concurrent prune cannot delete blobs before they are named.
     */
    public static List<Loaded> load(Store store, Path file) throws IOException {
        try (var gc = store.gcShared()) {
            Path plain = null;
            try {
                Path tarPath = file;
                MediaTypes.Compression c = sniffCompression(file);
                if (c != MediaTypes.Compression.NONE) {
                    plain = Files.createTempFile(store.tmpDir(), "load-", ".tar");
                    try (InputStream in = DockerArchive.decompress(Files.newInputStream(file), c);
                         OutputStream o = Files.newOutputStream(plain)) {
                        in.transferTo(o);
                    } catch (IOException e) {
                        throw bad("cannot decompress " + file + ": " + e.getMessage());
                    }
                    tarPath = plain;
                }
                TarFile tf;
                try {
                    tf = new TarFile(tarPath);
                } catch (IOException | RuntimeException e) {
                    throw bad(file + " is not a tar archive (" + e.getMessage() + ")");
                }
                try (tf) {
                    ArchiveLoader l = new ArchiveLoader(store, tf);
                    l.index();
                    return l.loadAll();
                }
            } catch (JsonProcessingException e) {
                throw bad("malformed JSON: " + e.getOriginalMessage());
            } catch (SkiffException e) {
                // Digests and names inside the archive are archive defects, not lookups of the user's.
                if (e.exitCode() == ExitCode.IMAGE) throw bad(e.getMessage());
                throw e;
            } finally {
                if (plain != null) Files.deleteIfExists(plain);
            }
        }
    }

    private static MediaTypes.Compression sniffCompression(Path file) throws IOException {
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 4);
        }
        if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) return MediaTypes.Compression.GZIP;
        if (n >= 4 && (head[0] & 0xff) == 0x28 && (head[1] & 0xff) == 0xb5 && (head[2] & 0xff) == 0x2f && (head[3] & 0xff) == 0xfd)
            return MediaTypes.Compression.ZSTD;
        return MediaTypes.Compression.NONE;
    }

    /** Member names, normalised ("./" dropped) and checked: no absolute paths, no "..". */
    private void index() {
        List<TarArchiveEntry> all = tar.getEntries();
        if (all.size() > MAX_ENTRIES) throw bad("it has " + all.size() + " members, more than " + MAX_ENTRIES);
        for (TarArchiveEntry e : all) {
            String n = normalise(e.getName());
            if (n.isEmpty()) continue;
            entries.put(n, e);
        }
    }

    static String normalise(String name) {
        if (name.startsWith("/")) throw bad("member '" + name + "' has an absolute path");
        List<String> parts = new ArrayList<>();
        for (String p : name.split("/")) {
            if (p.isEmpty() || p.equals(".")) continue;
            if (p.equals("..")) throw bad("member or reference '" + name + "' escapes the archive with '..'");
            parts.add(p);
        }
        return String.join("/", parts);
    }

    /** The regular-file member {@code name} refers to, following symbolic and hard links inside the archive. */
    private TarArchiveEntry member(String name) {
        String n = normalise(name);
        for (int hop = 0; hop <= MAX_LINK_HOPS; hop++) {
            TarArchiveEntry e = entries.get(n);
            if (e == null) throw bad("it has no member '" + name + "'");
            if (e.isSymbolicLink()) {
                String target = e.getLinkName();
                if (target.startsWith("/")) throw bad("member '" + n + "' links outside the archive");
                int slash = n.lastIndexOf('/');
                n = normalise((slash < 0 ? "" : n.substring(0, slash + 1)) + target);
            } else if (e.isLink()) {
                n = normalise(e.getLinkName());
            } else if (e.isFile()) {
                return e;
            } else {
                throw bad("member '" + n + "' is not a regular file");
            }
        }
        throw bad("member '" + name + "' is a chain of more than " + MAX_LINK_HOPS + " links");
    }

    private byte[] small(String name) throws IOException {
        TarArchiveEntry e = member(name);
        if (e.getSize() > Store.MAX_METADATA_BLOB)
            throw bad("member '" + name + "' is " + e.getSize() + " bytes, more than the " + Store.MAX_METADATA_BLOB + " allowed for JSON");
        try (InputStream in = tar.getInputStream(e)) {
            return in.readNBytes((int) Store.MAX_METADATA_BLOB);
        }
    }

    private List<Loaded> loadAll() throws IOException {
        if (entries.containsKey("manifest.json")) return loadDocker();
        if (entries.containsKey("index.json")) return loadOci();
        if (entries.containsKey("repositories"))
            throw bad("it is in the docker save format from before Docker 1.10 (no manifest.json); re-save it with a newer docker or skopeo");
        throw bad("it has neither manifest.json (docker-archive) nor index.json (OCI archive)");
    }

    // ---- docker-archive ----

    private List<Loaded> loadDocker() throws IOException {
        List<DockerArchive.Entry> manifest = Json.MAPPER.readValue(small("manifest.json"), new TypeReference<List<DockerArchive.Entry>>() {});
        if (manifest == null || manifest.isEmpty()) throw bad("manifest.json lists no images");
        Map<String, Map<String, String>> repositories = Map.of();
        if (entries.containsKey("repositories"))
            repositories = Json.MAPPER.readValue(small("repositories"), new TypeReference<Map<String, Map<String, String>>>() {});
        List<Loaded> out = new ArrayList<>();
        for (DockerArchive.Entry e : manifest) {
            if (e == null || e.config() == null || e.layers() == null) throw bad("a manifest.json entry lacks Config or Layers");
            if (e.layers().size() > MAX_LAYERS) throw bad("an image has " + e.layers().size() + " layers, more than " + MAX_LAYERS);
            byte[] configBytes = small(e.config());
            Digest configDigest = Digest.sha256(configBytes);
            Matcher m = HEX_NAME.matcher(normalise(e.config()));
            if (m.matches() && !m.group(1).equals(configDigest.hex()))
                throw bad("config '" + e.config() + "' does not match its name (its digest is " + configDigest + ")");
            ImageConfig config = Json.read(configBytes, ImageConfig.class);
            List<Digest> diffIds = config.rootfs() == null || config.rootfs().diffIds() == null ? List.of() : config.rootfs().diffIds();
            if (diffIds.size() != e.layers().size())
                throw bad("config '" + e.config() + "' lists " + diffIds.size() + " diff_ids but manifest.json " + e.layers().size() + " layers");
            store.putBlob(configBytes);
            List<Descriptor> layers = new ArrayList<>();
            for (int k = 0; k < diffIds.size(); k++) layers.add(importLayer(e.layers().get(k), diffIds.get(k)));
            ImageManifest im = new ImageManifest(2, MediaTypes.OCI_MANIFEST, null,
                    Descriptor.of(MediaTypes.OCI_CONFIG, configDigest, configBytes.length), layers, null, null);
            byte[] mb = Json.bytes(im);
            Digest md = store.putBlob(mb);
            Descriptor desc = Descriptor.of(MediaTypes.OCI_MANIFEST, md, mb.length);
            Set<String> names = new LinkedHashSet<>();
            if (e.repoTags() != null) for (String t : e.repoTags()) names.add(name(t));
            // The legacy file names images by their top layer's directory (the v1 layer id).
            if (!e.layers().isEmpty()) {
                String top = normalise(e.layers().getLast());
                String topId = top.contains("/") ? top.substring(0, top.indexOf('/')) : null;
                for (var repo : repositories.entrySet())
                    for (var tag : repo.getValue().entrySet())
                        if (topId != null && topId.equals(tag.getValue())) names.add(name(repo.getKey() + ":" + tag.getKey()));
            }
            out.add(register(desc, new ArrayList<>(names), configDigest));
        }
        return out;
    }

    private static String name(String repoTag) {
        Reference r;
        try {
            r = Reference.parse(repoTag);
        } catch (SkiffException x) {
            throw bad("it names an image '" + repoTag + "', which is not a valid image reference");
        }
        return r.toString();
    }

    /** A docker-archive layer: usually an uncompressed tar, possibly compressed (newer Docker). */
    private Descriptor importLayer(String path, Digest diffId) throws IOException {
        if (store.hasBlob(diffId))
            return Descriptor.of(MediaTypes.OCI_LAYER, diffId, Files.size(store.blobPath(diffId)));
        TarArchiveEntry e = member(path);
        Path tmp = Files.createTempFile(store.tmpDir(), "load-", ".blob");
        try {
            MessageDigest raw = Digest.newSha256();
            byte[] head;
            try (InputStream in = new BufferedInputStream(tar.getInputStream(e), 1 << 16)) {
                in.mark(8);
                head = in.readNBytes(4);
                in.reset();
                try (OutputStream o = Files.newOutputStream(tmp)) {
                    new DigestInputStream(in, raw).transferTo(o);
                }
            }
            Digest rawDigest = new Digest("sha256", HexFormat.of().formatHex(raw.digest()));
            MediaTypes.Compression c = compression(head);
            String mt = switch (c) {
                case NONE -> MediaTypes.OCI_LAYER;
                case GZIP -> MediaTypes.OCI_LAYER_GZIP;
                case ZSTD -> MediaTypes.OCI_LAYER_ZSTD;
            };
            Digest uncompressed = rawDigest;
            if (c != MediaTypes.Compression.NONE) {
                MessageDigest u = Digest.newSha256();
                try (InputStream in = new DigestInputStream(DockerArchive.decompress(Files.newInputStream(tmp), c), u)) {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException x) {
                    throw bad("layer '" + path + "' is not valid " + c + " data: " + x.getMessage());
                }
                uncompressed = new Digest("sha256", HexFormat.of().formatHex(u.digest()));
            }
            if (!uncompressed.equals(diffId))
                throw bad("layer '" + path + "' does not match its diff_id " + diffId + " (its content is " + uncompressed + ")");
            long size = Files.size(tmp);
            if (store.hasBlob(rawDigest)) Files.deleteIfExists(tmp);
            else store.commitBlob(tmp, rawDigest);
            return Descriptor.of(mt, rawDigest, size);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static MediaTypes.Compression compression(byte[] h) {
        if (h.length >= 2 && (h[0] & 0xff) == 0x1f && (h[1] & 0xff) == 0x8b) return MediaTypes.Compression.GZIP;
        if (h.length >= 4 && (h[0] & 0xff) == 0x28 && (h[1] & 0xff) == 0xb5 && (h[2] & 0xff) == 0x2f && (h[3] & 0xff) == 0xfd)
            return MediaTypes.Compression.ZSTD;
        return MediaTypes.Compression.NONE;
    }

    // ---- OCI archive ----

    private List<Loaded> loadOci() throws IOException {
        ImageIndex index = Json.read(small("index.json"), ImageIndex.class);
        if (index.manifests().isEmpty()) throw bad("index.json lists no images");
        List<Loaded> out = new ArrayList<>();
        for (Descriptor d : index.manifests()) {
            if (d == null || d.digest() == null) throw bad("an index.json entry has no digest");
            if (!StoredImage.isManifest(d.mediaType()) && !StoredImage.isIndex(d.mediaType()))
                throw bad("index.json entry " + d.digest() + " has media type '" + d.mediaType() + "', not an image manifest or index");
            copyTree(d, 0);
            List<String> names = new ArrayList<>();
            String n = d.annotation(CONTAINERD_NAME);
            if (n == null) n = d.annotation(Descriptor.REF_NAME);
            // A bare ref.name ("latest", "v1") is only a tag within the layout, not an image name.
            if (n != null && (n.contains(":") || n.contains("/"))) names.add(name(n));
            Map<String, String> keep = new java.util.TreeMap<>();
            if (d.annotations() != null) keep.putAll(d.annotations());
            keep.remove(Descriptor.REF_NAME);
            keep.remove(CONTAINERD_NAME);
            Descriptor clean = d.withAnnotations(keep.isEmpty() ? null : keep);
            Digest cfg = StoredImage.isManifest(d.mediaType()) ? store.manifest(d.digest()).config().digest()
                    : StoredImage.load(store, clean).configDigest();
            out.add(register(clean, names, cfg));
        }
        return out;
    }

    /** Copies a manifest or index and everything it references from the archive into the store. */
    private void copyTree(Descriptor d, int depth) throws IOException {
        if (depth > 8) throw bad("image indexes nested more than 8 deep");
        copyBlob(d);
        if (StoredImage.isIndex(d.mediaType())) {
            ImageIndex idx = store.imageIndex(d.digest());
            for (Descriptor c : idx.manifests()) {
                // Archives of one platform of a multi-platform image carry only that platform's blobs.
                if (!store.hasBlob(c.digest()) && !entries.containsKey(blobName(c.digest()))) continue;
                if (StoredImage.isManifest(c.mediaType()) || StoredImage.isIndex(c.mediaType())) copyTree(c, depth + 1);
            }
        } else {
            ImageManifest m = store.manifest(d.digest());
            if (m.config() == null) throw bad("manifest " + d.digest() + " has no config");
            if (m.layers().size() > MAX_LAYERS) throw bad("manifest " + d.digest() + " has more than " + MAX_LAYERS + " layers");
            copyBlob(m.config());
            for (Descriptor l : m.layers()) copyBlob(l);
        }
    }

    private static String blobName(Digest d) {
        return "blobs/" + d.algorithm() + "/" + d.hex();
    }

    private void copyBlob(Descriptor d) throws IOException {
        if (store.hasBlob(d.digest())) return;
        TarArchiveEntry e = member(blobName(d.digest()));
        if (d.size() >= 0 && e.getSize() != d.size())
            throw bad("blob " + d.digest() + " is " + e.getSize() + " bytes, its descriptor says " + d.size());
        Path tmp = Files.createTempFile(store.tmpDir(), "load-", ".blob");
        try {
            MessageDigest md = d.digest().newMessageDigest();
            try (InputStream in = new DigestInputStream(tar.getInputStream(e), md); OutputStream o = Files.newOutputStream(tmp)) {
                in.transferTo(o);
            }
            String got = HexFormat.of().formatHex(md.digest());
            if (!got.equals(d.digest().hex())) throw bad("blob " + d.digest() + " does not match its digest (content is " + got + ")");
            store.commitBlob(tmp, d.digest());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    // ---- naming ----

    private Loaded register(Descriptor desc, List<String> names, Digest configDigest) throws IOException {
        if (names.isEmpty()) {
            store.updateIndex(list -> {
                boolean present = list.stream().anyMatch(x -> x.digest().equals(desc.digest()) && x.annotation(Descriptor.REF_NAME) == null);
                if (!present) list.add(desc);
                return list;
            });
        }
        for (String n : names) store.tag(n, desc);
        return new Loaded(names, desc, configDigest);
    }
}
