package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static skiff.sys.Native.INT;
import static skiff.sys.Native.LONG;
import static skiff.sys.Native.PTR;

/**
 * libdeflate's whole-buffer decompressors (Debian's libdeflate0) for the three DEFLATE wrappings: gzip (layer blobs),
 * zlib (SquashFS gzip blocks) and raw deflate. About twice the JDK's zlib, because it never stops to hand back a
 * partial buffer. Linked on first use only. One instance per thread, as libdeflate requires; not thread-safe.
 */
public final class LibdeflateDecompressor implements AutoCloseable {
    /** The wrapping around the DEFLATE data. */
    public enum Format { GZIP, ZLIB, DEFLATE }

    /** libdeflate's result codes, in its order. */
    public enum Status { SUCCESS, BAD_DATA, SHORT_OUTPUT, INSUFFICIENT_SPACE }

    /** What one call did: {@code in} bytes consumed (one gzip or zlib member), {@code out} bytes produced. */
    public record Result(Status status, long in, long out) {}

    private final MemorySegment decompressor;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment sizes = arena.allocate(LONG, 2);
    private MemorySegment scratchIn = MemorySegment.NULL, scratchOut = MemorySegment.NULL;

    private LibdeflateDecompressor(MemorySegment decompressor) {
        this.decompressor = decompressor;
    }

    /** Linked on the first conversion (see {@link Native}); null handles: no libdeflate here. */
    private static final class Lib {
        static final MethodHandle ALLOC, FREE, GZIP, ZLIB, DEFLATE;

        static {
            FunctionDescriptor ex = FunctionDescriptor.of(INT, PTR, PTR, LONG, PTR, LONG, PTR, PTR);
            MethodHandle[] h = Libdeflate.link(new String[] {"libdeflate_alloc_decompressor", "libdeflate_free_decompressor",
                            "libdeflate_gzip_decompress_ex", "libdeflate_zlib_decompress_ex", "libdeflate_deflate_decompress_ex"},
                    new FunctionDescriptor[] {FunctionDescriptor.of(PTR), FunctionDescriptor.ofVoid(PTR), ex, ex, ex});
            boolean none = h.length == 0;
            ALLOC = none ? null : h[0];
            FREE = none ? null : h[1];
            GZIP = none ? null : h[2];
            ZLIB = none ? null : h[3];
            DEFLATE = none ? null : h[4];
        }
    }

    /** Whether the host has libdeflate. */
    public static boolean available() {
        return Lib.ALLOC != null;
    }

    /** A decompressor, or null without libdeflate. */
    public static LibdeflateDecompressor open() {
        if (Lib.ALLOC == null) return null;
        try {
            MemorySegment d = (MemorySegment) Lib.ALLOC.invokeExact();
            return d.equals(MemorySegment.NULL) ? null : new LibdeflateDecompressor(d);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Decompresses the first member found at {@code in} (native memory, {@code inLen} bytes) into {@code out} (room for
     * {@code outCap} bytes). Input past the member is left alone (the result says how much was used).
     */
    public Result decompress(Format format, MemorySegment in, long inLen, MemorySegment out, long outCap) {
        MethodHandle h = switch (format) {
            case GZIP -> Lib.GZIP;
            case ZLIB -> Lib.ZLIB;
            case DEFLATE -> Lib.DEFLATE;
        };
        try {
            int r = (int) h.invokeExact(decompressor, in, inLen, out, outCap, sizes, sizes.asSlice(8));
            Status s = r >= 0 && r < Status.values().length ? Status.values()[r] : Status.BAD_DATA;
            if (s != Status.SUCCESS) return new Result(s, 0, 0);
            return new Result(s, sizes.getAtIndex(ValueLayout.JAVA_LONG, 0), sizes.getAtIndex(ValueLayout.JAVA_LONG, 1));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * As {@link #decompress(Format, MemorySegment, long, MemorySegment, long)}, between Java arrays (one block, e.g. a
     * SquashFS block). The native buffers are kept and only grow: a FUSE server inflates thousands of blocks a
     * second, and a fresh allocation is zero-filled each time.
     */
    public Result decompress(Format format, byte[] src, int off, int len, byte[] dst, int max) {
        if (scratchIn.byteSize() < len) scratchIn = arena.allocate(Math.max(len, 2 * scratchIn.byteSize()));
        if (scratchOut.byteSize() < max) scratchOut = arena.allocate(Math.max(max, 2 * scratchOut.byteSize()));
        MemorySegment.copy(src, off, scratchIn, ValueLayout.JAVA_BYTE, 0, len);
        Result r = decompress(format, scratchIn, len, scratchOut, max);
        if (r.status() == Status.SUCCESS) MemorySegment.copy(scratchOut, ValueLayout.JAVA_BYTE, 0, dst, 0, (int) r.out());
        return r;
    }

    @Override
    public void close() {
        Libdeflate.free(Lib.FREE, decompressor, arena);
    }
}
