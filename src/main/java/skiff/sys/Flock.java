package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * flock(2) locks. The mount reaper is a shell script using flock(1); Java's FileChannel.lock is fcntl-based and
 * does not exclude flock(2) locks on Linux, so both sides must use flock.
 */
public final class Flock implements AutoCloseable {
    private static final int O_RDWR = 2, O_CREAT = 0100, O_CLOEXEC = 02000000, LOCK_EX = 2, AT_FDCWD = -100;

    private final int fd;

    private Flock(int fd) {
        this.fd = fd;
    }

    public static Flock exclusive(String path) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            int fd = (int) Native.check("open " + path, a, Native.SYS_OPENAT, AT_FDCWD, Native.str(a, path),
                    O_RDWR | O_CREAT | O_CLOEXEC, 0600, 0);
            MemorySegment cap = a.allocate(Native.CAPTURE);
            while (true) {
                long r = Native.call(cap, Native.SYS_FLOCK, fd, LOCK_EX, 0L);
                if (r == 0) return new Flock(fd);
                if (Native.errno(cap) != Errno.EINTR) {
                    SysException e = Native.fail("flock " + path, cap);
                    Native.call(cap, Native.SYS_CLOSE, fd, 0L, 0L);
                    throw e;
                }
            }
        }
    }

    @Override
    public void close() {
        try (Arena a = Arena.ofConfined()) {
            Native.call(a.allocate(Native.CAPTURE), Native.SYS_CLOSE, fd, 0L, 0L);
        }
    }
}
