package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Links skiff's one downcall ({@link Native}'s syscall) on a thread of its own while the caller goes on. The first
 * downcall of a JVM spins the classes of its native signature, which no AOT cache keeps: ~30 ms of a warm
 * {@code skiff run} on a quiet machine, several times that under load. Linked beside the run record and policy
 * work on a second core, it is off the critical path; on one core it costs what it cost before.
 */
public final class LinkAhead {
    private LinkAhead() {}

    private static final long SYS_GETPID = Native.AARCH64 ? 172 : 39;

    public static void start() {
        Thread t = new Thread(LinkAhead::link, "skiff-link-ahead");
        t.setDaemon(true);
        t.start();
    }

    private static void link() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            // getpid(2): harmless, and the call itself links the invoker as well as the handle.
            Native.call(cap, SYS_GETPID, 0L, 0L, 0L);
        } catch (RuntimeException | Error e) {
            // the caller's own first downcall reports whatever went wrong here
        }
    }
}
