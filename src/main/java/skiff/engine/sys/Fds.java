package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** close_range(2): no descriptor of the JVM may reach the payload (cf. runc CVE-2024-21626). */
public final class Fds {
    private Fds() {}

    private static final long SYS_CLOSE_RANGE = 436; // same number on x86_64 and aarch64
    private static final long CLOSE_RANGE_CLOEXEC = 4;
    private static final MethodHandle SYSCALL3 = Native.syscall(3);

    /**
     * Marks every descriptor above 2 close-on-exec. Closing them now would pull files from under the running JVM
     * (its jar, its class data); with CLOEXEC they vanish exactly at the payload's execve.
     */
    public static void closeOnExecAbove2() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            long r = (long) SYSCALL3.invoke(cap, SYS_CLOSE_RANGE, 3L, 0xFFFFFFFFL, CLOSE_RANGE_CLOEXEC);
            if (r != 0) throw Native.fail("close_range", cap);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
