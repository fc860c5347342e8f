package skiff.squashfs;

import java.util.ServiceLoader;

/**
 * A zlib-format (RFC 1950) block compressor faster than java.util.zip's, for gzip images. The writer finds one with
 * {@link ServiceLoader} (the engine provides one on libdeflate, whose native binding belongs to it); without one, or
 * with {@code SKIFF_DEFLATE=java}, it uses {@link java.util.zip.Deflater}. Both write the same format at the same
 * level, which every SquashFS reader inflates alike; the bytes differ, so an image is deterministic per host.
 */
public interface ZlibBlockCompressor extends AutoCloseable {
    /** Compresses src[0..len) into dst as one zlib stream; returns its length, or -1 when it does not fit in dst. */
    int compress(byte[] src, int len, byte[] dst);

    @Override
    void close();

    /** Opens compressors at a level (1..9); {@link #open} returns null when this host lacks the implementation. */
    interface Provider {
        ZlibBlockCompressor open(int level);

        /** The library's name and version, for messages and benchmarks. */
        String name();
    }

    /** The provider to use, or null for java.util.zip. */
    static Provider provider() {
        return Holder.PROVIDER;
    }

    /** Opens a compressor of the provider, or returns null (java.util.zip then). */
    static ZlibBlockCompressor open(int level) {
        Provider p = provider();
        return p == null ? null : p.open(level);
    }

    final class Holder {
        private Holder() {}

        static final Provider PROVIDER = find();

        private static Provider find() {
            if ("java".equals(System.getenv("SKIFF_DEFLATE"))) return null;
            for (Provider p : ServiceLoader.load(Provider.class, ZlibBlockCompressor.class.getClassLoader())) {
                ZlibBlockCompressor probe = p.open(6);
                if (probe != null) {
                    probe.close();
                    return p;
                }
            }
            return null;
        }
    }
}
