package skiff.sys;

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
 * syscall(2), the one downcall every system call of skiff goes through: the JVM spins classes for each distinct
 * native signature it links, which the AOT cache cannot keep, and skiff run starts two JVMs per container; linking
 * one signature costs ~25 ms at start, five cost ~50 ms. The other signatures of this package (strerror in
 * {@link Errno}, libdeflate in {@link Libdeflate}) are linked only when a message or a conversion needs them.
 * errno is captured at the call itself because the JVM may clobber the thread's errno before Java could read it.
 * Numbers are x86_64's and aarch64's.
 *
 * <p>Handles live in holder classes so that loading a class of this package links nothing: the class that holds a
 * handle is initialised on the first call through it.
 */
final class Native {
    private Native() {}

    static final Linker LINKER = Linker.nativeLinker();
    static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    static final java.lang.foreign.AddressLayout PTR = ValueLayout.ADDRESS;

    static final boolean AARCH64 = "aarch64".equals(System.getProperty("os.arch"));

    static final long SYS_OPENAT = AARCH64 ? 56 : 257, SYS_CLOSE = AARCH64 ? 57 : 3, SYS_FLOCK = AARCH64 ? 32 : 73,
            SYS_EXECVE = AARCH64 ? 221 : 59, SYS_RT_SIGPROCMASK = AARCH64 ? 135 : 14, SYS_MOUNT = AARCH64 ? 40 : 165,
            SYS_UMOUNT2 = AARCH64 ? 39 : 166, SYS_STATFS = AARCH64 ? 43 : 137, SYS_PIVOT_ROOT = AARCH64 ? 41 : 155,
            SYS_CHDIR = AARCH64 ? 49 : 80, SYS_CAPSET = AARCH64 ? 91 : 126, SYS_PRCTL = AARCH64 ? 167 : 157,
            SYS_CLOSE_RANGE = 436, SYS_KILL = AARCH64 ? 129 : 62, SYS_WAIT4 = AARCH64 ? 260 : 61,
            SYS_IOCTL = AARCH64 ? 29 : 16, SYS_FCNTL = AARCH64 ? 25 : 72,
            SYS_READ = AARCH64 ? 63 : 0, SYS_WRITE = AARCH64 ? 64 : 1, SYS_SOCKETPAIR = AARCH64 ? 199 : 53,
            SYS_RECVMSG = AARCH64 ? 212 : 47, SYS_DUP3 = AARCH64 ? 24 : 292;

    /** Linked on the first system call, not when a constant of {@link Native} is first read. */
    private static final class Syscall {
        static final MethodHandle HANDLE;

        static {
            MemoryLayout[] args = new MemoryLayout[7];
            java.util.Arrays.fill(args, LONG);
            HANDLE = LINKER.downcallHandle(LINKER.defaultLookup().find("syscall").orElseThrow(
                    () -> new UnsatisfiedLinkError("libc has no syscall")), FunctionDescriptor.of(LONG, args),
                    Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));
        }
    }

    /** syscall(nr, a..f) with errno captured into {@code cap}; returns the raw result (-1 on failure). */
    static long call(MemorySegment cap, long nr, long a, long b, long c, long d, long e, long f) {
        try {
            return (long) Syscall.HANDLE.invokeExact(cap, nr, a, b, c, d, e, f);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static long call(MemorySegment cap, long nr, long a, long b, long c) {
        return call(cap, nr, a, b, c, 0L, 0L, 0L);
    }

    /** As {@link #call}, throwing a SysException naming {@code what} when the call fails. */
    static long check(String what, Arena arena, long nr, long a, long b, long c, long d, long e) throws SysException {
        MemorySegment cap = arena.allocate(CAPTURE);
        long r = call(cap, nr, a, b, c, d, e, 0L);
        if (r == -1) throw fail(what, cap);
        return r;
    }

    /** The field {@code name} of {@code layout} as a (segment, base offset) VarHandle. */
    static VarHandle field(MemoryLayout layout, String name) {
        return layout.varHandle(MemoryLayout.PathElement.groupElement(name));
    }

    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** A C string's address, or 0 for null. */
    static long str(Arena a, String s) {
        return s == null ? 0L : a.allocateFrom(s).address();
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
