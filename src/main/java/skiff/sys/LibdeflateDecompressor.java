package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
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

    private static volatile MethodHandle[] handles; // alloc, free, gzip, zlib, deflate; empty without the library

    private final MemorySegment decompressor;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment sizes = arena.allocate(LONG, 2);

    private LibdeflateDecompressor(MemorySegment decompressor) {
        this.decompressor = decompressor;
    }

    private static MethodHandle[] handles() {
        MethodHandle[] h = handles;
        if (h != null) return h;
        synchronized (LibdeflateDecompressor.class) {
            if (handles != null) return handles;
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup("libdeflate.so.0", Arena.global());
                FunctionDescriptor ex = FunctionDescriptor.of(INT, PTR, PTR, LONG, PTR, LONG, PTR, PTR);
                h = new MethodHandle[] {
                        Native.LINKER.downcallHandle(lib.findOrThrow("libdeflate_alloc_decompressor"), FunctionDescriptor.of(PTR)),
                        Native.LINKER.downcallHandle(lib.findOrThrow("libdeflate_free_decompressor"), FunctionDescriptor.ofVoid(PTR)),
                        Native.LINKER.downcallHandle(lib.findOrThrow("libdeflate_gzip_decompress_ex"), ex),
                        Native.LINKER.downcallHandle(lib.findOrThrow("libdeflate_zlib_decompress_ex"), ex),
                        Native.LINKER.downcallHandle(lib.findOrThrow("libdeflate_deflate_decompress_ex"), ex)};
            } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
                h = new MethodHandle[0];
            }
            handles = h;
            return h;
        }
    }

    /** Whether the host has libdeflate. */
    public static boolean available() {
        return handles().length > 0;
    }

    /** A decompressor, or null without libdeflate. */
    public static LibdeflateDecompressor open() {
        MethodHandle[] h = handles();
        if (h.length == 0) return null;
        try {
            MemorySegment d = (MemorySegment) h[0].invokeExact();
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
        MethodHandle h = handles()[switch (format) {
            case GZIP -> 2;
            case ZLIB -> 3;
            case DEFLATE -> 4;
        }];
        try {
            int r = (int) h.invokeExact(decompressor, in, inLen, out, outCap, sizes, sizes.asSlice(8));
            Status s = r >= 0 && r < Status.values().length ? Status.values()[r] : Status.BAD_DATA;
            if (s != Status.SUCCESS) return new Result(s, 0, 0);
            return new Result(s, sizes.getAtIndex(ValueLayout.JAVA_LONG, 0), sizes.getAtIndex(ValueLayout.JAVA_LONG, 1));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** As {@link #decompress(Format, MemorySegment, long, MemorySegment, long)}, between Java arrays (one block). */
    public Result decompress(Format format, byte[] src, int off, int len, byte[] dst, int max) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocate(Math.max(1, len)), out = a.allocate(Math.max(1, max));
            MemorySegment.copy(src, off, in, ValueLayout.JAVA_BYTE, 0, len);
            Result r = decompress(format, in, len, out, max);
            if (r.status() == Status.SUCCESS) MemorySegment.copy(out, ValueLayout.JAVA_BYTE, 0, dst, 0, (int) r.out());
            return r;
        }
    }

    @Override
    public void close() {
        try {
            handles()[1].invokeExact(decompressor);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            arena.close();
        }
    }
}
