package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static skiff.engine.sys.Native.INT;
import static skiff.engine.sys.Native.PTR;

/** execve(2) replacing the JVM, with the signal mask cleared first (execve keeps the caller's mask). */
public final class Exec {
    private Exec() {}

    private static final MethodHandle EXECVE = Native.fn("execve", FunctionDescriptor.of(INT, PTR, PTR, PTR));
    private static final MethodHandle SIGPROCMASK = Native.fn("sigprocmask", FunctionDescriptor.of(INT, INT, PTR, PTR));
    private static final int SIG_SETMASK = 2;

    /** Returns only on failure, by throwing. */
    public static void execve(String path, List<String> argv, List<String> env) throws SysException {
        Arena a = Arena.ofConfined(); // never closed on success: the process image is gone
        try {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            MemorySegment p = a.allocateFrom(path);
            MemorySegment av = Native.strArray(a, argv);
            MemorySegment ev = Native.strArray(a, env);
            MemorySegment empty = a.allocate(128);
            int unused = (int) SIGPROCMASK.invoke(cap, SIG_SETMASK, empty, MemorySegment.NULL);
            int r = (int) EXECVE.invoke(cap, p, av, ev);
            throw Native.fail("execve " + path + " (" + r + ")", cap);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        } finally {
            a.close();
        }
    }
}
