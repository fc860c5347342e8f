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
 * <p>gzip layers stream through Intel ISA-L where the host has it (several times the JDK's zlib, in constant memory,
 * whatever the layer's size). Without it they are inflated whole, into memory, by libdeflate where the host has that
 * (about twice the JDK's speed) when the layer fits in {@link #INFLATE_MEMORY}, shared by the layers being read at
 * once; otherwise, or with {@code SKIFF_INFLATE=java}, they stream through the JDK's zlib ({@link Inflater}). All give
 * the same bytes; a damaged stream is the same one-line error whichever inflates it.
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

    /** Who inflates gzip layers, fastest first; the host's best unless {@code SKIFF_INFLATE} names another. */
    enum Inflater {
        /** ISA-L's igzip, streaming ({@code libisal2}). */
        ISAL,
        /** libdeflate, whole layers that fit the allowance ({@code libdeflate0}); the others stream through the JDK. */
        LIBDEFLATE,
        /** java.util.zip, streaming: always there. */
        JDK;

        /** Whether this host can use it. */
        boolean available() {
            return switch (this) {
                case ISAL -> skiff.sys.IsalGunzip.linked();
                case LIBDEFLATE -> skiff.sys.LibdeflateDecompressor.available();
                case JDK -> true;
            };
        }

        /** {@code SKIFF_INFLATE=java} or {@code libdeflate} (to compare them) caps the choice; unset: the best there is. */
        static Inflater chosen() {
            Inflater cap = skiff.util.Env.is("SKIFF_INFLATE", "java") ? JDK
                    : skiff.util.Env.is("SKIFF_INFLATE", "libdeflate") ? LIBDEFLATE : ISAL;
            for (Inflater i : values()) if (i.ordinal() >= cap.ordinal() && i.available()) return i;
            return JDK;
        }
    }

    /** This host's inflater for gzip layers. */
    static final Inflater INFLATER = Inflater.chosen();

    /** The allowance of this JVM; tests swap in a small one to see the fallback. */
    static volatile Memory memory = new Memory(INFLATE_MEMORY);

    /** {@link #INFLATER}, switched by tests to compare the inflaters. */
    static volatile Inflater inflater = INFLATER;

    /** Bytes of {@link #INFLATE_MEMORY} held now (tests: was a layer inflated whole?). */
    static long inflateMemoryInUse() {
        return memory.used();
    }

    /** Native memory lent to whole-layer inflation: a reservation that does not fit is refused (the layer streams). */
    static final class Memory implements LibdeflateGunzip.Allowance {
        private final long limit;
        private long used;

        Memory(long limit) {
            this.limit = limit;
        }

        synchronized long used() {
            return used;
        }

        @Override
        public synchronized boolean reserve(long bytes) {
            if (used + bytes > limit) return false;
            used += bytes;
            return true;
        }

        @Override
        public synchronized void release(long bytes) {
            used -= bytes;
        }
    }

    /** Bytes read so far in one pass, shared by all layers of the pass (the total limit spans them). */
    static final class Budget {
        private final Limits limits;
        /** Layers may be read by several threads at once. */
        final java.util.concurrent.atomic.AtomicLong uncompressed = new java.util.concurrent.atomic.AtomicLong();

        Budget(Limits limits) {
            this.limits = limits;
        }
    }

    /**
     * The decompressed tar stream of {@code layer}. The compression is sniffed from the magic bytes
     * (gzip 1f 8b, zstd 28 b5 2f fd) and only falls back to the media type's when the data is neither:
     * registries and tools do mislabel layers, and the magic cannot lie about the format.
     */
    static InputStream open(LayerSource layer, Budget budget) throws IOException {
        BufferedInputStream blob = new BufferedInputStream(layer.opener().open(), BUFFER);
        MediaTypes.Compression c = sniff(blob, layer.compression());
        InputStream source = blob;
        if (c == MediaTypes.Compression.GZIP && inflater == Inflater.LIBDEFLATE) {
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
            case GZIP -> inflater == Inflater.ISAL ? new IsalStream(raw, layer.name()) : new JdkGunzip(raw, layer.name());
            case ZSTD -> new ZstdInputStream(raw);
            case NONE -> raw;
        };
        // ISA-L's stream buffers its output itself; a plain tar is the blob's buffered stream already.
        boolean buffered = c == MediaTypes.Compression.NONE || decompressed instanceof IsalStream;
        return new Guard(buffered ? decompressed : new BufferedInputStream(decompressed, BUFFER), raw, layer.name(), budget);
    }

    /** The most a layer of {@code size} compressed bytes may inflate to in memory: the allowance, the ratio and the total limits. */
    private static long maxOut(long size, Budget budget) {
        Limits l = budget.limits;
        return Math.min(memory.limit, Math.min(Math.max(Limits.RATIO_FLOOR, (long) Math.min(Long.MAX_VALUE / 2.0, l.maxRatio() * size)),
                Math.max(0, l.maxUncompressedBytes() - budget.uncompressed.get()) + 1));
    }

    /** A layer inflated whole, guarded; closing it frees the memory. */
    private static InputStream whole(LayerSource layer, LibdeflateGunzip.Inflated data, Budget budget) {
        Counting raw = new Counting(InputStream.nullInputStream());
        raw.count = data.compressedSize(); // all consumed: the ratio guard judges against the whole blob
        return new Guard(data, raw, layer.name(), budget);
    }

    /** The layer inflated by libdeflate, a replay of what was read when it does not fit, or null when nothing was read. */
    private static LibdeflateGunzip.Outcome inflateWhole(LayerSource layer, BufferedInputStream blob, Budget budget) throws IOException {
        long size = blob.available(); // a store blob is a file: its length (a short count only means "does not fit")
        try {
            return LibdeflateGunzip.inflate(blob, size, maxOut(size, budget), memory);
        } catch (LibdeflateGunzip.CorruptException e) {
            blob.close();
            throw corrupt(layer.name(), e.getMessage());
        }
    }

    static SkiffException corrupt(String layer, String why) {
        return new SkiffException(ExitCode.STORAGE, "layer " + layer + " is corrupt: " + why
                + " (the blob is damaged or truncated; remove the image and pull it again)");
    }

    /** ISA-L's gzip stream, with its format errors turned into the same message as libdeflate's. */
    private static final class IsalStream extends FilterInputStream {
        private final String layer;

        IsalStream(InputStream raw, String layer) {
            super(new skiff.sys.IsalGunzip(raw, BUFFER));
            this.layer = layer;
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (LibdeflateGunzip.CorruptException e) {
                throw corrupt(layer, e.getMessage());
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return in.read(b, off, len);
            } catch (LibdeflateGunzip.CorruptException e) {
                throw corrupt(layer, e.getMessage());
            }
        }

        @Override
        public long skip(long n) throws IOException {
            try {
                return in.skip(n);
            } catch (LibdeflateGunzip.CorruptException e) {
                throw corrupt(layer, e.getMessage());
            }
        }
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
