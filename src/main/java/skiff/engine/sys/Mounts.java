package skiff.engine.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static skiff.engine.sys.Native.INT;
import static skiff.engine.sys.Native.LONG;
import static skiff.engine.sys.Native.PTR;

/** mount(2), umount2(2), statvfs(3): building a container's mount tree. */
public final class Mounts {
    private Mounts() {}

    public static final long MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32,
            MS_NOATIME = 1024, MS_NODIRATIME = 2048, MS_BIND = 4096, MS_MOVE = 8192, MS_REC = 16384, MS_PRIVATE = 1 << 18,
            MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24;
    public static final int MNT_DETACH = 2;

    /** statvfs f_flag bits that mirror MS_* bits (ST_RDONLY == MS_RDONLY ...), i.e. what a remount must keep. */
    private static final long LOCKABLE = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;

    private static final MethodHandle MOUNT = Native.fn("mount", FunctionDescriptor.of(INT, PTR, PTR, PTR, LONG, PTR));
    private static final MethodHandle UMOUNT2 = Native.fn("umount2", FunctionDescriptor.of(INT, PTR, INT));
    private static final MethodHandle STATVFS = Native.fn("statvfs", FunctionDescriptor.of(INT, PTR, PTR));

    public static void mount(String source, String target, String fstype, long flags, String data) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            int r = (int) MOUNT.invoke(cap, Native.str(a, source), Native.str(a, target), Native.str(a, fstype), flags,
                    Native.str(a, data));
            if (r != 0) throw Native.fail("mount " + (source == null ? "" : source + " on ") + target, cap);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static void umount(String target, int flags) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            int r = (int) UMOUNT2.invoke(cap, a.allocateFrom(target), flags);
            if (r != 0) throw Native.fail("umount " + target, cap);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The MS_* flags the mount at {@code path} has now (statvfs f_flag), restricted to the lockable ones. */
    public static long flags(String path) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            MemorySegment buf = a.allocate(256);
            int r = (int) STATVFS.invoke(cap, a.allocateFrom(path), buf);
            if (r != 0) throw Native.fail("statvfs " + path, cap);
            // struct statvfs (glibc, 64-bit): nine unsigned longs, then f_flag.
            return buf.get(LONG, 72) & LOCKABLE;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Adds restrictions (ro, nosuid, nodev, noexec) to the bind mount at {@code target}. In a user namespace the
     * kernel refuses a remount that would clear a flag locked by the more privileged namespace (mount_namespaces(7)),
     * so the flags the mount already has are kept.
     */
    public static void restrict(String target, long add) throws SysException {
        long keep = flags(target);
        mount(null, target, null, MS_REMOUNT | MS_BIND | keep | add, null);
    }
}
