package skiff.layer;

import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.MediaTypes.Compression;
import skiff.testing.TreeDiff;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Layer semantics the flattener must get right, on tarballs written entry by entry. */
class FlattenerTest {
    final List<String> warnings = new ArrayList<>();

    /** Flattens with layers read one by one and concurrently: both must emit exactly the same. */
    RecordingSink flatten(LayerSource... layers) throws IOException {
        RecordingSink sink = new RecordingSink();
        Flattener.flatten(List.of(layers), sink, Limits.defaults(), warnings::add, 1);
        assertTrue(sink.finished);
        RecordingSink parallel = new RecordingSink();
        List<String> w2 = new ArrayList<>();
        Flattener.flatten(List.of(layers), parallel, Limits.defaults(), w2::add, 4);
        assertEquals(sink.order, parallel.order);
        assertEquals(sink.entries, parallel.entries);
        assertEquals(warnings, w2);
        // gzip layers again through each other inflater (ISA-L, libdeflate, the JDK's zlib): the same tree.
        for (LayerStreams.Inflater how : LayerStreams.Inflater.values()) {
            RecordingSink other = new RecordingSink();
            LayerStreams.inflater = how;
            try {
                Flattener.flatten(List.of(layers), other, Limits.defaults(), w -> {}, 2);
            } finally {
                LayerStreams.inflater = LayerStreams.INFLATER;
            }
            assertEquals(sink.order, other.order, how.toString());
            assertEquals(sink.entries, other.entries, how.toString());
        }
        // The two bottom-up passes, as a stack that needs them runs: the same tree, through each inflater.
        for (LayerStreams.Inflater how : LayerStreams.Inflater.values()) {
            RecordingSink two = new RecordingSink();
            LayerStreams.inflater = how;
            Flattener.TWO_PASS_ONLY = true;
            try {
                Flattener.flatten(List.of(layers), two, Limits.defaults(), w -> {}, 2);
            } finally {
                LayerStreams.inflater = LayerStreams.INFLATER;
                Flattener.TWO_PASS_ONLY = false;
            }
            assertEquals(sink.canonical(), two.canonical(), how.toString());
        }
        return sink;
    }

    @Test
    void hardLinkToAFileOfAnEarlierLayerKeepsTheOldContentWhenTheTargetIsReplacedOrRemoved() throws Exception {
        var sink = flatten(
                Tars.layer("l1", new Tars().file("bin/tool", "v1").file("bin/other", "o1").bytes()),
                Tars.layer("l2", new Tars().hardlink("bin/tool-link", "bin/tool").hardlink("keep", "bin/other").bytes()),
                Tars.layer("l3", new Tars().file("bin/tool", "v2").file("bin/.wh.other", "").bytes()));
        assertEquals("file 644 v2", sink.entries.get("bin/tool"));
        // tool-link and keep are the only names left of their inodes: plain files with the old content.
        assertEquals("file 644 v1", sink.entries.get("bin/tool-link"));
        assertEquals("file 644 o1", sink.entries.get("keep"));
        assertFalse(sink.entries.containsKey("bin/other"));
    }

    @Test
    void hardLinkGroupsSurviveAcrossLayersAndAreEmittedLast() throws Exception {
        var sink = flatten(
                Tars.layer("l1", new Tars().file("a", "same").hardlink("b", "a").bytes()),
                Tars.layer("l2", new Tars().hardlink("c", "b").file("z", "later").bytes()));
        assertEquals("file 644 same", sink.entries.get("a"));
        assertEquals("hardlink -> a", sink.entries.get("b"));
        assertEquals("hardlink -> a", sink.entries.get("c"));
        assertEquals(List.of("", "a", "z", "b", "c"), sink.order);
    }

    @Test
    void entriesBeforeTheirParentsGetImplicitRootOwnedDirectoriesUntilListed() throws Exception {
        var sink = flatten(Tars.layer("l1", new Tars()
                .file("x/y/z", "deep first", 0600, 1000, 1000)
                .dir("x", 0700)
                .bytes()));
        assertEquals("dir 700", sink.entries.get("x"));
        assertEquals("dir 755", sink.entries.get("x/y"));
        assertEquals(0, sink.meta.get("x/y").uid());
        assertEquals(1000, sink.meta.get("x/y/z").uid());
        // One pass: the file as its layer streams by, the directories once all layers are read.
        assertEquals(List.of("x/y/z", "", "x", "x/y"), sink.order);
    }

