package skiff.layer;

import com.github.luben.zstd.ZstdInputStream;
import skiff.image.MediaTypes;
import skiff.sys.LibdeflateGunzip;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Opens a layer blob as an uncompressed tar stream, with the decompression-bomb guard in between.
 *
 * <p>gzip layers are inflated whole, into memory, by libdeflate where the host has it (about twice the JDK's speed,
 * and skipping a file's content in memory is free) when the layer fits in {@link #INFLATE_MEMORY}, shared by the
 * layers being read at once; otherwise, or with {@code SKIFF_INFLATE=java}, they stream through the JDK's zlib.
 * Both give the same bytes; a damaged stream is the same one-line error either way.
 */
final class LayerStreams {
    private LayerStreams() {}

    private static final int BUFFER = 1 << 20;

    /**
     * Memory for layers inflated whole, over all layers open at once (compressed and inflated bytes both count). A
     * layer that does not fit streams instead. 640 MiB: a conversion's JVM peaks at ~200-400 MiB resident (tree,
     * writer queues, heap slack), so the whole stays under 1 GiB; a 370 MB layer (160 MB of gzip) fits alone.
     */
    static final long INFLATE_MEMORY = 640L << 20;

    /** Whether gzip layers go through libdeflate (false: the JDK's zlib, the fallback and SKIFF_INFLATE=java). */
    static final boolean NATIVE_INFLATE = !skiff.util.Env.is("SKIFF_INFLATE", "java")
            && skiff.sys.LibdeflateDecompressor.available();

    /** The allowance of this JVM; tests swap in a small one to see the fallback. */
    static volatile Memory memory = new Memory(INFLATE_MEMORY);

    /** {@link #NATIVE_INFLATE}, switched off by tests to compare the two inflaters. */
    static volatile boolean nativeInflate = NATIVE_INFLATE;

    /** Bytes of {@link #INFLATE_MEMORY} held now (tests: was a layer inflated whole?). */
    static long inflateMemoryInUse() {
        return memory.used.get();
    }

    /** Native memory lent to whole-layer inflation; {@code reserve} refuses rather than waits (readers run in order). */
    static final class Memory implements LibdeflateGunzip.Allowance {
        private final long limit;
        private final AtomicLong used = new AtomicLong();

        Memory(long limit) {
            this.limit = limit;
        }

        @Override
        public boolean reserve(long bytes) {
            for (long u; (u = used.get()) + bytes <= limit; ) if (used.compareAndSet(u, u + bytes)) return true;
            return false;
        }

        @Override
        public void release(long bytes) {
            used.addAndGet(-bytes);
        }
    }

    /** Bytes read so far in one pass, shared by all layers of the pass (the total limit spans them). */
    static final class Budget {
        private final Limits limits;
        /** Layers may be read by several threads at once (pass 1). */
        final java.util.concurrent.atomic.AtomicLong uncompressed = new java.util.concurrent.atomic.AtomicLong();
        /** Layers inflated whole in an earlier pass, and whether this pass may keep its own for a later one. */
        private final Kept kept;
        private final boolean keep;

        Budget(Limits limits) {
            this(limits, null, false);
        }

        Budget(Limits limits, Kept kept, boolean keep) {
            this.limits = limits;
            this.kept = kept;
            this.keep = keep;
        }
    }

    /**
     * Layers inflated whole by the headers pass and kept for the content pass, so a layer that fits is inflated
     * once. A layer is kept only while the kept ones hold at most half the allowance: the other half stays free for
     * inflating the next layers. Thread-safe; close frees what no pass took.
     */
    static final class Kept implements AutoCloseable {
        private final java.util.Map<LayerSource, LibdeflateGunzip.Inflated> layers = new java.util.IdentityHashMap<>();
        private long bytes;

        /** Keeps {@code data} if there is room; false: the caller closes it. */
        synchronized boolean offer(LayerSource layer, LibdeflateGunzip.Inflated data) {
            if (layers.containsKey(layer) || bytes + data.size() > memory.limit / 2) return false;
            layers.put(layer, data);
            bytes += data.size();
            return true;
        }

        synchronized LibdeflateGunzip.Inflated take(LayerSource layer) {
            LibdeflateGunzip.Inflated d = layers.remove(layer);
            if (d != null) bytes -= d.size();
            return d;
        }

        /** Frees the layers no later pass will read. */
        synchronized void retainOnly(java.util.Set<LayerSource> wanted) {
            var it = layers.entrySet().iterator();
            while (it.hasNext()) {
                var e = it.next();
                if (wanted.contains(e.getKey())) continue;
                bytes -= e.getValue().size();
                e.getValue().close();
                it.remove();
            }
        }

        @Override
        public synchronized void close() {
            for (LibdeflateGunzip.Inflated d : layers.values()) d.close();
            layers.clear();
            bytes = 0;
        }
    }

    /**
     * The decompressed tar stream of {@code layer}. The compression is sniffed from the magic bytes
     * (gzip 1f 8b, zstd 28 b5 2f fd) and only falls back to the media type's when the data is neither:
     * registries and tools do mislabel layers, and the magic cannot lie about the format.
     */
    static InputStream open(LayerSource layer, Budget budget) throws IOException {
        LibdeflateGunzip.Inflated earlier = budget.kept == null ? null : budget.kept.take(layer);
        if (earlier != null) {
            earlier.rewind();
            return whole(layer, earlier, budget);
        }
        BufferedInputStream blob = new BufferedInputStream(layer.opener().open(), BUFFER);
        MediaTypes.Compression c = sniff(blob, layer.compression());
        InputStream source = blob;
        if (c == MediaTypes.Compression.GZIP && nativeInflate) {
            switch (inflateWhole(layer, blob, budget)) {
                case null -> {} // nothing read: stream the blob
                case LibdeflateGunzip.Inflated data -> {
                    blob.close();
                    return whole(layer, data, budget);
                }
                // Read, but too big once inflated: the JDK streams what was read, then the rest (the blob is read once).
                case LibdeflateGunzip.Replay replay -> source = replay;
            }
        }
        Counting raw = new Counting(source);
        InputStream decompressed = switch (c) {
            case GZIP -> new JdkGunzip(raw, layer.name());
            case ZSTD -> new ZstdInputStream(raw);
            case NONE -> raw;
        };
        return new Guard(c == MediaTypes.Compression.NONE ? decompressed : new BufferedInputStream(decompressed, BUFFER),
                raw, layer.name(), budget);
    }

    /** A layer inflated whole, guarded; closing it keeps it for the next pass when this pass may and there is room. */
    private static InputStream whole(LayerSource layer, LibdeflateGunzip.Inflated data, Budget budget) {
        Counting raw = new Counting(InputStream.nullInputStream());
        raw.count = data.compressedSize(); // all consumed: the ratio guard judges against the whole blob
        InputStream in = !budget.keep ? data : new FilterInputStream(data) {
            private boolean closed; // the tar reader closes its stream too

            @Override
            public void close() {
                if (closed) return;
                closed = true;
                if (!budget.kept.offer(layer, data)) data.close();
            }
        };
        return new Guard(in, raw, layer.name(), budget);
    }

    /** The layer inflated by libdeflate, a replay of what was read when it does not fit, or null when nothing was read. */
    private static LibdeflateGunzip.Outcome inflateWhole(LayerSource layer, BufferedInputStream blob, Budget budget) throws IOException {
        long size = blob.available(); // a store blob is a file: its length (a short count only means "does not fit")
        Limits l = budget.limits;
        long maxOut = Math.min(memory.limit, Math.min(Math.max(Limits.RATIO_FLOOR, (long) Math.min(Long.MAX_VALUE / 2.0, l.maxRatio() * size)),
                Math.max(0, l.maxUncompressedBytes() - budget.uncompressed.get()) + 1));
        try {
            return LibdeflateGunzip.inflate(blob, size, maxOut, memory);
        } catch (LibdeflateGunzip.CorruptException e) {
            blob.close();
            throw corrupt(layer.name(), e.getMessage());
        }
    }

    static SkiffException corrupt(String layer, String why) {
        return new SkiffException(ExitCode.STORAGE, "layer " + layer + " is corrupt: " + why
                + " (the blob is damaged or truncated; remove the image and pull it again)");
    }

    /** The JDK's gzip reader, with its format errors turned into the same message as libdeflate's. */
    private static final class JdkGunzip extends FilterInputStream {
        private final String layer;

        JdkGunzip(InputStream raw, String layer) throws IOException {
            super(gunzip(raw, layer));
            this.layer = layer;
        }

        private static GZIPInputStream gunzip(InputStream raw, String layer) throws IOException {
            try {
                return new GZIPInputStream(raw, 65536);
            } catch (ZipException | EOFException e) {
                throw corrupt(layer, "its gzip header is damaged or truncated");
            }
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (ZipException | EOFException e) {
                throw corrupt(layer, "its gzip data is damaged or truncated (" + e.getMessage() + ")");
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (ZipException | EOFException e) {
                throw corrupt(layer, "its gzip data is damaged or truncated (" + e.getMessage() + ")");
            }
        }

        @Override
        public long skip(long n) throws IOException {
            try {
                return in.skip(n);
            } catch (ZipException | EOFException e) {
                throw corrupt(layer, "its gzip data is damaged or truncated (" + e.getMessage() + ")");
            }
        }
    }

    static MediaTypes.Compression sniff(InputStream in, MediaTypes.Compression announced) throws IOException {
        in.mark(4);
        byte[] m = in.readNBytes(4);
        in.reset();
        if (m.length >= 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b) return MediaTypes.Compression.GZIP;
        if (m.length == 4 && (m[0] & 0xff) == 0x28 && (m[1] & 0xff) == 0xb5 && (m[2] & 0xff) == 0x2f && (m[3] & 0xff) == 0xfd)
            return MediaTypes.Compression.ZSTD;
        // Neither magic: a plain tar whatever the media type says (a gzip or zstd stream always starts with its magic).
        return MediaTypes.Compression.NONE;
    }

    /** Counts compressed bytes consumed. */
    static final class Counting extends FilterInputStream {
        long count;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) count++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = in.skip(n);
            count += s;
            return s;
        }
    }

    /** Counts uncompressed bytes and stops the pass when a limit is passed. */
    static final class Guard extends FilterInputStream {
        private final Counting raw;
        private final String layer;
        private final Budget budget;
        private long count;

        Guard(InputStream in, Counting raw, String layer, Budget budget) {
            super(in);
            this.raw = raw;
            this.layer = layer;
            this.budget = budget;
        }

        private void add(long n) {
            count += n;
            long total = budget.uncompressed.addAndGet(n);
            Limits l = budget.limits;
            if (total > l.maxUncompressedBytes())
                throw new SkiffException(ExitCode.STORAGE, "image layers expand to more than " + l.maxUncompressedBytes()
                        + " bytes (at layer " + layer + "): refusing to convert a possible decompression bomb"
                        + " (raise [convert] max-bytes in config.toml if the image is genuine)");
            if (count > Limits.RATIO_FLOOR && count > l.maxRatio() * Math.max(1, raw.count))
                throw new SkiffException(ExitCode.STORAGE, "layer " + layer + " expands more than " + (long) l.maxRatio()
                        + " times (" + raw.count + " compressed bytes gave " + count + "): refusing to convert a possible"
                        + " decompression bomb (raise [convert] max-ratio in config.toml if the image is genuine)");
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) add(1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) add(n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = in.skip(n);
            if (s > 0) add(s);
            return s;
        }
    }
}
