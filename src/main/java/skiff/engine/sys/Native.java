package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * Plumbing shared by the downcall classes: the libc lookup, errno capture, C strings. Every downcall captures
 * errno at the call itself because the JVM may clobber the thread's errno before Java could read it.
 */
final class Native {
    private Native() {}

    static final Linker LINKER = Linker.nativeLinker();
    static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    static final java.lang.foreign.AddressLayout PTR = ValueLayout.ADDRESS;

    /** x86_64 and aarch64 syscall numbers for the calls glibc does not wrap everywhere. */
    static final boolean AARCH64 = "aarch64".equals(System.getProperty("os.arch"));

    static MethodHandle fn(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("libc has no " + name)), fd, Linker.Option.captureCallState("errno"));
    }

    /** syscall(2) with {@code nargs} long arguments after the number (variadic in C). */
    static MethodHandle syscall(int nargs) {
        MemoryLayout[] a = new MemoryLayout[nargs + 1];
        java.util.Arrays.fill(a, LONG);
        return LINKER.downcallHandle(LINKER.defaultLookup().find("syscall").orElseThrow(),
                FunctionDescriptor.of(LONG, a), Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
    }

    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    static MemorySegment str(Arena a, String s) {
        return s == null ? MemorySegment.NULL : a.allocateFrom(s);
    }

    /** A NULL-terminated char*[] as execve wants it. */
    static MemorySegment strArray(Arena a, List<String> items) {
        MemorySegment arr = a.allocate(PTR, items.size() + 1L);
        for (int i = 0; i < items.size(); i++) arr.setAtIndex(PTR, i, a.allocateFrom(items.get(i)));
        arr.setAtIndex(PTR, items.size(), MemorySegment.NULL);
        return arr;
    }

    static SysException fail(String what, MemorySegment capture) {
        return new SysException(what, errno(capture));
    }

    /** Turns a Throwable from MethodHandle.invoke into an unchecked one (downcalls do not throw). */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
