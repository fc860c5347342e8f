package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static skiff.sys.Native.INT;

/** kill(2) and wait4(2) for the minimal init of --pid (signal forwarding, reaping orphans). */
public final class Processes {
    private Processes() {}

    public static void kill(long pid, int sig) {
        try (Arena a = Arena.ofConfined()) {
            Native.call(a.allocate(Native.CAPTURE), Native.SYS_KILL, (int) pid, sig, 0L);
        }
    }

    /** Waits for any child; returns {pid, raw status}, or {-errno, 0}. */
    public static int[] waitAny() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            MemorySegment st = a.allocate(INT);
            long r = Native.call(cap, Native.SYS_WAIT4, -1L, st.address(), 0L);
            return r < 0 ? new int[] {-Native.errno(cap), 0} : new int[] {(int) r, st.get(INT, 0)};
        }
    }
}
