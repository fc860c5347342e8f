package skiff.squashfs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import skiff.layer.TreeSink;
import skiff.testing.TreeDiff;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every image the writer produces is read back by the kernel, squashfuse, unsquashfs and our own reader,
 * and each result is compared with the input tree (types, modes, owners, sizes, content, symlink targets,
 * devices, hard-link groups, mtimes, user xattrs). Runs as root (loop mounts, devices, owners).
 */
class SquashfsWriterIT {
    @TempDir
    Path tmp;

    static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    /** Reads img with all four readers and compares each with tree. */
    static void assertAllReadersSee(Path tree, Path img, Path work) throws IOException {
        Map<String, TreeDiff.Entry> want = TreeDiff.snapshot(tree, ROOT);
        Map<String, Long> wantTimes = TreeDiff.mtimes(tree);
        Map<String, String> wantX = Trees.xattrs(tree);
        List<String> problems = new ArrayList<>();

        if (ROOT) {
            Path m = Files.createDirectories(work.resolve("kernel"));
            Trees.run("mount", "-t", "squashfs", "-o", "loop,ro", img.toString(), m.toString());
            try {
                check(problems, "kernel", want, TreeDiff.snapshot(m, true), wantTimes, TreeDiff.mtimes(m), wantX, Trees.xattrs(m));
            } finally {
                Trees.run("umount", m.toString());
            }
        }
        Path f = Files.createDirectories(work.resolve("fuse"));
        // squashfuse_ll: the high-level squashfuse numbers inodes per path, which hides hard links.
        Trees.run("squashfuse_ll", img.toString(), f.toString());
        try {
            check(problems, "squashfuse_ll", want, TreeDiff.snapshot(f, ROOT), wantTimes, TreeDiff.mtimes(f), wantX, Trees.xattrs(f));
        } finally {
            Trees.run("fusermount3", "-u", f.toString());
        }
        Path u = work.resolve("unsquashfs");
        Trees.run("unsquashfs", "-q", "-n", "-d", u.toString(), img.toString());
        check(problems, "unsquashfs", want, TreeDiff.snapshot(u, ROOT), wantTimes, TreeDiff.mtimes(u), wantX, Trees.xattrs(u));

        Path o = work.resolve("ours");
        try (SquashfsReader r = new SquashfsReader(img)) {
            r.extractTo(o, s -> {});
        }
        Map<String, TreeDiff.Entry> wantOurs = want;
        if (!ROOT) wantOurs = TreeDiff.filter(want, p -> !want.get(p).type().matches("char|block"));
        Map<String, TreeDiff.Entry> ours = TreeDiff.snapshot(o, ROOT);
        check(problems, "SquashfsReader", wantOurs, ours, wantTimes, TreeDiff.mtimes(o), wantX, Trees.xattrs(o));
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    private static void check(List<String> problems, String reader, Map<String, TreeDiff.Entry> want, Map<String, TreeDiff.Entry> got,
                              Map<String, Long> wantTimes, Map<String, Long> gotTimes, Map<String, String> wantX, Map<String, String> gotX) {
        List<String> d = TreeDiff.diff(want, got);
        if (!d.isEmpty()) problems.add(reader + ": " + d.subList(0, Math.min(10, d.size())));
        Map<String, Long> wt = new java.util.TreeMap<>(wantTimes), gt = new java.util.TreeMap<>(gotTimes);
        wt.keySet().retainAll(got.keySet());
        gt.keySet().retainAll(wt.keySet());
        // unsquashfs and our extractor set symlink times from the image; nothing to compare there.
        if (!wt.equals(gt)) problems.add(reader + ": mtimes differ");
        if (!wantX.equals(gotX)) problems.add(reader + ": xattrs differ: want " + wantX + " got " + gotX);
    }

    @ParameterizedTest
    @EnumSource(SquashfsWriter.Compression.class)
    void mixedTreeReadsBackIdenticallyEverywhere(SquashfsWriter.Compression c) throws IOException {
        Path tree = Trees.mixed(tmp.resolve("tree"), ROOT);
        Path img = Trees.write(tree, tmp.resolve("img.sqfs"), c, null);
        assertAllReadersSee(tree, img, tmp);

        // Same input, same bytes.
        Path again = Trees.write(tree, tmp.resolve("again.sqfs"), c, null);
        assertArrayEquals(Files.readAllBytes(img), Files.readAllBytes(again), "output is not deterministic");

        // Duplicates stored once: "random" (300 000 bytes) is in the image once although present twice.
        String super_ = Trees.run("unsquashfs", "-s", img.toString());
        assertTrue(super_.contains("Duplicates are removed"), super_);
        if (c != SquashfsWriter.Compression.NONE) {
            String comp = c == SquashfsWriter.Compression.GZIP ? "gzip" : "zstd";
            Path ref = tmp.resolve("mksquashfs.sqfs");
            Trees.run("mksquashfs", tree.toString(), ref.toString(), "-comp", comp, "-Xcompression-level",
                    c == SquashfsWriter.Compression.GZIP ? "6" : "3", "-noappend", "-quiet", "-no-progress");
            long ours = Files.size(img), theirs = Files.size(ref);
            System.out.printf("%s: skiff %d bytes, mksquashfs %d bytes (%.3f)%n", comp, ours, theirs, (double) ours / theirs);
            assertTrue(ours <= theirs * 1.05, "image " + ours + " bytes, mksquashfs " + theirs);
        } else {
            long raw = 0;
            try (var s = Files.walk(tree)) {
                for (Path p : s.toList()) if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) raw += Files.size(p);
            }
            // Uncompressed, minus the deduplicated 300 000-byte file twice (copy and hard links don't add).
            assertTrue(Files.size(img) < raw - 300_000, "uncompressed image " + Files.size(img) + " vs content " + raw);
        }
    }

