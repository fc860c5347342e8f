package skiff.squashfs;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;

import skiff.sys.LibdeflateDecompressor;
import skiff.util.Env;

import java.io.IOException;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * One compressor/decompressor instance; not thread-safe (each worker thread owns one).
 * gzip blocks are zlib streams (RFC 1950), as Linux's squashfs zlib wrapper expects.
 */
final class Codec implements AutoCloseable {
    private final SquashfsWriter.Compression kind;
    private final int level;
    private Deflater deflater;
    private ZlibBlockCompressor fast;
    private boolean javaDeflate;
    private Inflater inflater;
    /** libdeflate's inflater, bound to the thread that opened it (its arena is confined); null: the JDK's. */
    private LibdeflateDecompressor nativeInflater;
    private Thread nativeInflaterOwner;
    private boolean nativeInflaterTried;
    private ZstdCompressCtx zc;
    private ZstdDecompressCtx zd;

    Codec(SquashfsWriter.Compression kind, int level) {
        this(kind, level, true);
    }

    /** {@code nativeDeflate} false: java.util.zip both ways, even where libdeflate is installed. */
    Codec(SquashfsWriter.Compression kind, int level, boolean nativeDeflate) {
        this.kind = kind;
        this.level = level;
        this.javaDeflate = !nativeDeflate;
    }

    /** Whether gzip blocks of this codec went through a native compressor (known after the first one). */
    boolean nativeDeflate() {
        return fast != null;
    }

    /** Decompress-only codec for a compressor id read from a superblock. */
    static Codec forId(int id) throws IOException {
        return switch (id) {
            case Format.GZIP -> new Codec(SquashfsWriter.Compression.GZIP, 9);
            case Format.ZSTD -> new Codec(SquashfsWriter.Compression.ZSTD, 3);
            default -> throw new IOException("unsupported SquashFS compressor id " + id + " (only gzip and zstd)");
        };
    }

    /**
     * Compresses src[0..len) into dst; returns the compressed length, or -1 when the result would not be
     * smaller than the input (the caller stores the block uncompressed).
     */
    int compress(byte[] src, int len, byte[] dst) {
        switch (kind) {
            case NONE:
                return -1;
            case GZIP: {
                if (fast == null && !javaDeflate) {
                    fast = ZlibBlockCompressor.open(level);
                    javaDeflate = fast == null;
                }
                if (fast != null) {
                    int n = fast.compress(src, len, dst);
                    return n > 0 && n < len ? n : -1;
                }
                if (deflater == null) deflater = new Deflater(level);
                deflater.reset();
                deflater.setInput(src, 0, len);
                deflater.finish();
                int n = 0;
                int limit = Math.min(dst.length, len - 1);
                while (!deflater.finished() && n < limit) n += deflater.deflate(dst, n, limit - n);
                return deflater.finished() && n < len ? n : -1;
            }
            case ZSTD: {
                if (zc == null) {
                    zc = new ZstdCompressCtx();
                    zc.setLevel(level);
                    zc.setChecksum(false);
                    zc.setContentSize(true);
                }
                if (dst.length < Zstd.compressBound(len)) throw new IllegalArgumentException("zstd buffer too small");
                int n = zc.compressByteArray(dst, 0, dst.length, src, 0, len);
                return n < len ? n : -1;
            }
            default:
                throw new IllegalStateException();
        }
    }

    /** Decompresses exactly into dst, at most max bytes; returns the length produced. */
    int decompress(byte[] src, int off, int len, byte[] dst, int max) throws IOException {
        switch (kind) {
            case GZIP, NONE: {
                LibdeflateDecompressor d = kind == SquashfsWriter.Compression.GZIP ? nativeInflater() : null;
                if (d != null) {
                    LibdeflateDecompressor.Result r = d.decompress(LibdeflateDecompressor.Format.ZLIB, src, off, len, dst, max);
                    if (r.status() == LibdeflateDecompressor.Status.SUCCESS) return (int) r.out();
                    throw new IOException(r.status() == LibdeflateDecompressor.Status.INSUFFICIENT_SPACE
                            ? "corrupt or oversized gzip block" : "corrupt gzip block: " + r.status());
                }
                if (inflater == null) inflater = new Inflater();
                inflater.reset();
                inflater.setInput(src, off, len);
                try {
                    int n = 0;
                    while (!inflater.finished() && n < max) {
                        int r = inflater.inflate(dst, n, max - n);
                        if (r == 0 && (inflater.needsInput() || inflater.needsDictionary())) break;
                        n += r;
                    }
                    if (!inflater.finished()) throw new IOException("corrupt or oversized gzip block");
                    return n;
                } catch (DataFormatException e) {
                    throw new IOException("corrupt gzip block: " + e.getMessage());
                }
            }
            case ZSTD: {
                if (zd == null) zd = new ZstdDecompressCtx();
                try {
                    return zd.decompressByteArray(dst, 0, max, src, off, len);
                } catch (RuntimeException e) {
                    throw new IOException("corrupt zstd block: " + e.getMessage());
                }
            }
            default:
                throw new IllegalStateException();
        }
    }

    /** Whether gzip blocks are inflated by libdeflate on this thread (known after the first one). */
    boolean nativeInflate() {
        return nativeInflater != null && nativeInflaterOwner == Thread.currentThread();
    }

    /**
     * libdeflate where the host has it (about twice the JDK's zlib: the FUSE server's cold reads and the writer's
     * read-backs), unless SKIFF_INFLATE=java; only on the thread that opened it.
     */
    private LibdeflateDecompressor nativeInflater() {
        if (!nativeInflaterTried) {
            nativeInflaterTried = true;
            if (!javaDeflate && !Env.is("SKIFF_INFLATE", "java")) {
                nativeInflater = LibdeflateDecompressor.open();
                nativeInflaterOwner = Thread.currentThread();
            }
        }
        return nativeInflaterOwner == Thread.currentThread() ? nativeInflater : null;
    }

    @Override
    public void close() {
        // A decompressor opened by another thread cannot be freed from this one (confined arena): it goes with its
        // thread's codec, which is how the reader's per-thread codecs end anyway.
        if (nativeInflater != null && nativeInflaterOwner == Thread.currentThread()) nativeInflater.close();
        if (deflater != null) deflater.end();
        if (fast != null) fast.close();
        if (inflater != null) inflater.end();
        if (zc != null) zc.close();
        if (zd != null) zd.close();
    }
}
