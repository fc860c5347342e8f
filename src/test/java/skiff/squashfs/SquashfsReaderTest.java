package skiff.squashfs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.layer.TreeSink;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writer -> our reader round trips without external tools, and hostile images. */
class SquashfsReaderTest {
    @TempDir
    Path tmp;

    private static TreeSink.Metadata m(int mode, int uid) {
        return new TreeSink.Metadata(mode, uid, uid + 1, Trees.MTIME, Map.of());
    }

    private Path sample(SquashfsWriter.Compression c) throws IOException {
        return sample(c, 2);
    }

    private Path sample(SquashfsWriter.Compression c, int threads) throws IOException {
        Path img = tmp.resolve("s-" + c + "-" + threads + ".sqfs");
        Random r = new Random(7);
        try (SquashfsWriter w = new SquashfsWriter(img, new SquashfsWriter.Options(c, null, threads, s -> {}))) {
            w.directory("", m(0755, 0));
            w.directory("etc", new TreeSink.Metadata(0750, 3, 4, Trees.MTIME, Map.of("user.d", "v".getBytes())));
            w.file("etc/passwd", m(0644, 0), 11, new ByteArrayInputStream("root:x:0:0\n".getBytes()));
            byte[] big = new byte[Format.BLOCK_SIZE * 3 + 5];
            r.nextBytes(big);
            w.file("big", new TreeSink.Metadata(0600, 1000, 1000, Trees.MTIME, Map.of("user.a", new byte[] {1}, "trusted.b", new byte[] {2})), big.length, new ByteArrayInputStream(big));
            w.file("big-copy", m(0600, 1000), big.length, new ByteArrayInputStream(big));
            w.symlink("etc/link", m(0777, 0), "passwd");
            w.special("fifo", m(0644, 0), TreeSink.SpecialType.FIFO, 0, 0);
            w.special("tty", m(0620, 0), TreeSink.SpecialType.CHAR_DEVICE, 136, 1 << 19);
            w.hardlink("etc/big-link", "big");
            w.finish();
        }
        return img;
    }

    /** The sample's tree, files first and directories last, as a one-pass flattening hands it over. */
    private static void filesFirst(SquashfsWriter w, byte[] big) throws IOException {
        w.file("etc/passwd", m(0644, 0), 11, new ByteArrayInputStream("root:x:0:0\n".getBytes()));
        w.file("big", new TreeSink.Metadata(0600, 1000, 1000, Trees.MTIME, Map.of("user.a", new byte[] {1}, "trusted.b", new byte[] {2})), big.length, new ByteArrayInputStream(big));
        w.file("big-copy", m(0600, 1000), big.length, new ByteArrayInputStream(big));
        w.directory("", m(0755, 0));
        w.directory("etc", new TreeSink.Metadata(0750, 3, 4, Trees.MTIME, Map.of("user.d", "v".getBytes())));
        w.symlink("etc/link", m(0777, 0), "passwd");
        w.special("fifo", m(0644, 0), TreeSink.SpecialType.FIFO, 0, 0);
        w.special("tty", m(0620, 0), TreeSink.SpecialType.CHAR_DEVICE, 136, 1 << 19);
        w.hardlink("etc/big-link", "big");
    }

