package skiff.engine.sys;

import java.lang.foreign.Arena;

/** close_range(2): no descriptor of the JVM may reach the payload (cf. runc CVE-2024-21626). */
public final class Fds {
    private Fds() {}

    private static final long CLOSE_RANGE_CLOEXEC = 4;

    /**
     * Marks every descriptor above 2 close-on-exec. Closing them now would pull files from under the running JVM
     * (its jar, its class data); with CLOEXEC they vanish exactly at the payload's execve.
     */
    public static void closeOnExecAbove2() throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Native.check("close_range", a, Native.SYS_CLOSE_RANGE, 3L, 0xFFFFFFFFL, CLOSE_RANGE_CLOEXEC, 0, 0);
        }
    }

    private static final long F_SETFD = 2;

    /**
     * Clears close-on-exec on {@code fds} again: the descriptors skiff's caller passed on (a batch system's PMI
     * socket), which the payload inherits. One that is not open is skipped.
     */
    public static void keepOnExec(int[] fds) {
        if (fds.length == 0) return;
        try (Arena a = Arena.ofConfined()) {
            java.lang.foreign.MemorySegment cap = a.allocate(Native.CAPTURE);
            for (int fd : fds) Native.call(cap, Native.SYS_FCNTL, fd, F_SETFD, 0L);
        }
    }

    /** Marks one descriptor close-on-exec. */
    public static void closeOnExec(int fd) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Native.check("close_range " + fd, a, Native.SYS_CLOSE_RANGE, fd, fd, CLOSE_RANGE_CLOEXEC, 0, 0);
        }
    }

    private static final int O_PATH = 010000000, O_DIRECTORY = 0200000, O_CLOEXEC = 02000000, AT_FDCWD = -100;

    /**
     * An O_PATH descriptor of a directory: it keeps the directory reachable as /proc/self/fd/N after pivot_root has
     * taken its path out of sight.
     */
    public static int openDirectory(String dir) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            return (int) Native.check("open " + dir, a, Native.SYS_OPENAT, AT_FDCWD, Native.str(a, dir),
                    O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
        }
    }
}
