package skiff.layer;

import com.github.luben.zstd.ZstdInputStream;
import skiff.image.MediaTypes;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/** Opens a layer blob as an uncompressed tar stream, with the decompression-bomb guard in between. */
final class LayerStreams {
    private LayerStreams() {}

    private static final int BUFFER = 1 << 20;

    /** Bytes read so far in one pass, shared by all layers of the pass (the total limit spans them). */
    static final class Budget {
        private final Limits limits;
        /** Layers may be read by several threads at once (pass 1). */
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
        Counting raw = new Counting(blob);
        InputStream decompressed = switch (c) {
            case GZIP -> new GZIPInputStream(raw, 65536);
            case ZSTD -> new ZstdInputStream(raw);
            case NONE -> raw;
        };
        return new Guard(c == MediaTypes.Compression.NONE ? decompressed : new BufferedInputStream(decompressed, BUFFER),
                raw, layer.name(), budget);
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
