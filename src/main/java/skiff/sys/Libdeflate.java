package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/** Linking Debian's libdeflate0, shared by its compressor and decompressor bindings. */
final class Libdeflate {
    private Libdeflate() {}

    /** The named functions with their signatures, in order; an empty array when the library or one is missing. */
    static MethodHandle[] link(String[] names, FunctionDescriptor[] signatures) {
        try {
            SymbolLookup lib = SymbolLookup.libraryLookup("libdeflate.so.0", Arena.global());
            MethodHandle[] h = new MethodHandle[names.length];
            for (int i = 0; i < h.length; i++) h[i] = Native.LINKER.downcallHandle(lib.findOrThrow(names[i]), signatures[i]);
            return h;
        } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
            return new MethodHandle[0];
        }
    }

    /** Calls libdeflate's {@code free} for {@code object}, then closes the arena of the buffers that went with it. */
    static void free(MethodHandle free, MemorySegment object, Arena arena) {
        try {
            free.invokeExact(object);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            arena.close();
        }
    }
}