    @Test
    void whiteoutsAndOpaqueDirectories() throws Exception {
        var sink = flatten(
                Tars.layer("l1", new Tars().file("etc/a", "a").file("etc/b", "b").file("opq/old", "old")
                        .file("opq/sub/old", "old").file("dir/f", "f").bytes()),
                Tars.layer("l2", new Tars()
                        .file("etc/.wh.a", "")
                        .dir("opq", 0750).file("opq/.wh..wh..opq", "").file("opq/new", "new")
                        .file("opq/.wh.new", "") // same layer: a whiteout hides only lower layers
                        .file(".wh.dir", "").file(".wh.never-existed", "")
                        .file("etc/.wh..wh.plnk", "") // aufs bookkeeping, not a file
                        .bytes()),
                Tars.layer("l3", new Tars().file("dir/g", "recreated").bytes()));
        assertFalse(sink.entries.containsKey("etc/a"));
        assertEquals("file 644 b", sink.entries.get("etc/b"));
        assertEquals("dir 750", sink.entries.get("opq"));
        assertEquals("file 644 new", sink.entries.get("opq/new"));
        assertFalse(sink.entries.containsKey("opq/old"));
        assertFalse(sink.entries.containsKey("opq/sub"));
        assertFalse(sink.entries.containsKey("dir/f"));
        assertEquals("file 644 recreated", sink.entries.get("dir/g"));
        assertTrue(sink.entries.keySet().stream().noneMatch(p -> p.contains(".wh.")), sink.entries.toString());
    }

    @Test
    void anImageWithoutLayersIsAnEmptyRoot() throws Exception {
        var sink = flatten();
        assertEquals(Map.of("", "dir 755"), sink.entries);
    }

    @Test
    void aZeroByteBlobIsAnEmptyLayerAndAGlobalPaxHeaderIsNoFile() throws Exception {
        var sink = flatten(new LayerSource("zero", Compression.NONE, () -> new java.io.ByteArrayInputStream(new byte[0])),
                Tars.layer("git-archive-like", new Tars().globalPaxHeader("comment", "0123abcd").file("a/file", "hello").bytes()));
        assertEquals(Map.of("", "dir 755", "a", "dir 755", "a/file", "file 644 hello"), sink.entries);
        assertEquals(List.of(), warnings);
    }

    /** A sink that reads only the first byte of each file, and fails at the file named {@code failAt}. */
    static final class PickySink implements TreeSink {
        final Map<String, Integer> firstBytes = new java.util.TreeMap<>();
        final String failAt;

        PickySink(String failAt) {
            this.failAt = failAt;
        }

        @Override
        public void file(String path, Metadata m, long size, java.io.InputStream content) throws IOException {
            if (path.equals(failAt)) throw new IOException("disk full at " + path);
            firstBytes.put(path, content.read());
        }

        @Override public void directory(String path, Metadata m) {}
        @Override public void symlink(String path, Metadata m, String target) {}
        @Override public void special(String path, Metadata m, SpecialType type, int major, int minor) {}
        @Override public void hardlink(String path, String target) {}
        @Override public void finish() {}
    }

