package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** execve(2) replacing the JVM, with the signal mask cleared first (execve keeps the caller's mask). */
public final class Exec {
    private Exec() {}

    private static final int SIG_SETMASK = 2;

    /** Returns only on failure, by throwing. */
    public static void execve(String path, List<String> argv, List<String> env) throws SysException {
        Arena a = Arena.ofConfined(); // never closed on success: the process image is gone
        try {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            MemorySegment empty = a.allocate(8);
            Native.call(cap, Native.SYS_RT_SIGPROCMASK, SIG_SETMASK, empty.address(), 0L, 8L, 0L, 0L);
            long r = Native.call(cap, Native.SYS_EXECVE, Native.str(a, path), Native.strArray(a, argv).address(),
                    Native.strArray(a, env).address());
            throw Native.fail("execve " + path + " (" + r + ")", cap);
        } finally {
            a.close();
        }
    }
}
