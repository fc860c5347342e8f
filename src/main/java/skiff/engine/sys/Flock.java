package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static skiff.engine.sys.Native.INT;
import static skiff.engine.sys.Native.PTR;

/**
 * flock(2) locks. The mount reaper is a shell script using flock(1); Java's FileChannel.lock is fcntl-based and
 * does not exclude flock(2) locks on Linux, so both sides must use flock.
 */
public final class Flock implements AutoCloseable {
    private static final MethodHandle OPEN = Native.fn("open", FunctionDescriptor.of(INT, PTR, INT, INT));
    private static final MethodHandle FLOCK = Native.fn("flock", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle CLOSE = Native.fn("close", FunctionDescriptor.of(INT, INT));
    private static final int O_RDWR = 2, O_CREAT = 0100, O_CLOEXEC = 02000000, LOCK_EX = 2;

    private final int fd;

    private Flock(int fd) {
        this.fd = fd;
    }

    public static Flock exclusive(String path) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            int fd = (int) OPEN.invoke(cap, a.allocateFrom(path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fd < 0) throw Native.fail("open " + path, cap);
            while (true) {
                int r = (int) FLOCK.invoke(cap, fd, LOCK_EX);
                if (r == 0) return new Flock(fd);
                if (Native.errno(cap) != Errno.EINTR) {
                    SysException e = Native.fail("flock " + path, cap);
                    int unused = (int) CLOSE.invoke(cap, fd);
                    throw e;
                }
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    @Override
    public void close() {
        try (Arena a = Arena.ofConfined()) {
            int unused = (int) CLOSE.invoke(a.allocate(Native.CAPTURE), fd);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