    @Test
    void aSinkMayStopReadingOrFailAndTheReaderThreadsStop() throws Exception {
        Tars t = new Tars();
        for (int i = 0; i < 50; i++) t.file("f" + (100 + i), (char) ('A' + i % 26) + "x".repeat(300_000));
        byte[] tar = t.bytes();
        for (int threads : new int[] {1, 4}) {
            PickySink picky = new PickySink(null);
            Flattener.flatten(List.of(Tars.layer("l", tar)), picky, Limits.defaults(), warnings::add, threads);
            assertEquals(50, picky.firstBytes.size());
            assertEquals((int) 'A' + 7, picky.firstBytes.get("f107"), "each file starts at its own first byte");
            var e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> Flattener.flatten(
                    List.of(Tars.layer("l", tar)), new PickySink("f120"), Limits.defaults(), warnings::add, threads));
            assertEquals("disk full at f120", e.getMessage());
        }
        Thread.sleep(100);
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(th -> th.getName().startsWith("skiff-layer")),
                "reader threads left running");
    }

    @Test
    void fileReplacedByDirectoryAndBack() throws Exception {
        var sink = flatten(
                Tars.layer("l1", new Tars().file("p", "file").bytes()),
                Tars.layer("l2", new Tars().dir("p", 0755).file("p/child", "c").bytes()),
                Tars.layer("l3", new Tars().file("p", "file again").bytes()));
        assertEquals("file 644 file again", sink.entries.get("p"));
        assertFalse(sink.entries.containsKey("p/child"));
    }

    @Test
    void symlinksSpecialsLongNamesAndEmptyLayers() throws Exception {
        String longName = "l/" + "x".repeat(250) + "/" + "y".repeat(250);
        String longTarget = "/" + "t".repeat(1000);
        var sink = flatten(
                Tars.layer("empty", new Tars().bytes()),
                Tars.layer("gnu", new Tars().gnuLongNames().file(longName, "gnu").symlink("gnulink", longTarget).bytes()),
                Tars.layer("pax", new Tars().file(longName + "2", "pax").symlink("paxlink", longTarget)
                        .special("dev/null", TarConstants.LF_CHR, 1, 3).special("dev/sda", TarConstants.LF_BLK, 8, 0)
                        .special("fifo", TarConstants.LF_FIFO, 0, 0).bytes()),
                Tars.layer("empty2", new Tars().bytes(), Compression.NONE, Compression.NONE));
        assertEquals("file 644 gnu", sink.entries.get(longName));
        assertEquals("file 644 pax", sink.entries.get(longName + "2"));
        assertEquals("symlink -> " + longTarget, sink.entries.get("gnulink"));
        assertEquals("symlink -> " + longTarget, sink.entries.get("paxlink"));
        assertEquals("CHAR_DEVICE 1:3", sink.entries.get("dev/null"));
        assertEquals("BLOCK_DEVICE 8:0", sink.entries.get("dev/sda"));
        assertEquals("FIFO 0:0", sink.entries.get("fifo"));
    }

    @Test
    void aHardLinkToItselfThroughAParentLinkChangesNothing() throws Exception {
        // umoci fails on this (it removes the name, then links to what it removed); it is harmless to keep the file.
        RecordingSink sink = flatten(
                Tars.layer("base", new Tars().file("usr/lib/libx.so", "libx").symlink("lib", "usr/lib").bytes()),
                Tars.layer("top", new Tars().hardlink("lib/libx.so", "usr/lib/libx.so").hardlink("usr/lib/libx.so", "/lib/libx.so").bytes()));
        assertEquals("file 644 libx", sink.entries.get("usr/lib/libx.so"));
        assertEquals("symlink -> usr/lib", sink.entries.get("lib"));
        assertEquals(List.of("", "usr", "usr/lib", "usr/lib/libx.so", "lib"), List.copyOf(sink.entries.keySet()));
    }

    @Test
    void gzipZstdAndPlainLayersGiveTheSameTreeEvenWhenMislabelled() throws Exception {
        byte[] tar = new Tars().file("a/b", "content").symlink("s", "a/b").hardlink("h", "a/b").bytes();
        Map<String, String> expected = flatten(Tars.layer("gz", tar)).entries;
        for (Compression actual : Compression.values())
            for (Compression label : Compression.values())
                assertEquals(expected, flatten(Tars.layer("x", tar, actual, label)).entries, actual + " labelled " + label);
    }

    @Test
    void ownersModesMtimesAndXattrsReachTheSink(@TempDir Path tmp) throws Exception {
        var layer = Tars.layer("l", new Tars()
                .file("suid", "s", 04755, 0, 0)
                .file("owned", "o", 0640, 1234, 5678)
                .fileWithPax("x", "x", "SCHILY.xattr.user.note", "hello")
                .fileWithPax("cap", "c", "SCHILY.xattr.security.capability", "\u0001\u0002")
                .bytes());
        var sink = flatten(layer);
        assertEquals(04755, sink.meta.get("suid").mode());
        assertEquals(1234, sink.meta.get("owned").uid());
        assertEquals(5678, sink.meta.get("owned").gid());
        assertEquals(1_700_000_000L, sink.meta.get("owned").mtimeSeconds());
        assertArrayEquals("hello".getBytes(StandardCharsets.UTF_8), sink.meta.get("x").xattrs().get("user.note"));
        assertArrayEquals(new byte[] {1, 2}, sink.meta.get("cap").xattrs().get("security.capability"));

        // The directory writer keeps what an unprivileged user can, and says what it could not.
        Path out = tmp.resolve("root");
        Flattener.flatten(List.of(layer), new skiff.rootfs.DirectorySink(out, warnings::add), Limits.defaults(), warnings::add);
        assertEquals(0755, (int) Files.getAttribute(out.resolve("suid"), "unix:mode") & 07777, "setuid dropped");
        assertEquals(0640, (int) Files.getAttribute(out.resolve("owned"), "unix:mode") & 07777);
        var view = Files.getFileAttributeView(out.resolve("x"), UserDefinedFileAttributeView.class);
        if (view.list().contains("note")) {
            ByteBuffer b = ByteBuffer.allocate(16);
            view.read("note", b);
            assertEquals("hello", new String(b.array(), 0, b.position(), StandardCharsets.UTF_8));
            assertEquals(List.of("skipped 1 extended attribute(s) outside the user.* namespace, which only privileged users may set"), warnings);
        } else {
            assertTrue(warnings.getFirst().startsWith("skipped 2 extended attribute(s)"), warnings.toString());
        }
    }

    @Test
    void directoryRootfsSkipsDevicesWithOneWarningNamingTheCount(@TempDir Path tmp) throws Exception {
        var layer = Tars.layer("l", new Tars().special("dev/null", TarConstants.LF_CHR, 1, 3)
                .special("dev/zero", TarConstants.LF_CHR, 1, 5).special("run/fifo", TarConstants.LF_FIFO, 0, 0)
                .file("dev/keep", "k").bytes());
        Path out = tmp.resolve("root");
        Flattener.flatten(List.of(layer), new skiff.rootfs.DirectorySink(out, warnings::add), Limits.defaults(), warnings::add);
        assertEquals(List.of("skipped 3 device node(s), FIFO(s) or socket(s): a directory root filesystem cannot hold them"
                + " without privilege (use --format squashfs to keep them)"), warnings);
        assertEquals(Map.of("", "dir", "dev", "dir", "dev/keep", "file", "run", "dir"),
                Map.copyOf(TreeDiff.map(TreeDiff.snapshot(out, false), e -> e).entrySet().stream()
                        .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, e -> e.getValue().type()))));
    }

    @Test
    void twentyThousandEntriesInOneDirectoryAndADeepTree(@TempDir Path tmp) throws Exception {
        Tars wide = new Tars();
        for (int i = 0; i < 20_000; i++) wide.file("wide/f" + i, Integer.toString(i));
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 1000; i++) deep.append("d/");
        Tars deepTar = new Tars().file(deep + "leaf", "bottom");
        Path out = tmp.resolve("root");
        byte[] wb = wide.bytes();
        long t0 = System.nanoTime();
        Flattener.Stats s = Flattener.flatten(List.of(Tars.layer("wide", wb), Tars.layer("deep", deepTar.bytes())),
                new skiff.rootfs.DirectorySink(out, warnings::add), Limits.defaults(), warnings::add);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(20_001, s.files());
        assertEquals(1 + 1 + 1000, s.directories());
        try (var l = Files.list(out.resolve("wide"))) {
            assertEquals(20_000, l.count());
        }
        assertEquals("19999", Files.readString(out.resolve("wide/f19999")));
        assertEquals("bottom", Files.readString(out.resolve(deep + "leaf")));
        assertTrue(ms < 60_000, "took " + ms + " ms");
    }
}
