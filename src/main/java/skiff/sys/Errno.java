package skiff.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** errno values skiff branches on, and strerror(3) for messages. */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EACCES = 13, EBUSY = 16, EEXIST = 17, ENOTDIR = 20,
            EINVAL = 22, ENOEXEC = 8, ECHILD = 10, ENOSYS = 38, ELOOP = 40, ENAMETOOLONG = 36;

    /** Linked on the first message that needs it: a run that fails no system call never links strerror. */
    private static final class Strerror {
        static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(
                Linker.nativeLinker().defaultLookup().find("strerror").orElseThrow(),
                FunctionDescriptor.of(Native.PTR, Native.INT));
    }

    public static String text(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.HANDLE.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
