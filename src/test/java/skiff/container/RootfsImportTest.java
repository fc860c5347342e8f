package skiff.container;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.layer.Limits;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hostile and odd rootfs tarballs, built entry by entry as an attacker would. */
class RootfsImportTest {
    @TempDir
    Path tmp;

    /** A tar of (name, kind, payload) triples: kind is f(ile), d(ir), l (symlink to payload), h (hard link), c (char device). */
    static byte[] tar(String... spec) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(bytes)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (int i = 0; i < spec.length; i += 3) {
                String name = spec[i];
                String kind = spec[i + 1];
                String payload = spec[i + 2];
                TarArchiveEntry e = switch (kind) {
                    case "d" -> new TarArchiveEntry(name, TarConstants.LF_DIR, true);
                    case "l" -> new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
                    case "h" -> new TarArchiveEntry(name, TarConstants.LF_LINK, true);
                    case "c" -> new TarArchiveEntry(name, TarConstants.LF_CHR, true);
                    default -> new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
                };
                if (kind.equals("l") || kind.equals("h")) e.setLinkName(payload);
                byte[] data = payload.getBytes(StandardCharsets.UTF_8);
                if (kind.equals("f")) e.setSize(data.length);
                e.setMode(kind.equals("d") ? 0755 : 0644);
                t.putArchiveEntry(e);
                if (kind.equals("f")) t.write(data);
                t.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    SkiffException refused(byte[] tar) {
        Store store = Store.open(tmp.resolve("storage"));
        var e = assertThrows(SkiffException.class, () -> RootfsImport.importImage(store, new ByteArrayInputStream(tar), "t.tar", "example.org/x:1"));
        assertEquals(ExitCode.STORAGE, e.exitCode());
        return e;
    }

    @Test
    void pathEscapesAreRefused() throws IOException {
        assertTrue(refused(tar("../evil", "f", "x")).getMessage().contains("'..'"));
        assertTrue(refused(tar("a/../../evil", "f", "x")).getMessage().contains("'..'"));
        assertTrue(refused(tar("/etc/passwd", "f", "x")).getMessage().contains("absolute"));
        // A symlink to the outside, then a write through it.
        assertTrue(refused(tar("link", "l", "/etc", "link/passwd", "f", "x")).getMessage().contains("symlink"));
        assertTrue(refused(tar("up", "l", "..", "up/x", "f", "x")).getMessage().contains("symlink"));
        assertTrue(refused(tar("h", "h", "/etc/shadow")).getMessage().contains("hard link"));
        assertTrue(refused(tar("h", "h", "not-yet")).getMessage().contains("hard link"));
        assertTrue(refused(tar("d", "d", "", "d", "f", "x")).getMessage().contains("replaces"));
        assertTrue(refused(tar("f", "f", "x", "f/child", "f", "y")).getMessage().contains("not a directory"));
        // Nothing was tagged.
        assertTrue(Store.open(tmp.resolve("storage")).resolve("example.org/x:1").isEmpty());
    }

    @Test
    void limitsOfTheConvertSettingsBoundTheImport() throws IOException {
        Store store = Store.open(tmp.resolve("storage"));
        byte[] big = tar("big", "f", "x".repeat(20_000));
        var tooBig = assertThrows(SkiffException.class, () -> RootfsImport.importImage(store, new ByteArrayInputStream(big), "t.tar", null,
                Limits.defaults().withMaxUncompressedBytes(10_000)));
        assertTrue(tooBig.getMessage().contains("more than 10000 bytes"), tooBig.getMessage());

        byte[] manyLevels = tar("a/b/c/d/e/f", "f", "x");
        var tooMany = assertThrows(SkiffException.class, () -> RootfsImport.importImage(store, new ByteArrayInputStream(manyLevels), "t.tar", null,
                Limits.defaults().withMaxEntries(3)));
        assertTrue(tooMany.getMessage().contains("more than 3 entries"), tooMany.getMessage());

        byte[] longName = tar("n".repeat(5000), "f", "x");
        var tooLong = assertThrows(SkiffException.class, () -> RootfsImport.importImage(store, new ByteArrayInputStream(longName), "t.tar", null));
        assertTrue(tooLong.getMessage().contains("longer than 4096 bytes"), tooLong.getMessage());

        // A gzip bomb: 80 MB of zeros in about 80 KB.
        ByteArrayOutputStream bomb = new ByteArrayOutputStream();
        try (var gz = new org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream(bomb);
             var t = new TarArchiveOutputStream(gz)) {
            TarArchiveEntry e = new TarArchiveEntry("zeros");
            e.setSize(80L << 20);
            t.putArchiveEntry(e);
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 80; i++) t.write(zeros);
            t.closeArchiveEntry();
        }
        var bombed = assertThrows(SkiffException.class, () -> RootfsImport.importImage(store, new ByteArrayInputStream(bomb.toByteArray()), "t.tar.gz", null));
        assertTrue(bombed.getMessage().contains("decompression bomb"), bombed.getMessage());
    }

    @Test
    void garbageIsABadArchive() {
        var e = refused("this is not a tar archive, just some text that is long enough".repeat(20).getBytes());
        assertTrue(e.getMessage().contains("tar"), e.getMessage());
    }

    @Test
    void devicesAndWhiteoutsAreLeftOutAndTheRestIsNormalised() throws IOException {
        Store store = Store.open(tmp.resolve("storage"));
        byte[] t = tar("./", "d", "", "./bin/", "d", "", "./bin/tool", "f", "#!/bin/sh\n", "./bin/alias", "h", "./bin/tool",
                "./dev/null", "c", "", "./.wh.gone", "f", "", "etc//conf", "f", "a=1\n", "etc/link", "l", "../bin/tool");
        var r = RootfsImport.importImage(store, new ByteArrayInputStream(t), "t.tar", "example.org/ok:1");
        assertEquals(2, r.skipped());
        Path rootfs = tmp.resolve("rootfs");
        Containers.populateFromImage(store, r.manifest(), Map.of(), w -> {}, rootfs);
        Map<String, String> tree = ContainerFixture.describe(rootfs);
        assertEquals(java.util.Set.of("bin", "bin/tool", "bin/alias", "etc", "etc/conf", "etc/link"), tree.keySet());
        assertEquals("symlink -> ../bin/tool", tree.get("etc/link"));
        assertEquals(Files.getAttribute(rootfs.resolve("bin/tool"), "unix:ino"), Files.getAttribute(rootfs.resolve("bin/alias"), "unix:ino"));
        assertFalse(Files.exists(rootfs.resolve("dev/null")));
        assertTrue(store.resolve("example.org/ok:1").isPresent());
    }
}
