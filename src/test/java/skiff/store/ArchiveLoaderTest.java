package skiff.store;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hand-made archives, well-formed and hostile: what is accepted, and that defects are exit 5 with a reason. */
class ArchiveLoaderTest {
    @TempDir
    Path tmp;

    /** Members in order; a value starting with "->" is a symlink to the rest. */
    Path tar(Map<String, byte[]> members) throws Exception {
        Path f = tmp.resolve("archive-" + System.nanoTime() + ".tar");
        try (OutputStream o = Files.newOutputStream(f); TarArchiveOutputStream t = new TarArchiveOutputStream(o)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (var m : members.entrySet()) {
                String v = new String(m.getValue(), StandardCharsets.ISO_8859_1);
                TarArchiveEntry e;
                if (v.startsWith("->")) {
                    e = new TarArchiveEntry(m.getKey(), TarArchiveEntry.LF_SYMLINK, true);
                    e.setLinkName(v.substring(2));
                    t.putArchiveEntry(e);
                } else {
                    e = new TarArchiveEntry(m.getKey(), true);
                    e.setSize(m.getValue().length);
                    t.putArchiveEntry(e);
                    t.write(m.getValue());
                }
                t.closeArchiveEntry();
            }
        }
        return f;
    }

    static byte[] layerTar(String file, String content) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(b)) {
            byte[] c = content.getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry(file);
            e.setSize(c.length);
            t.putArchiveEntry(e);
            t.write(c);
            t.closeArchiveEntry();
        }
        return b.toByteArray();
    }

    static byte[] gzip(byte[] data) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(b)) {
            g.write(data);
        }
        return b.toByteArray();
    }

    static byte[] config(Digest... diffIds) {
        StringBuilder ids = new StringBuilder();
        for (Digest d : diffIds) ids.append(ids.isEmpty() ? "" : ",").append('"').append(d).append('"');
        return ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + ids + "]}}").getBytes(StandardCharsets.UTF_8);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    SkiffException rejected(Store s, Path archive) {
        SkiffException e = assertThrows(SkiffException.class, () -> ArchiveLoader.load(s, archive));
        assertEquals(ExitCode.STORAGE, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().startsWith("bad image archive: "), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
        return e;
    }

    @Test
    void legacyDockerSaveWithSymlinkedLayerGzipLayerAndRepositoriesFile() throws Exception {
        byte[] l1 = layerTar("a.txt", "one");
        byte[] l2 = layerTar("b.txt", "two");
        Digest d1 = Digest.sha256(l1), d2 = Digest.sha256(l2);
        byte[] cfg = config(d1, d2, d1);
        Digest c = Digest.sha256(cfg);
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("aaaa/layer.tar", l1);
        m.put("bbbb/layer.tar", gzip(l2));
        m.put("cccc/layer.tar", utf8("->../aaaa/layer.tar"));
        m.put(c.hex() + ".json", cfg);
        m.put("manifest.json", utf8("[{\"Config\":\"" + c.hex() + ".json\",\"RepoTags\":[\"busy:1\"],"
                + "\"Layers\":[\"aaaa/layer.tar\",\"bbbb/layer.tar\",\"cccc/layer.tar\"]}]"));
        m.put("repositories", utf8("{\"legacy/name\":{\"old\":\"cccc\"}}"));
        Store s = Store.open(tmp.resolve("st"));
        var loaded = ArchiveLoader.load(s, tar(m));
        assertEquals(1, loaded.size());
        assertEquals(List.of("docker.io/library/busy:1", "docker.io/legacy/name:old"), loaded.getFirst().names());
        assertEquals(c, loaded.getFirst().configDigest());
        StoredImage i = StoredImage.require(s, "busy:1").getFirst();
        assertEquals(3, i.manifest().layers().size());
        assertEquals(d1, i.manifest().layers().get(0).digest());
        assertTrue(i.manifest().layers().get(1).mediaType().endsWith("+gzip"), "a compressed layer is kept compressed");
        assertEquals(c, StoredImage.require(s, "legacy/name:old").getFirst().configDigest());
        try (var left = Files.list(s.tmpDir())) {
            assertEquals(0, left.count(), "no temporary files left");
        }
    }

    @Test
    void layerNotMatchingItsDiffIdIsRejectedAndNothingIsNamed() throws Exception {
        byte[] l1 = layerTar("a.txt", "one");
        byte[] cfg = config(Digest.sha256(layerTar("a.txt", "other")));
        Digest c = Digest.sha256(cfg);
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("manifest.json", utf8("[{\"Config\":\"" + c.hex() + ".json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l/layer.tar\"]}]"));
        m.put(c.hex() + ".json", cfg);
        m.put("l/layer.tar", l1);
        Store s = Store.open(tmp.resolve("st"));
        assertTrue(rejected(s, tar(m)).getMessage().contains("diff_id"));
        assertEquals(List.of(), s.index());
        assertTrue(s.hasBlob(c), "config stored before the layer failed is garbage prune removes");
        assertEquals(1, Gc.collect(s, Gc.Options.blobsAndCaches(List.of())).blobs().size());
    }

    @Test
    void pathEscapesAreRejected() throws Exception {
        Store s = Store.open(tmp.resolve("st"));
        var e = rejected(s, tar(Map.of("../../etc/evil", utf8("x"), "manifest.json", utf8("[]"))));
        assertTrue(e.getMessage().contains(".."), e.getMessage());
        e = rejected(s, tar(Map.of("/etc/evil", utf8("x"))));
        assertTrue(e.getMessage().contains("absolute"), e.getMessage());

        byte[] cfg = config(Digest.sha256(utf8("x")));
        Digest c = Digest.sha256(cfg);
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("manifest.json", utf8("[{\"Config\":\"" + c.hex() + ".json\",\"Layers\":[\"l/layer.tar\"]}]"));
        m.put(c.hex() + ".json", cfg);
        m.put("l/layer.tar", utf8("->/etc/passwd"));
        assertTrue(rejected(s, tar(m)).getMessage().contains("outside"));
        m.put("l/layer.tar", utf8("->../../../etc/passwd"));
        assertTrue(rejected(s, tar(m)).getMessage().contains(".."));
        m.put("l/layer.tar", utf8("->layer.tar"));
        assertTrue(rejected(s, tar(m)).getMessage().contains("chain"));
    }

    @Test
    void hugeOrMalformedJsonAndNonArchivesAreRejected() throws Exception {
        Store s = Store.open(tmp.resolve("st"));
        byte[] huge = new byte[(int) Store.MAX_METADATA_BLOB + 1];
        java.util.Arrays.fill(huge, (byte) ' ');
        assertTrue(rejected(s, tar(Map.of("manifest.json", huge))).getMessage().contains("bytes"));
        assertTrue(rejected(s, tar(Map.of("manifest.json", utf8("{not json")))).getMessage().contains("JSON"));
        assertTrue(rejected(s, tar(Map.of("manifest.json", utf8("[" + "[".repeat(5000) + "]".repeat(5000) + "]")))).getMessage().contains("JSON"));
        assertTrue(rejected(s, tar(Map.of("index.json", utf8("{\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:../../x\",\"size\":1}]}"))))
                .getMessage().contains("digest"));
        assertTrue(rejected(s, tar(Map.of("hello.txt", utf8("hi")))).getMessage().contains("neither"));
        Path notTar = Files.write(tmp.resolve("junk.bin"), new byte[] {1, 2, 3, 4, 5});
        rejected(s, notTar);
        Path badGzip = Files.write(tmp.resolve("junk.gz"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3});
        assertTrue(rejected(s, badGzip).getMessage().contains("decompress"));
        assertEquals(List.of(), s.index());
    }
}
