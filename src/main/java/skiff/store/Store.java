package skiff.store;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.image.ImageIndex;
import skiff.image.ImageManifest;
import skiff.util.AtomicFiles;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.Locks;
import skiff.util.SkiffException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * skiff's local image store. {@code STORAGE/oci} is a plain OCI image layout (image-layout.md) that
 * skopeo ({@code oci:STORAGE/oci:NAME}) and umoci read; image names are the
 * {@code org.opencontainers.image.ref.name} annotation of index.json entries, holding the fully
 * normalised reference (e.g. {@code docker.io/library/alpine:3.20}).
 *
 * <p>Concurrency: index.json is only rewritten atomically under {@code locks/index.lock}; blobs are
 * immutable and appear by rename once verified, so readers never see a partial one. Commands that add
 * blobs hold {@link #gcShared()} so a concurrent {@code prune} (which takes it exclusively) cannot delete
 * blobs not yet referenced from index.json.
 */
public final class Store {
    /** Manifests and configs are small; a bigger one is hostile or broken. */
    public static final long MAX_METADATA_BLOB = 8L << 20;

    private final Path storage;
    private final Path layout;

    private Store(Path storage) {
        this.storage = storage;
        this.layout = storage.resolve("oci");
    }

    /** Opens the store, creating an empty layout on first use. */
    public static Store open(Path storage) {
        Store s = new Store(storage.toAbsolutePath());
        try {
            if (!Files.exists(s.layout.resolve("oci-layout"))) {
                Files.createDirectories(s.layout.resolve("blobs/sha256"));
                AtomicFiles.write(s.layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes());
            }
            if (!Files.exists(s.layout.resolve("index.json"))) {
                try (var l = Locks.exclusive(s.lockFile("index"))) {
                    if (!Files.exists(s.layout.resolve("index.json")))
                        AtomicFiles.write(s.layout.resolve("index.json"), Json.bytes(ImageIndex.of(List.of())));
                }
            }
        } catch (IOException e) {
            throw new SkiffException(ExitCode.STORAGE, "cannot create the image store in " + storage + ": " + e.getMessage()
                    + " (set --storage or SKIFF_STORAGE to a writable directory)", e);
        }
        return s;
    }

    /** The storage directory (parent of the OCI layout; other stages keep their caches beside it). */
    public Path storage() {
        return storage;
    }

    /** The OCI image layout directory. */
    public Path layout() {
        return layout;
    }

    public Path lockFile(String name) {
        return storage.resolve("locks").resolve(name + ".lock");
    }

    /** Scratch space on the same file system as the blobs, so finished files can be renamed in. */
    public Path tmpDir() throws IOException {
        return Files.createDirectories(storage.resolve("tmp"));
    }

    public Path blobPath(Digest d) {
        return layout.resolve("blobs").resolve(d.algorithm()).resolve(d.hex());
    }

    public boolean hasBlob(Digest d) {
        return Files.isRegularFile(blobPath(d));
    }

    public InputStream openBlob(Digest d) throws IOException {
        try {
            return Files.newInputStream(blobPath(d));
        } catch (NoSuchFileException e) {
            throw new SkiffException(ExitCode.STORAGE, "blob " + d + " is missing from the store " + layout
                    + " (pull the image again)");
        }
    }

    /** Reads a small blob (manifest, index, config) and checks it against its digest. */
    public byte[] readMetadataBlob(Digest d) throws IOException {
        Path p = blobPath(d);
        long size;
        try {
            size = Files.size(p);
        } catch (NoSuchFileException e) {
            throw new SkiffException(ExitCode.STORAGE, "blob " + d + " is missing from the store " + layout
                    + " (pull the image again)");
        }
        if (size > MAX_METADATA_BLOB)
            throw new SkiffException(ExitCode.STORAGE, "blob " + d + " is " + size + " bytes, too big for a manifest or config");
        byte[] data = Files.readAllBytes(p);
        byte[] actual = d.newMessageDigest().digest(data);
        if (!java.util.HexFormat.of().formatHex(actual).equals(d.hex()))
            throw new SkiffException(ExitCode.STORAGE, "blob " + d + " in " + layout + " is corrupt (digest mismatch); remove it and pull again");
        return data;
    }

    /** Stores a small blob atomically; returns its sha256 digest. */
    public Digest putBlob(byte[] data) throws IOException {
        Digest d = Digest.sha256(data);
        if (!hasBlob(d)) AtomicFiles.write(blobPath(d), data);
        return d;
    }

    /**
     * Moves a fully written and already verified file into the store as blob {@code d}. The caller must
     * have checked the digest; the rename makes it visible atomically.
     */
    public void commitBlob(Path verifiedTemp, Digest d) throws IOException {
        Path target = blobPath(d);
        Files.createDirectories(target.getParent());
        AtomicFiles.commit(verifiedTemp, target);
    }

    public ImageManifest manifest(Digest d) throws IOException {
        return Json.read(readMetadataBlob(d), ImageManifest.class);
    }

    public ImageIndex imageIndex(Digest d) throws IOException {
        return Json.read(readMetadataBlob(d), ImageIndex.class);
    }

    public ImageConfig config(ImageManifest m) throws IOException {
        return Json.read(readMetadataBlob(m.config().digest()), ImageConfig.class);
    }

    /** The entries of index.json: one per name (and unnamed ones other tools may add). */
    public List<Descriptor> index() throws IOException {
        return readIndex().manifests();
    }

    private ImageIndex readIndex() throws IOException {
        return Json.read(Files.readAllBytes(layout.resolve("index.json")), ImageIndex.class);
    }

    /** The index.json entry named {@code refName} (a normalised reference), if any. */
    public Optional<Descriptor> resolve(String refName) throws IOException {
        return index().stream().filter(d -> refName.equals(d.annotation(Descriptor.REF_NAME))).findFirst();
    }

    /** Read-modify-write of index.json's entries under the index lock, written atomically. */
    public void updateIndex(UnaryOperator<List<Descriptor>> change) throws IOException {
        try (var l = Locks.exclusive(lockFile("index"))) {
            ImageIndex idx = readIndex();
            List<Descriptor> next = change.apply(new ArrayList<>(idx.manifests()));
            AtomicFiles.write(layout.resolve("index.json"), Json.bytes(new ImageIndex(2, idx.mediaType(),
                    idx.artifactType(), next, idx.subject(), idx.annotations())));
        }
    }

    /** Points {@code refName} at {@code target} (replacing what the name pointed to). */
    public void tag(String refName, Descriptor target) throws IOException {
        var annotations = new java.util.TreeMap<String, String>();
        if (target.annotations() != null) annotations.putAll(target.annotations());
        annotations.put(Descriptor.REF_NAME, refName);
        Descriptor named = target.withAnnotations(annotations);
        updateIndex(list -> {
            list.removeIf(d -> refName.equals(d.annotation(Descriptor.REF_NAME)));
            list.add(named);
            return list;
        });
    }

    /** Removes the name; returns whether it existed. Blobs stay until {@code prune}/gc. */
    public boolean untag(String refName) throws IOException {
        boolean[] found = {false};
        updateIndex(list -> {
            found[0] = list.removeIf(d -> refName.equals(d.annotation(Descriptor.REF_NAME)));
            return list;
        });
        return found[0];
    }

    /** Held by anything that adds blobs, so garbage collection waits for it. */
    public Locks.Held gcShared() throws IOException {
        return Locks.shared(lockFile("gc"));
    }

    /** Held by garbage collection. */
    public Locks.Held gcExclusive() throws IOException {
        return Locks.exclusive(lockFile("gc"));
    }
}