    @Test
    void filesBeforeTheirDirectoriesAndARestartGiveTheSameImage() throws IOException {
        byte[] big = new byte[Format.BLOCK_SIZE * 3 + 5];
        new Random(7).nextBytes(big);
        Path fresh = tmp.resolve("fresh.sqfs"), restarted = tmp.resolve("restarted.sqfs");
        try (SquashfsWriter w = new SquashfsWriter(fresh, new SquashfsWriter.Options(SquashfsWriter.Compression.ZSTD, null, 2, s -> {}))) {
            filesFirst(w, big);
            w.finish();
        }
        try (SquashfsWriter w = new SquashfsWriter(restarted, new SquashfsWriter.Options(SquashfsWriter.Compression.ZSTD, null, 2, s -> {}))) {
            // Content and names that must leave no trace: the flattener starts over in two passes.
            byte[] other = new byte[Format.BLOCK_SIZE * 2 + 9];
            new Random(8).nextBytes(other);
            w.file("gone/x", m(0644, 0), other.length, new ByteArrayInputStream(other));
            w.file("small", m(0644, 0), 3, new ByteArrayInputStream("abc".getBytes()));
            w.restart();
            filesFirst(w, big);
            w.finish();
        }
        assertArrayEquals(Files.readAllBytes(fresh), Files.readAllBytes(restarted));
        // And the directories-first order of two passes gives the same tree (the data lies in another order).
        try (SquashfsReader a = new SquashfsReader(fresh); SquashfsReader b = new SquashfsReader(sample(SquashfsWriter.Compression.ZSTD))) {
            assertEquals(listing(b), listing(a));
        }
    }

    /** Every entry with its metadata, and each file's content. */
    private static List<String> listing(SquashfsReader r) throws IOException {
        List<String> out = new ArrayList<>();
        List<SquashfsReader.Entry> entries = new ArrayList<>();
        r.walk(entries::add);
        for (SquashfsReader.Entry e : entries)
            out.add(e + (e.type() == SquashfsReader.Type.FILE ? " " + java.util.Arrays.hashCode(r.readAllBytes(e.path())) : ""));
        return out;
    }

    @Test
    void roundTripsEveryCompressor() throws IOException {
        for (SquashfsWriter.Compression c : SquashfsWriter.Compression.values()) {
            Path img = sample(c);
            try (SquashfsReader r = new SquashfsReader(img)) {
                assertEquals("root:x:0:0\n", new String(r.readAllBytes("etc/passwd"), StandardCharsets.UTF_8));
                assertArrayEquals(r.readAllBytes("big"), r.readAllBytes("big-copy"));
                assertArrayEquals(r.readAllBytes("big"), r.readAllBytes("etc/big-link"));
                assertEquals(Format.BLOCK_SIZE * 3 + 5, r.readAllBytes("big").length);
                assertEquals("passwd", r.readlink("etc/link"));
                SquashfsReader.Entry big = r.stat("big");
                assertEquals(2, big.nlink());
                assertEquals(big.inodeNumber(), r.stat("etc/big-link").inodeNumber());
                assertEquals(1000, big.uid());
                assertEquals(0600, big.mode());
                assertEquals(Trees.MTIME, big.mtime());
                assertArrayEquals(new byte[] {1}, r.xattrs("big").get("user.a"));
                assertArrayEquals(new byte[] {2}, r.xattrs("big").get("trusted.b"));
                assertArrayEquals("v".getBytes(), r.xattrs("etc").get("user.d"));
                SquashfsReader.Entry etc = r.stat("etc");
                assertEquals(3, etc.uid());
                assertEquals(4, etc.gid());
                assertEquals(0750, etc.mode());
                SquashfsReader.Entry tty = r.stat("tty");
                assertEquals(136, tty.major());
                assertEquals(1 << 19, tty.minor());
                assertEquals(SquashfsReader.Type.FIFO, r.stat("fifo").type());
                List<String> names = new ArrayList<>();
                r.walk(e -> names.add(e.path()));
                assertEquals(List.of("", "big", "big-copy", "etc", "etc/big-link", "etc/link", "etc/passwd", "fifo", "tty"), names);
                assertThrows(java.nio.file.NoSuchFileException.class, () -> r.stat("etc/nope"));
            }
        }
    }

    @Test
    void sameBytesWhateverTheNumberOfThreads() throws IOException {
        byte[] one = Files.readAllBytes(sample(SquashfsWriter.Compression.ZSTD, 1));
        byte[] eight = Files.readAllBytes(sample(SquashfsWriter.Compression.ZSTD, 8));
        assertArrayEquals(one, eight);
    }

