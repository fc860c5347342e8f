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

    /**
     * Native memory lent to whole-layer inflation. {@code reserve} refuses rather than waits (layers kept in memory
     * hold it for long); {@code reserveWaiting} waits, but only while an inflation under way holds memory: each
     * of those ends on its own, so waiting never deadlocks.
     */
    static final class Memory implements LibdeflateGunzip.WaitingAllowance {
        private final long limit;
        private long used;
        private int inflating;

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
            notifyAll();
        }

        @Override
        public synchronized boolean reserveWaiting(long bytes) throws InterruptedException {
            while (used + bytes > limit) {
                if (inflating == 0) return false;
                wait();
            }
            used += bytes;
            return true;
        }

        @Override
        public synchronized boolean reserveInflating(long bytes) throws InterruptedException {
            if (!reserveWaiting(bytes)) return false;
            inflating++;
            return true;
        }

        @Override
        public synchronized void releaseInflating(long bytes) {
            inflating--;
            release(bytes);
        }
    }

    /** Bytes read so far in one pass, shared by all layers of the pass (the total limit spans them). */
    static final class Budget {
        private final Limits limits;
        /** Layers may be read by several threads at once (pass 1). */
        final java.util.concurrent.atomic.AtomicLong uncompressed;
        /** Layers inflated whole in an earlier pass, and whether this pass may keep its own for a later one. */
        private final Kept kept;
        private final boolean keep;

        Budget(Limits limits) {
            this(limits, null, false);
        }

        Budget(Limits limits, Kept kept, boolean keep) {
            this(limits, kept, keep, new java.util.concurrent.atomic.AtomicLong());
        }

        private Budget(Limits limits, Kept kept, boolean keep, java.util.concurrent.atomic.AtomicLong uncompressed) {
            this.limits = limits;
            this.kept = kept;
            this.keep = keep;
            this.uncompressed = uncompressed;
        }
    }

    /**
     * Layers inflated by the headers pass and kept for the content pass, so each layer is inflated once. A layer
     * inflated whole stays in memory while the kept ones hold at most half the allowance (the other half stays free
     * for inflating the next layers); any other goes to the {@link Spool} on disk, when there is one. Thread-safe;
     * close frees what no pass took.
     */
    static final class Kept implements AutoCloseable {
        private final java.util.Map<LayerSource, LibdeflateGunzip.Inflated> layers = new java.util.IdentityHashMap<>();
        private final java.util.Map<LayerSource, Spool.Layer> spooled = new java.util.IdentityHashMap<>();
        private final Spool spool;
        private long bytes;

        /** Keeps layers in memory only (the content pass inflates the others again). */
        Kept() {
            this(null);
        }

        /** {@code spoolDir}: where layers that do not stay in memory are written for the content pass; null: nowhere. */
        Kept(java.nio.file.Path spoolDir) {
            this.spool = Spool.in(spoolDir);
        }

        /** A writer for a layer the headers pass is about to read, or null when there is no spool or no room. */
        Spool.Writer spoolWriter() {
            return spool == null ? null : spool.writer();
        }

        synchronized void offerSpooled(LayerSource layer, Spool.Layer data) {
            Spool.Layer old = spooled.put(layer, data);
            if (old != null) old.close(); // the same blob listed twice: one copy is enough
        }

        synchronized Spool.Layer takeSpooled(LayerSource layer) {
            return spooled.remove(layer);
        }

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
            spooled.entrySet().removeIf(e -> {
                if (wanted.contains(e.getKey())) return false;
                e.getValue().close();
                return true;
            });
        }

        @Override
        public synchronized void close() {
            for (LibdeflateGunzip.Inflated d : layers.values()) d.close();
            layers.clear();
            bytes = 0;
            for (Spool.Layer l : spooled.values()) l.close();
            spooled.clear();
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
        Spool.Layer spooled = budget.kept == null ? null : budget.kept.takeSpooled(layer);
        if (spooled != null) return fromSpool(layer, spooled, budget, false);
        BufferedInputStream blob = new BufferedInputStream(layer.opener().open(), BUFFER);
        MediaTypes.Compression c = sniff(blob, layer.compression());
        InputStream source = blob;
        // The headers pass spools what it inflates, for the content pass: a gzip layer inflates straight into its spool file.
        Spool.Writer spool = budget.keep && worthSpooling(c) ? budget.kept.spoolWriter() : null;
        boolean whole = c == MediaTypes.Compression.GZIP && inflater == Inflater.LIBDEFLATE;
        if (whole && spool != null) {
            switch (inflateToSpool(layer, blob, budget, spool)) {
                case null -> {} // nothing read: stream the blob
                case LibdeflateGunzip.Written w -> {
                    blob.close();
                    Spool.Layer l = spool.finish(w.compressedSize());
                    if (l != null) return fromSpool(layer, l, budget, true);
                    return open(layer, new Budget(budget.limits, budget.kept, false, budget.uncompressed)); // the spool failed: read again
                }
                case LibdeflateGunzip.Replay replay -> source = replay;
                case LibdeflateGunzip.Inflated never -> throw new IllegalStateException();
            }
        } else if (whole) {
            switch (inflateWhole(layer, blob, budget)) {
                case null -> {} // nothing read: stream the blob
                case LibdeflateGunzip.Inflated data -> {
                    blob.close();
                    return whole(layer, data, budget);
                }
                // Read, but too big once inflated: the JDK streams what was read, then the rest (the blob is read once).
                case LibdeflateGunzip.Replay replay -> source = replay;
                case LibdeflateGunzip.Written never -> throw new IllegalStateException();
            }
        }
        Counting raw = new Counting(source);
        InputStream decompressed;
        try {
            decompressed = switch (c) {
                case GZIP -> inflater == Inflater.ISAL ? new IsalStream(raw, layer.name()) : new JdkGunzip(raw, layer.name());
                case ZSTD -> new ZstdInputStream(raw);
                case NONE -> raw;
            };
        } catch (IOException | RuntimeException e) {
            if (spool != null) spool.abandon();
            throw e;
        }
        // ISA-L's stream buffers its output itself; a plain tar is the blob's buffered stream already.
        boolean buffered = c == MediaTypes.Compression.NONE || decompressed instanceof IsalStream;
        Guard guard = new Guard(buffered ? decompressed : new BufferedInputStream(decompressed, BUFFER),
                raw, layer.name(), budget);
        return spool == null ? guard : new Tee(guard, spool, raw, layer, budget.kept);
    }

    /**
     * Whether the content pass should read this layer from a spool rather than decompress it again. Writing a layer
     * to the page cache and reading it back costs about 3 s of CPU per GB on the bench VM (mostly the kernel's
     * copies and fresh pages), more than ISA-L takes to inflate it again (~1.7 s/GB) and far more than reading a
     * plain tar again; the JDK's zlib (~4 s/GB) and zstd streams are spooled.
     */
    private static boolean worthSpooling(MediaTypes.Compression c) {
        return switch (c) {
            case GZIP -> inflater != Inflater.ISAL;
            case ZSTD -> true;
            case NONE -> false;
        };
    }

    /**
     * A spooled layer, guarded as its first read was. In the headers pass ({@code offer}) closing the stream offers it
     * to the content pass once the archive was read to its end; in the content pass closing frees it.
     */
    private static InputStream fromSpool(LayerSource layer, Spool.Layer spooled, Budget budget, boolean offer) {
        Counting raw = new Counting(InputStream.nullInputStream());
        raw.count = spooled.compressedSize; // the ratio guard judges against the whole blob, as the first read did
        return new Guard(new SpoolReading(layer, spooled, offer ? budget.kept : null), raw, layer.name(), budget);
    }

    /** Reads a spooled layer; see {@link #fromSpool}. */
    private static final class SpoolReading extends FilterInputStream implements Ends {
        private final LayerSource layer;
        private final Spool.Layer spooled;
        private final Kept kept;
        private boolean ended, closed;

        SpoolReading(LayerSource layer, Spool.Layer spooled, Kept kept) {
            super(new BufferedInputStream(spooled.open(), 1 << 16));
            this.layer = layer;
            this.spooled = spooled;
            this.kept = kept;
        }

        @Override
        public void end() {
            ended = true;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            if (kept != null && ended) kept.offerSpooled(layer, spooled);
            else spooled.close();
        }
    }

    /** A stream the headers pass read to the end of its archive. */
    private interface Ends {
        void end();
    }

    /** The layer inflated by libdeflate into {@code spool}, a replay of what was read when it does not fit, or null. */
    private static LibdeflateGunzip.Outcome inflateToSpool(LayerSource layer, BufferedInputStream blob, Budget budget, Spool.Writer spool)
            throws IOException {
        long size = blob.available();
        try {
            return spool.inflate(blob, size, maxOut(size, budget), memory);
        } catch (LibdeflateGunzip.CorruptException e) {
            blob.close();
            spool.abandon();
            throw corrupt(layer.name(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            blob.close();
            spool.abandon();
            throw new java.io.InterruptedIOException("interrupted while inflating layer " + layer.name());
        }
    }

    /** The most a layer of {@code size} compressed bytes may inflate to in memory: the allowance, the ratio and the total limits. */
    private static long maxOut(long size, Budget budget) {
        Limits l = budget.limits;
        return Math.min(memory.limit, Math.min(Math.max(Limits.RATIO_FLOOR, (long) Math.min(Long.MAX_VALUE / 2.0, l.maxRatio() * size)),
                Math.max(0, l.maxUncompressedBytes() - budget.uncompressed.get()) + 1));
    }

    /**
     * The headers pass read {@code in} (from {@link #open}) to the end of its archive: what it read may serve the
     * content pass. A layer left unfinished (an error stopped the pass) is never kept.
     */
    static void finished(InputStream in) {
        switch (in) {
            case Tee t -> t.ended = true;
            case Guard g when g.inner() instanceof Ends e -> e.end();
            default -> {}
        }
    }

    /** Writes what the headers pass reads of a streamed layer (skipped content too) to the spool, for the content pass. */
    private static final class Tee extends FilterInputStream {
        private final Spool.Writer spool;
        private final Counting raw;
        private final LayerSource layer;
        private final Kept kept;
        private boolean ended, closed;
        private byte[] scratch;

        Tee(InputStream in, Spool.Writer spool, Counting raw, LayerSource layer, Kept kept) {
            super(in);
            this.spool = spool;
            this.raw = raw;
            this.layer = layer;
            this.kept = kept;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) spool.write(new byte[] {(byte) b}, 0, 1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) spool.write(b, off, n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            if (scratch == null) scratch = new byte[1 << 16];
            long done = 0;
            while (done < n) {
                int r = read(scratch, 0, (int) Math.min(scratch.length, n - done));
                if (r < 0) break;
                done += r;
            }
            return done;
        }

        /** No mark: a reset would replay bytes the spool has already taken. */
        @Override
        public boolean markSupported() {
            return false;
        }

        @Override
        public void close() throws IOException {
            if (closed) return;
            closed = true;
            try {
                Spool.Layer l = ended ? spool.finish(raw.count) : null;
                if (l != null) kept.offerSpooled(layer, l);
                else spool.abandon();
            } finally {
                in.close();
            }
        }
    }

    /** A layer inflated whole, read by the headers pass: closing keeps it in memory, or spools it, for the content pass. */
    private static final class Keeping extends FilterInputStream implements Ends {
        private final LayerSource layer;
        private final LibdeflateGunzip.Inflated data;
        private final Kept kept;
        private boolean ended, closed; // the tar reader closes its stream too

        @Override
        public void end() {
            ended = true;
        }

        Keeping(LayerSource layer, LibdeflateGunzip.Inflated data, Kept kept) {
            super(data);
            this.layer = layer;
            this.data = data;
            this.kept = kept;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            if (ended && kept.offer(layer, data)) return;
            try {
                Spool.Writer w = ended ? kept.spoolWriter() : null;
                if (w != null) {
                    w.write(data);
                    Spool.Layer l = w.finish(data.compressedSize());
                    if (l != null) kept.offerSpooled(layer, l);
                }
            } finally {
                data.close();
            }
        }
    }

    /** A layer inflated whole, guarded; closing it keeps it for the next pass when this pass may and there is room. */
    private static InputStream whole(LayerSource layer, LibdeflateGunzip.Inflated data, Budget budget) {
        Counting raw = new Counting(InputStream.nullInputStream());
        raw.count = data.compressedSize(); // all consumed: the ratio guard judges against the whole blob
        InputStream in = !budget.keep ? data : new Keeping(layer, data, budget.kept);
        return new Guard(in, raw, layer.name(), budget);
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

        InputStream inner() {
            return in;
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
