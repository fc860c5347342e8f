package skiff.layer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import skiff.image.MediaTypes.Compression;
import skiff.util.SkiffException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** gzip layers inflated by ISA-L (streaming), libdeflate (whole, in memory) and the JDK (streaming) must read the same. */
class LayerStreamsTest {
    @AfterEach
    void restore() {
        LayerStreams.inflater = LayerStreams.INFLATER;
        LayerStreams.memory = new LayerStreams.Memory(LayerStreams.INFLATE_MEMORY);
    }

    @Test
    void aLayerTooBigForTheAllowanceIsReadOnceAndStreamedByTheJdk() throws IOException {
        byte[] text = new byte[4 << 20];
        Random r = new Random(11);
        for (int i = 0; i < text.length; i++) text[i] = (byte) ('a' + r.nextInt(3)); // ~5x
        byte[] blob = Tars.compress(text, Compression.GZIP);
        // Room for the compressed bytes and the first guess, not for the inflated layer: read, then given up.
        LayerStreams.memory = new LayerStreams.Memory(4L * blob.length);
        LayerStreams.inflater = LayerStreams.Inflater.LIBDEFLATE;
        java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicLong bytesRead = new java.util.concurrent.atomic.AtomicLong();
        LayerSource src = new LayerSource("sha256:big", Compression.GZIP, () -> {
            opens.incrementAndGet();
            return new java.io.FilterInputStream(new ByteArrayInputStream(blob)) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = in.read(b, off, len);
                    if (n > 0) bytesRead.addAndGet(n);
                    return n;
                }
            };
        });
        byte[] got;
        try (InputStream in = LayerStreams.open(src, new LayerStreams.Budget(Limits.defaults()))) {
            got = in.readAllBytes();
        }
        assertArrayEquals(text, got);
        assertEquals(1, opens.get(), "opened once");
        assertEquals(blob.length, bytesRead.get(), "each compressed byte read once (the progress display counts them)");
        assertEquals(0, LayerStreams.inflateMemoryInUse());
    }

    private static final List<LayerStreams.Inflater> ALL = List.of(LayerStreams.Inflater.values());

    private static byte[] read(byte[] blob, LayerStreams.Inflater how) throws IOException {
        LayerStreams.inflater = how;
        boolean nativeInflate = how == LayerStreams.Inflater.LIBDEFLATE;
        LayerSource src = new LayerSource("sha256:test", Compression.GZIP, () -> new ByteArrayInputStream(blob));
        try (InputStream in = LayerStreams.open(src, new LayerStreams.Budget(Limits.defaults()))) {
            assertEquals(nativeInflate, LayerStreams.inflateMemoryInUse() > 0, "inflated whole, in memory");
            return in.readAllBytes();
        } finally {
            assertEquals(0, LayerStreams.inflateMemoryInUse(), "memory given back on close");
        }
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    @Test
    void isalLibdeflateAndTheJdkReadTheSameBytes() throws IOException {
        assertTrue(LayerStreams.Inflater.LIBDEFLATE.available(), "libdeflate0 is installed by ci/setup.sh");
        assertTrue(LayerStreams.Inflater.ISAL.available(), "libisal2 is installed by ci/setup.sh");
        assertEquals(LayerStreams.Inflater.ISAL, LayerStreams.INFLATER, "the fastest there is");
        Random r = new Random(5);
        byte[] text = new byte[3 << 20];
        for (int i = 0; i < text.length; i++) text[i] = (byte) ('a' + r.nextInt(4)); // compresses ~4x
        byte[] noise = new byte[200_000];
        r.nextBytes(noise);
        byte[] small = "tail member".getBytes(StandardCharsets.UTF_8);
        List<byte[]> blobs = new ArrayList<>();
        blobs.add(Tars.compress(text, Compression.GZIP));
        // Several members (as pigz --independent or cat a.gz b.gz write): the last member's size hint is tiny, so
        // the whole-buffer path must grow its buffer.
        blobs.add(concat(Tars.compress(text, Compression.GZIP), Tars.compress(noise, Compression.GZIP), Tars.compress(small, Compression.GZIP)));
        // Zero padding after the last member is ignored by gzip and the JDK alike.
        blobs.add(concat(Tars.compress(noise, Compression.GZIP), new byte[1024]));
        // Members whose boundaries fall anywhere in ISA-L's input buffer (128 KiB): many tiny ones.
        List<byte[]> tiny = new ArrayList<>();
        for (int i = 0; i < 3000; i++) tiny.add(Tars.compress(("member " + i + "\n").repeat(1 + i % 7).getBytes(StandardCharsets.UTF_8), Compression.GZIP));
        blobs.add(concat(tiny.toArray(byte[][]::new)));
        // Garbage after the last member (not a gzip header) is ignored, as by gzip and the JDK.
        blobs.add(concat(Tars.compress(text, Compression.GZIP), "trailing garbage".getBytes(StandardCharsets.UTF_8)));
        for (byte[] blob : blobs) {
            byte[] jdk = read(blob, LayerStreams.Inflater.JDK);
            for (LayerStreams.Inflater how : ALL) {
                byte[] got = read(blob, how);
                assertEquals(jdk.length, got.length, how.toString());
                assertArrayEquals(jdk, got, how.toString());
            }
        }
        for (LayerStreams.Inflater how : ALL) assertArrayEquals(concat(text, noise, small), read(blobs.get(1), how), how.toString());
    }

    /** The tars as gzip layers l0, l1...; each opening counted in {@code opens}. */
    static List<LayerSource> gzipCounted(byte[][] tars, java.util.concurrent.atomic.AtomicInteger opens) throws IOException {
        List<LayerSource> layers = new ArrayList<>();
        for (int i = 0; i < tars.length; i++) {
            byte[] blob = Tars.compress(tars[i], Compression.GZIP);
            layers.add(new LayerSource("l" + i, Compression.GZIP, () -> {
                opens.incrementAndGet();
                return new ByteArrayInputStream(blob);
            }));
        }
        return layers;
    }

    @Test
    void withCoresToSpareTheNextLayerInflatesAheadAndTheTreeIsTheSame() throws IOException {
        byte[] big = new byte[9 << 20]; // over two of NativeChunks' 4 MiB chunks
        new Random(11).nextBytes(big);
        byte[][] tars = {new Tars().file("a", "one").file("big", new String(big, StandardCharsets.ISO_8859_1)).file("z", "last").bytes(),
                new Tars().file("b", "two").file(".wh.a", "").bytes(),
                new Tars().dir("d", 0755).file("d/c", "three").bytes()};
        RecordingSink alone = null;
        for (long limit : new long[] {Ahead.limit, 1}) { // 1: one read (1 MiB) ahead, the rest streams on the reader's thread
            for (int threads : new int[] {1, 4}) {
                java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
                List<LayerSource> layers = gzipCounted(tars, opens);
                long before = Ahead.limit;
                Ahead.limit = limit;
                RecordingSink sink = new RecordingSink();
                try {
                    Flattener.flatten(layers, sink, Limits.defaults(), w -> {}, threads);
                } finally {
                    Ahead.limit = before;
                }
                assertEquals(3, opens.get(), "each layer read once, " + threads + " threads, limit " + limit);
                assertEquals(java.util.Set.of("", "b", "big", "d", "d/c", "z"), sink.entries.keySet());
                if (alone == null) alone = sink;
                assertEquals(alone.entries, sink.entries, threads + " threads, limit " + limit);
                assertEquals(alone.order, sink.order, threads + " threads, limit " + limit);
            }
        }
    }

    @Test
    void everyInflaterFlattensToTheSameTree() throws IOException {
        byte[] big = new byte[(1 << 20) + 3];
        new Random(9).nextBytes(big);
        List<LayerSource> layers = List.of(
                Tars.layer("l1", new Tars().file("etc/a", "one").file("big", new String(big, StandardCharsets.ISO_8859_1)).bytes()),
                Tars.layer("l2", new Tars().file("etc/.wh.a", "").hardlink("big2", "big").symlink("s", "big").bytes()));
        List<RecordingSink> sinks = new ArrayList<>();
        for (LayerStreams.Inflater how : ALL) {
            LayerStreams.inflater = how;
            RecordingSink sink = new RecordingSink();
            Flattener.flatten(layers, sink, Limits.defaults(), w -> {}, 2);
            sinks.add(sink);
        }
        for (RecordingSink s : sinks) {
            assertEquals(sinks.get(0).order, s.order);
            assertEquals(sinks.get(0).entries, s.entries);
        }
    }

    @Test
    void onePassReadsEachLayerOnceTwoPassesReadTheLayersThatStillSupplyFilesAgain() throws IOException {
        byte[] big = new byte[300_000];
        new Random(4).nextBytes(big);
        byte[][] tars = {new Tars().file("a", "one").file("big", new String(big, StandardCharsets.ISO_8859_1)).bytes(),
                new Tars().file("b", "two").file(".wh.a", "").bytes()};
        for (LayerStreams.Inflater how : ALL) {
            LayerStreams.inflater = how;
            java.util.concurrent.atomic.AtomicInteger opens = new java.util.concurrent.atomic.AtomicInteger();
            List<LayerSource> layers = gzipCounted(tars, opens);
            RecordingSink sink = new RecordingSink();
            Flattener.flatten(layers, sink, Limits.defaults(), w -> {}, 2);
            assertEquals(java.util.Set.of("", "b", "big"), sink.entries.keySet());
            assertEquals(2, opens.get(), "one pass reads each layer once: " + how);
            // The two passes, for the rare stacks that need them: both layers supply content, so both are read twice.
            opens.set(0);
            Flattener.TWO_PASS_ONLY = true;
            try {
                Flattener.flatten(layers, new RecordingSink(), Limits.defaults(), w -> {}, 2);
            } finally {
                Flattener.TWO_PASS_ONLY = false;
            }
            assertEquals(4, opens.get(), how.toString());
            assertEquals(0, LayerStreams.inflateMemoryInUse(), "memory given back");
        }
    }

    @Test
    void aDamagedOrTruncatedLayerIsOneClearError() {
        byte[] payload = new byte[1 << 20];
        new Random(2).nextBytes(payload);
        byte[] tar = new Tars().file("f", new String(payload, StandardCharsets.ISO_8859_1)).bytes();
        byte[] gz = Tars.compress(tar, Compression.GZIP);
        byte[] truncated = Arrays.copyOf(gz, gz.length / 2);
        byte[] damaged = gz.clone();
        for (int i = gz.length / 3; i < gz.length / 3 + 64; i++) damaged[i] ^= 0x5a;
        for (byte[] blob : List.of(truncated, damaged)) {
            for (LayerStreams.Inflater how : ALL) {
                LayerStreams.inflater = how;
                LayerSource src = new LayerSource("sha256:bad", Compression.GZIP, () -> new ByteArrayInputStream(blob));
                SkiffException e = assertThrows(SkiffException.class,
                        () -> Flattener.flatten(List.of(src), new RecordingSink(), Limits.defaults(), w -> {}, 1));
                String m = e.getMessage();
                assertTrue(m.startsWith("layer sha256:bad is corrupt: ") && m.contains("pull it again") && !m.contains("\n"),
                        how + ": " + m);
                assertEquals(skiff.util.ExitCode.STORAGE, e.exitCode());
            }
        }
    }
}
