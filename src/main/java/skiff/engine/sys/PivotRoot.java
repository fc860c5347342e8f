package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static skiff.engine.sys.Native.INT;
import static skiff.engine.sys.Native.PTR;

/** pivot_root(2) and chdir(2): switching the process to the container's root. */
public final class PivotRoot {
    private PivotRoot() {}

    private static final MethodHandle SYSCALL2 = Native.syscall(2);
    private static final MethodHandle CHDIR = Native.fn("chdir", FunctionDescriptor.of(INT, PTR));
    private static final long SYS_PIVOT_ROOT = Native.AARCH64 ? 41 : 155;

    /**
     * Makes {@code newRoot} (a mount point) the root and detaches the old one. pivot_root(".", ".") stacks the old
     * root on top of the new one (pivot_root(2), NOTES), so no put_old directory is needed in a read-only image.
     */
    public static void into(String newRoot) throws SysException {
        chdir(newRoot);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            MemorySegment dot = a.allocateFrom(".");
            long r = (long) SYSCALL2.invoke(cap, SYS_PIVOT_ROOT, dot.address(), dot.address());
            if (r != 0) throw Native.fail("pivot_root " + newRoot, cap);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Mounts.umount(".", Mounts.MNT_DETACH);
        chdir("/");
    }

    public static void chdir(String dir) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            int r = (int) CHDIR.invoke(cap, a.allocateFrom(dir));
            if (r != 0) throw Native.fail("chdir " + dir, cap);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
