package skiff.engine;

import skiff.engine.sys.LibdeflateBinding;
import skiff.squashfs.ZlibBlockCompressor;

/**
 * The SquashFS writer's fast zlib compressor (ServiceLoader, META-INF/services), on libdeflate through the engine's
 * native binding: the engine owns every FFM downcall, so it provides this one too.
 */
public final class Libdeflate implements ZlibBlockCompressor.Provider {
    /** SquashFS data blocks are 128 KiB; metadata blocks 8 KiB. */
    private static final int CAPACITY = 128 * 1024;

    @Override
    public ZlibBlockCompressor open(int level) {
        LibdeflateBinding b = LibdeflateBinding.open(level, CAPACITY);
        if (b == null) return null;
        return new ZlibBlockCompressor() {
            @Override
            public int compress(byte[] src, int len, byte[] dst) {
                return b.zlibCompress(src, len, dst);
            }

            @Override
            public void close() {
                b.close();
            }
        };
    }

    @Override
    public String name() {
        return "libdeflate";
    }
}
