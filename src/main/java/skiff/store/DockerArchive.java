package skiff.store;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.github.luben.zstd.ZstdInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
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
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The docker-archive format ({@code docker save}, {@code skopeo copy docker-archive:}): a tar with
 * {@code manifest.json} listing, per image, the config file, its RepoTags and its layers as uncompressed
 * tars, plus the legacy {@code repositories} file older tools read.
 */
public final class DockerArchive {
    private DockerArchive() {}

    /** Fixed member times make the same images save to the same bytes. */
    private static final java.nio.file.attribute.FileTime EPOCH = java.nio.file.attribute.FileTime.fromMillis(0);

    /** One manifest.json entry (field names as Docker spells them). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Entry(@JsonProperty("Config") String config,
                        @JsonProperty("RepoTags") List<String> repoTags,
                        @JsonProperty("Layers") List<String> layers) {}

    /** An image to save and the names to record for it (familiar form, e.g. alpine:3.20). */
    public record Item(StoredImage image, List<String> repoTags) {}

    /** RepoTags name for an image name: Docker's familiar form, only for names with a tag. */
    public static String repoTag(Reference r) {
        return r.tag() == null ? null : r.familiarName() + ":" + r.tag();
    }

    /**
     * Writes the images as a docker-archive to {@code out}. Layers are stored uncompressed, as Docker
     * expects; a compressed blob is decompressed once into {@code tmpDir} because a tar header needs the
     * size before the data. Each layer's digest is checked against the config's diff_id while writing.
     */
    public static void write(Store store, List<Item> items, OutputStream out) throws IOException {
        List<Entry> manifest = new ArrayList<>();
        Map<String, Map<String, String>> repositories = new LinkedHashMap<>();
        for (Item it : items) {
            StoredImage i = it.image();
            List<Digest> diffIds = diffIds(i);
            List<String> layers = new ArrayList<>();
            for (Digest d : diffIds) layers.add(d.hex() + "/layer.tar");
            manifest.add(new Entry(i.configDigest().hex() + ".json", it.repoTags().isEmpty() ? null : it.repoTags(), layers));
            for (String t : it.repoTags()) {
                int colon = t.lastIndexOf(':');
                if (!diffIds.isEmpty())
                    repositories.computeIfAbsent(t.substring(0, colon), k -> new LinkedHashMap<>()).put(t.substring(colon + 1), diffIds.getLast().hex());
            }
        }
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        // manifest.json first, so that a streaming reader knows what follows.
        putSmall(tar, "manifest.json", Json.bytes(manifest));
        if (!repositories.isEmpty()) putSmall(tar, "repositories", Json.bytes(repositories));
        Set<String> written = new HashSet<>();
        for (Item it : items) {
            StoredImage i = it.image();
            String configName = i.configDigest().hex() + ".json";
            if (written.add(configName)) putSmall(tar, configName, store.readMetadataBlob(i.configDigest()));
            List<Digest> diffIds = diffIds(i);
            List<Descriptor> blobs = i.manifest().layers();
            for (int k = 0; k < blobs.size(); k++) {
                Digest diffId = diffIds.get(k);
                String name = diffId.hex() + "/layer.tar";
                if (!written.add(name)) continue;
                writeLayer(store, tar, name, blobs.get(k), diffId);
            }
        }
        tar.finish();
        tar.flush();
    }

    private static List<Digest> diffIds(StoredImage i) {
        ImageConfig c = i.config();
        List<Digest> diffIds = c.rootfs() == null || c.rootfs().diffIds() == null ? List.of() : c.rootfs().diffIds();
        if (diffIds.size() != i.manifest().layers().size())
            throw new SkiffException(ExitCode.STORAGE, "image " + (i.name() != null ? i.name() : i.configDigest().shortHex()) + " has "
                    + i.manifest().layers().size() + " layers but its config lists " + diffIds.size() + " diff_ids; it cannot be saved");
        return diffIds;
    }

    private static void putSmall(TarArchiveOutputStream tar, String name, byte[] data) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(data.length);
        e.setMode(0644);
        e.setModTime(EPOCH);
        tar.putArchiveEntry(e);
        tar.write(data);
        tar.closeArchiveEntry();
    }

    private static void writeLayer(Store store, TarArchiveOutputStream tar, String name, Descriptor blob, Digest diffId) throws IOException {
        MediaTypes.Compression comp = MediaTypes.layerCompression(blob.mediaType() == null ? "" : blob.mediaType());
        Path src = store.blobPath(blob.digest());
        Path tmp = null;
        try {
            if (comp != MediaTypes.Compression.NONE) {
                tmp = Files.createTempFile(store.tmpDir(), "save-", ".tar");
                MessageDigest md = diffId.newMessageDigest();
                try (InputStream in = new DigestInputStream(decompress(Files.newInputStream(src), comp), md);
                     OutputStream o = Files.newOutputStream(tmp)) {
                    in.transferTo(o);
                }
                check(md, diffId, blob.digest());
                src = tmp;
            }
            TarArchiveEntry e = new TarArchiveEntry(name);
            e.setSize(Files.size(src));
            e.setMode(0644);
        e.setModTime(EPOCH);
            tar.putArchiveEntry(e);
            MessageDigest md = diffId.newMessageDigest();
            try (InputStream in = new DigestInputStream(Files.newInputStream(src), md)) {
                in.transferTo(tar);
            }
            tar.closeArchiveEntry();
            if (comp == MediaTypes.Compression.NONE) check(md, diffId, blob.digest());
        } finally {
            if (tmp != null) Files.deleteIfExists(tmp);
        }
    }

    private static void check(MessageDigest md, Digest diffId, Digest blob) {
        String got = HexFormat.of().formatHex(md.digest());
        if (!got.equals(diffId.hex()))
            throw new SkiffException(ExitCode.STORAGE, "layer " + blob + " does not match its diff_id " + diffId
                    + " (got " + diffId.algorithm() + ":" + got + "): the store is corrupt; remove the image and pull it again");
    }

    static InputStream decompress(InputStream in, MediaTypes.Compression c) throws IOException {
        return switch (c) {
            case NONE -> in;
            case GZIP -> new GzipCompressorInputStream(new BufferedInputStream(in, 1 << 16), true);
            case ZSTD -> new ZstdInputStream(new BufferedInputStream(in, 1 << 16));
        };
    }
}
