package skiff.container;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.testing.Cmd;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The tar export writes, entry by entry, for a tree only root can make (other owners, a device node). */
class RootfsExportTest {
    @TempDir
    Path tmp;

    @Test
    void ownersDevicesLinksAndOrder() throws Exception {
        assumeTrue(((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0, "needs root (CI runs tests as root)");
        Path root = Files.createDirectories(tmp.resolve("root"));
        Files.createDirectories(root.resolve("b/dir"));
        Files.writeString(root.resolve("b/mine"), "mine");
        Files.writeString(root.resolve("b/theirs"), "theirs");
        Files.setAttribute(root.resolve("b/theirs"), "unix:uid", 1234);
        Files.setAttribute(root.resolve("b/theirs"), "unix:gid", 4321);
        Files.setAttribute(root.resolve("b/theirs"), "unix:mode", 04750);
        Files.createLink(root.resolve("a-link"), root.resolve("b/mine"));
        Files.createSymbolicLink(root.resolve("c"), Path.of("b/mine"));
        Cmd.of("mknod", root.resolve("null").toString(), "c", "1", "3").run().ok();
        Cmd.of("mknod", root.resolve("big").toString(), "b", "259", "65536").run().ok();
        Cmd.of("mkfifo", root.resolve("fifo").toString()).run().ok();

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RootfsExport.write(root, out);
        Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(out.toByteArray()))) {
            for (TarArchiveEntry e; (e = in.getNextEntry()) != null; ) entries.put(e.getName(), e);
        }
        // Sorted by name, each directory followed by its contents.
        assertEquals(List.of("a-link", "b/", "b/dir/", "b/mine", "b/theirs", "big", "c", "fifo", "null"), List.copyOf(entries.keySet()));
        // The first name of the inode is the file; the second, a link to it.
        assertEquals(4, entries.get("a-link").getSize());
        assertEquals("a-link", entries.get("b/mine").getLinkName());
        assertEquals(true, entries.get("b/mine").isLink());
        // Root's own files as 0:0; other owners kept, with their set-id bits.
        assertEquals(0, entries.get("a-link").getLongUserId());
        assertEquals(1234, entries.get("b/theirs").getLongUserId());
        assertEquals(4321, entries.get("b/theirs").getLongGroupId());
        assertEquals(04750, entries.get("b/theirs").getMode() & 07777);
        assertEquals("", entries.get("b/theirs").getUserName());
        assertEquals("b/mine", entries.get("c").getLinkName());
        assertEquals(true, entries.get("null").isCharacterDevice());
        assertEquals(1, entries.get("null").getDevMajor());
        assertEquals(3, entries.get("null").getDevMinor());
        assertEquals(true, entries.get("big").isBlockDevice());
        assertEquals(259, entries.get("big").getDevMajor());
        assertEquals(65536, entries.get("big").getDevMinor());
        assertEquals(true, entries.get("fifo").isFIFO());

        // Same tree, same bytes.
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        RootfsExport.write(root, again);
        assertArrayEquals(out.toByteArray(), again.toByteArray());
    }
}
