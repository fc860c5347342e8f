package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

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

    /**
     * Closes one descriptor (close_range over just it): the warm path of skiff run drops the start-up lock
     * bin/skiff took for it once the image's mount is accounted for.
     */
    public static void close(int fd) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Native.check("close_range", a, Native.SYS_CLOSE_RANGE, fd, fd, 0, 0, 0);
        }
    }

    /** TIOCGWINSZ: the same number on x86_64 and aarch64 (asm-generic). */
    private static final long TIOCGWINSZ = 0x5413;

    /** struct winsize (asm-generic/termios.h). */
    static final StructLayout WINSIZE = MemoryLayout.structLayout(ValueLayout.JAVA_SHORT.withName("ws_row"),
            ValueLayout.JAVA_SHORT.withName("ws_col"), ValueLayout.JAVA_SHORT.withName("ws_xpixel"),
            ValueLayout.JAVA_SHORT.withName("ws_ypixel"));
    private static final VarHandle WS_COL = Native.field(WINSIZE, "ws_col");

    /**
     * The width in columns of the terminal on {@code fd}, or -1 when it is not a terminal or says 0. One
     * ioctl, cheap enough to ask before every redraw, so a resized window needs no SIGWINCH handler.
     */
    public static int terminalColumns(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ws = a.allocate(WINSIZE);
            long r = Native.call(a.allocate(Native.CAPTURE), Native.SYS_IOCTL, fd, TIOCGWINSZ, ws.address());
            if (r != 0) return -1;
            int cols = Short.toUnsignedInt((short) WS_COL.get(ws, 0L));
            return cols > 0 ? cols : -1;
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
            MemorySegment cap = a.allocate(Native.CAPTURE);
            for (int fd : fds) Native.call(cap, Native.SYS_FCNTL, fd, F_SETFD, 0L);
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
