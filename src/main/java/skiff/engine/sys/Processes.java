package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static skiff.engine.sys.Native.INT;
import static skiff.engine.sys.Native.PTR;

/** kill(2) and waitpid(2) for the minimal init of --pid (signal forwarding, reaping orphans). */
public final class Processes {
    private Processes() {}

    private static final MethodHandle KILL = Native.fn("kill", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle WAITPID = Native.fn("waitpid", FunctionDescriptor.of(INT, INT, PTR, INT));

    public static void kill(long pid, int sig) {
        try (Arena a = Arena.ofConfined()) {
            int unused = (int) KILL.invoke(a.allocate(Native.CAPTURE), (int) pid, sig);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Waits for any child; returns {pid, raw status}, or {-errno, 0}. */
    public static int[] waitAny() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            MemorySegment st = a.allocate(INT);
            int r = (int) WAITPID.invoke(cap, -1, st, 0);
            return r < 0 ? new int[] {-Native.errno(cap), 0} : new int[] {r, st.get(INT, 0)};
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
