package skiff.squashfs;

import skiff.sys.LibdeflateBinding;
import skiff.util.Env;

/**
 * A zlib-format (RFC 1950) block compressor faster than java.util.zip's, for gzip images: libdeflate, where the host
 * has it (Debian's libdeflate0). Without it, or with {@code SKIFF_DEFLATE=java}, the writer uses
 * {@link java.util.zip.Deflater}. Both write the same format at the same level, which every SquashFS reader inflates
 * alike; the bytes differ, so an image is deterministic per host.
 */
public final class ZlibBlockCompressor implements AutoCloseable {
    /** SquashFS data blocks are 128 KiB; metadata blocks 8 KiB. */
    private static final int CAPACITY = 128 * 1024;

    private final LibdeflateBinding binding;

    private ZlibBlockCompressor(LibdeflateBinding binding) {
        this.binding = binding;
    }

    /** Compresses src[0..len) into dst as one zlib stream; returns its length, or -1 when it does not fit in dst. */
    public int compress(byte[] src, int len, byte[] dst) {
        return binding.zlibCompress(src, len, dst);
    }

    @Override
    public void close() {
        binding.close();
    }

    /** The fast compressor's name for messages and benchmarks, or null when the writer uses java.util.zip. */
    public static String available() {
        return Holder.AVAILABLE ? "libdeflate" : null;
    }

    /** Opens a compressor at a level (1..9), or returns null (java.util.zip then). */
    public static ZlibBlockCompressor open(int level) {
        if (!Holder.AVAILABLE) return null;
        LibdeflateBinding b = LibdeflateBinding.open(level, CAPACITY);
        return b == null ? null : new ZlibBlockCompressor(b);
    }

    private static final class Holder {
        static final boolean AVAILABLE = probe();

        private static boolean probe() {
            if (Env.is("SKIFF_DEFLATE", "java")) return false;
            LibdeflateBinding b = LibdeflateBinding.open(6, CAPACITY);
            if (b == null) return false;
            b.close();
            return true;
        }
    }
}