    @Test
    void manyFragmentsBetweenBigFilesGiveTheSameImageWithAnyThreadCount() throws IOException {
        // ~40 fragment blocks of small files (more than the writer keeps pending), with multi-block files and a
        // duplicate between them: fragments are written at points fixed by the input, never by timing.
        Path tree = Files.createDirectories(tmp.resolve("tree"));
        java.util.Random rnd = new java.util.Random(42);
        for (int d = 0; d < 4; d++) {
            Path dir = Files.createDirectories(tree.resolve("d" + d));
            for (int i = 0; i < 1200; i++) {
                byte[] b = new byte[500 + rnd.nextInt(4000)];
                for (int j = 0; j < b.length; j++) b[j] = (byte) ('a' + rnd.nextInt(8));
                Files.write(dir.resolve("small-" + i), b);
            }
            byte[] big = new byte[3 * 131072 + 777];
            rnd.nextBytes(big);
            Files.write(dir.resolve("big"), big);
            if (d == 2) Files.write(dir.resolve("big-copy"), big);
        }
        Trees.setMtimes(tree);
        Path one = Trees.write(tree, tmp.resolve("one.sqfs"), SquashfsWriter.Compression.GZIP, null, 1);
        Path four = Trees.write(tree, tmp.resolve("four.sqfs"), SquashfsWriter.Compression.GZIP, null, 4);
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(four), "image depends on the thread count");
        assertAllReadersSee(tree, four, tmp);
    }

    @Test
    void duplicatesAreNotWrittenUnlessTooBigToHold() throws IOException {
        Path tree = Files.createDirectories(tmp.resolve("tree"));
        java.util.Random rnd = new java.util.Random(3);
        byte[] small = new byte[5 * 131072 + 99];
        rnd.nextBytes(small);
        byte[] big = new byte[17 << 20]; // random: stored uncompressed, over the 16 MiB the writer holds per file
        rnd.nextBytes(big);
        for (String n : List.of("a", "b")) {
            Files.write(tree.resolve(n + "-small"), small);
            Files.write(tree.resolve(n + "-big"), big);
        }
        Trees.setMtimes(tree);
        Path img = tmp.resolve("img.sqfs");
        try (SquashfsWriter w = new SquashfsWriter(img, new SquashfsWriter.Options(SquashfsWriter.Compression.GZIP, null, 2, s -> {}))) {
            TreeDriver.drive(tree, w);
            assertEquals(small.length + (long) big.length, w.duplicateBytes());
            // the small duplicate's blocks were never written; the big one's were, then truncated away
            assertEquals(big.length - big.length % 131072, w.rewoundBytes());
        }
        assertTrue(Files.size(img) < small.length + big.length + 200_000, "each content stored once: " + Files.size(img));
        assertAllReadersSee(tree, img, tmp);
    }

    @Test
    void hugeDirectoryUsesAnIndexThatTheKernelFollows() throws IOException {
        Path tree = Files.createDirectories(tmp.resolve("tree/big"));
        for (int i = 0; i < 20_500; i++) Files.writeString(tree.resolve("entry-with-a-longish-name-" + i), Integer.toString(i % 13));
        Trees.setMtimes(tree.getParent());
        Path img = Trees.write(tree.getParent(), tmp.resolve("img.sqfs"), SquashfsWriter.Compression.ZSTD, null);
        assertAllReadersSee(tree.getParent(), img, tmp);
        if (ROOT) {
            Path m = Files.createDirectories(tmp.resolve("m"));
            Trees.run("mount", "-t", "squashfs", "-o", "loop,ro", img.toString(), m.toString());
            try {
                // Lookups by name (not readdir) go through the directory index.
                for (int i : new int[] {0, 1, 9999, 12345, 20_499})
                    assertEquals(Integer.toString(i % 13), Files.readString(m.resolve("big/entry-with-a-longish-name-" + i)));
                assertTrue(Files.notExists(m.resolve("big/entry-with-a-longish-name-20500")));
                assertTrue(Files.notExists(m.resolve("big/0")));
                assertTrue(Files.notExists(m.resolve("big/zzz")));
            } finally {
                Trees.run("umount", m.toString());
            }
        }
    }

    @Test
    void sparseFileOverFourGiB() throws IOException {
        long size = (4L << 30) + 12345;
        byte[] head = "head-of-the-file".getBytes(StandardCharsets.UTF_8);
        byte[] tail = "tail-of-the-file".getBytes(StandardCharsets.UTF_8);
        Path img = tmp.resolve("sparse.sqfs");
        try (SquashfsWriter w = new SquashfsWriter(img, new SquashfsWriter.Options(SquashfsWriter.Compression.GZIP, null, 2, s -> {}))) {
            w.directory("", Trees.meta(0755));
            w.file("huge", Trees.meta(0644), size, Trees.sparseStream(size, head, tail));
            w.file("small", Trees.meta(0644), 3, new java.io.ByteArrayInputStream("abc".getBytes()));
            w.finish();
        }
        assertTrue(Files.size(img) < 1 << 20, "sparse blocks take no space: " + Files.size(img));
        String listing = Trees.run("unsquashfs", "-lln", img.toString());
        assertTrue(listing.contains(Long.toString(size)), listing);
        try (SquashfsReader r = new SquashfsReader(img)) {
            assertEquals(size, r.stat("huge").size());
            assertEquals("abc", new String(r.readAllBytes("small")));
        }
        if (ROOT) {
            Path m = Files.createDirectories(tmp.resolve("m"));
            Trees.run("mount", "-t", "squashfs", "-o", "loop,ro", img.toString(), m.toString());
            try (RandomAccessFile f = new RandomAccessFile(m.resolve("huge").toFile(), "r")) {
                assertEquals(size, f.length());
                byte[] b = new byte[head.length];
                f.readFully(b);
                assertArrayEquals(head, b);
                f.seek(size - tail.length);
                f.readFully(b);
                assertArrayEquals(tail, b);
                f.seek(3L << 30);
                assertEquals(0, f.read());
            } finally {
                Trees.run("umount", m.toString());
            }
        }
    }

    @Test
    void specialFilesAndOwnersThroughUnsquashfsListing() throws IOException {
        Path img = tmp.resolve("s.sqfs");
        try (SquashfsWriter w = new SquashfsWriter(img, new SquashfsWriter.Options(SquashfsWriter.Compression.ZSTD, 19, 2, s -> {}))) {
            w.directory("", Trees.meta(0755));
            w.directory("dev", new TreeSink.Metadata(0700, 7, 8, Trees.MTIME, Map.of()));
            w.special("dev/null", new TreeSink.Metadata(0666, 0, 0, Trees.MTIME, Map.of()), TreeSink.SpecialType.CHAR_DEVICE, 1, 3);
            w.special("dev/nvme", new TreeSink.Metadata(0660, 0, 6, Trees.MTIME, Map.of()), TreeSink.SpecialType.BLOCK_DEVICE, 259, 3);
            w.special("dev/pipe", new TreeSink.Metadata(0644, 1000, 1000, Trees.MTIME, Map.of()), TreeSink.SpecialType.FIFO, 0, 0);
            w.special("dev/sock", new TreeSink.Metadata(0755, 1000, 1000, Trees.MTIME, Map.of()), TreeSink.SpecialType.SOCKET, 0, 0);
            w.file("owned", new TreeSink.Metadata(06755, 65534, 100000, Trees.MTIME, Map.of("system.foo", new byte[1])), 0, InputStreamNull.INSTANCE);
            w.finish();
        }
        String l = Trees.run("unsquashfs", "-lln", img.toString());
        assertTrue(l.contains("drwx------ 7/8"), l);
        assertTrue(l.contains("crw-rw-rw- 0/0"), l);
        assertTrue(l.matches("(?s).*crw-rw-rw- 0/0\\s+1,\\s*3 .*"), l);
        assertTrue(l.matches("(?s).*brw-rw---- 0/6\\s+259,\\s*3 .*"), l);
        assertTrue(l.contains("prw-r--r-- 1000/1000"), l);
        assertTrue(l.contains("srwxr-xr-x 1000/1000"), l);
        assertTrue(l.contains("-rwsr-sr-x 65534/100000"), l);
        String s = Trees.run("unsquashfs", "-s", img.toString());
        assertTrue(s.contains("compression-level 19"), s);
        try (SquashfsReader r = new SquashfsReader(img)) {
            SquashfsReader.Entry e = r.stat("dev/nvme");
            assertEquals(SquashfsReader.Type.BLOCK_DEVICE, e.type());
            assertEquals(259, e.major());
            assertEquals(3, e.minor());
            assertEquals(100000, r.stat("owned").gid());
            assertEquals(06755, r.stat("owned").mode());
        }
    }

    private static final class InputStreamNull {
        static final java.io.InputStream INSTANCE = java.io.InputStream.nullInputStream();
    }
}