    @Test
    void duplicateContentIsStoredOnce() throws IOException {
        Path one = tmp.resolve("one.sqfs"), two = tmp.resolve("two.sqfs");
        byte[] data = new byte[1 << 20];
        new Random(1).nextBytes(data);
        for (Path p : List.of(one, two)) {
            try (SquashfsWriter w = new SquashfsWriter(p, new SquashfsWriter.Options(SquashfsWriter.Compression.ZSTD, null, 2, s -> {}))) {
                w.directory("", m(0755, 0));
                w.file("a", m(0644, 0), data.length, new ByteArrayInputStream(data));
                if (p == two) w.file("b", m(0644, 0), data.length, new ByteArrayInputStream(data));
                w.finish();
                if (p == two) assertEquals(data.length, w.duplicateBytes());
            }
        }
        assertTrue(Files.size(two) - Files.size(one) < 4096, Files.size(one) + " vs " + Files.size(two));
    }

    /**
     * An 8-byte XOR mask that leaves the CRC32C of any message unchanged when applied to its last 8 bytes: CRC is
     * affine, so the change a bit makes depends only on its distance from the end, and 64 such changes in a 32-bit
     * space always have a non-empty subset that cancels out (found by elimination).
     */
    static byte[] crcNeutralMask() {
        long[] basis = new long[32]; // basis[b]: a vector with top bit b, as {crc change, bits used} packed
        long[] used = new long[32];
        java.util.zip.CRC32C c = new java.util.zip.CRC32C();
        c.update(new byte[8]);
        long zero = c.getValue();
        for (int i = 0; i < 64; i++) {
            byte[] e = new byte[8];
            e[i / 8] = (byte) (1 << (i % 8));
            c.reset();
            c.update(e);
            long v = c.getValue() ^ zero, u = 1L << i;
            for (int b = 31; b >= 0 && v != 0; b--) {
                if ((v >>> b & 1) == 0) continue;
                if (basis[b] == 0) {
                    basis[b] = v;
                    used[b] = u;
                    v = -1;
                    break;
                }
                v ^= basis[b];
                u ^= used[b];
            }
            if (v == 0) {
                byte[] mask = new byte[8];
                for (int k = 0; k < 64; k++) if ((u >>> k & 1) != 0) mask[k / 8] ^= (byte) (1 << (k % 8));
                return mask;
            }
        }
        throw new AssertionError("64 vectors in 32 dimensions are dependent");
    }

    /** A copy of {@code data} with the CRC32C of data[0..end) unchanged but its bytes different. */
    private static byte[] collideBefore(byte[] data, int end) {
        byte[] mask = crcNeutralMask(), out = data.clone();
        for (int i = 0; i < 8; i++) out[end - 8 + i] ^= mask[i];
        return out;
    }

    @Test
    void filesWithCollidingCrcsAreNotMerged() throws IOException {
        int bs = Format.BLOCK_SIZE;
        Random r = new Random(3);
        byte[] small = new byte[1000], filler = new byte[bs - 500], huge = new byte[(17 << 20) + 77];
        r.nextBytes(small);
        r.nextBytes(filler);
        r.nextBytes(huge);
        java.util.zip.CRC32C c1 = new java.util.zip.CRC32C(), c2 = new java.util.zip.CRC32C();
        byte[] smallTwin = collideBefore(small, small.length);
        c1.update(small);
        c2.update(smallTwin);
        assertEquals(c1.getValue(), c2.getValue());
        // A twin differing in one full data block (same block CRC) and one whose blocks outgrow what the writer holds.
        byte[] hugeTwin = collideBefore(huge, 5 * bs);
        Map<String, byte[]> files = new java.util.LinkedHashMap<>();
        files.put("small", small);
        files.put("filler", filler); // pushes small's fragment block out, so it must be read back and inflated
        files.put("huge", huge);
        files.put("small-twin", smallTwin);
        files.put("small-copy", small.clone());
        files.put("huge-twin", hugeTwin);
        files.put("huge-copy", huge.clone());
        for (SquashfsWriter.Compression comp : SquashfsWriter.Compression.values()) {
            Path img = tmp.resolve("collide-" + comp + ".sqfs");
            try (SquashfsWriter w = new SquashfsWriter(img, new SquashfsWriter.Options(comp, null, 2, s -> {}))) {
                w.directory("", m(0755, 0));
                for (var f : files.entrySet())
                    w.file(f.getKey(), m(0644, 0), f.getValue().length, new ByteArrayInputStream(f.getValue()));
                w.finish();
                assertEquals(small.length + huge.length, w.duplicateBytes(), comp + ": only the true copies are merged");
            }
            try (SquashfsReader rd = new SquashfsReader(img)) {
                for (var f : files.entrySet()) assertArrayEquals(f.getValue(), rd.readAllBytes(f.getKey()), comp + " " + f.getKey());
            }
        }
    }

