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

    @Test
    void writerRejectsBrokenInput() throws IOException {
        try (SquashfsWriter w = new SquashfsWriter(tmp.resolve("x.sqfs"), SquashfsWriter.Options.defaults())) {
            w.directory("", m(0755, 0));
            assertThrows(IOException.class, () -> w.file("missing/parent", m(0644, 0), 0, InputStream.nullInputStream()));
            assertThrows(IOException.class, () -> w.file("short", m(0644, 0), 10, new ByteArrayInputStream(new byte[3])));
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