    @Test
    void writerRejectsBrokenInput() throws IOException {
        try (SquashfsWriter w = new SquashfsWriter(tmp.resolve("x.sqfs"), SquashfsWriter.Options.defaults())) {
            w.directory("", m(0755, 0));
            w.file("f", m(0644, 0), 0, InputStream.nullInputStream());
            assertThrows(IOException.class, () -> w.file("f/under", m(0644, 0), 0, InputStream.nullInputStream()));
            assertThrows(IOException.class, () -> w.file("short", m(0644, 0), 10, new ByteArrayInputStream(new byte[3])));
        }
        // A file may come before its directory (one-pass flattening), but the directory must be named by the end.
        try (SquashfsWriter w = new SquashfsWriter(tmp.resolve("z.sqfs"), SquashfsWriter.Options.defaults())) {
            w.file("missing/parent", m(0644, 0), 0, InputStream.nullInputStream());
            w.directory("", m(0755, 0));
            var e = assertThrows(IOException.class, w::finish);
            assertEquals("directory 'missing' holds files but was never named", e.getMessage());
        }
        try (SquashfsWriter w = new SquashfsWriter(tmp.resolve("y.sqfs"), SquashfsWriter.Options.defaults())) {
            w.directory("", m(0755, 0));
            assertThrows(IOException.class, () -> w.hardlink("h", "nothing"));
            assertThrows(IOException.class, () -> w.symlink("n".repeat(300), m(0777, 0), "t"));
        }
    }

    @Test
    void corruptImagesFailCleanly() throws IOException {
        byte[] good = Files.readAllBytes(sample(SquashfsWriter.Compression.GZIP));
        Path bad = tmp.resolve("bad.sqfs");
        Files.write(bad, java.util.Arrays.copyOf(good, 50));
        assertThrows(IOException.class, () -> new SquashfsReader(bad).close());
        Files.write(bad, java.util.Arrays.copyOf(good, good.length / 2));
        assertThrows(IOException.class, () -> new SquashfsReader(bad).close());

        Random r = new Random(99);
        int failures = 0;
        for (int round = 0; round < 300; round++) {
            byte[] b = good.clone();
            // Flip bits in the superblock and the tables (data blocks carry no checksum in SquashFS).
            long tables = java.nio.ByteBuffer.wrap(good, 64, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
            for (int k = 0; k < 1 + r.nextInt(4); k++) {
                int at = r.nextInt(4) == 0 ? r.nextInt(96) : (int) (tables + r.nextInt((int) (good.length - tables)));
                b[at] ^= (byte) (1 << r.nextInt(8));
            }
            Files.write(bad, b);
            boolean failed = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                try (SquashfsReader rd = new SquashfsReader(bad)) {
                    rd.walk(e -> {});
                    for (String p : List.of("big", "etc/passwd", "etc/big-link")) {
                        try {
                            rd.readAllBytes(p);
                            rd.xattrs(p);
                        } catch (java.nio.file.NoSuchFileException ignored) {
                            // a flipped name bit
                        }
                    }
                    return false;
                } catch (IOException e) {
                    return true;
                }
            });
            if (failed) failures++;
        }
        assertTrue(failures > 0, "no corruption was ever detected");
    }
}
