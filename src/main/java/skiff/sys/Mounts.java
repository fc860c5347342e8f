package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static skiff.sys.Native.INT;
import static skiff.sys.Native.LONG;

/** mount(2), umount2(2), statfs(2): building a container's mount tree. */
public final class Mounts {
    private Mounts() {}

    public static final long MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32,
            MS_NOATIME = 1024, MS_NODIRATIME = 2048, MS_BIND = 4096, MS_MOVE = 8192, MS_REC = 16384, MS_PRIVATE = 1 << 18,
            MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24;
    public static final int MNT_DETACH = 2;

    /** statfs f_flags bits that mirror MS_* bits (ST_RDONLY == MS_RDONLY ...), i.e. what a remount must keep. */
    private static final long LOCKABLE = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME;

    /**
     * struct statfs on 64-bit Linux (asm-generic/statfs.h, and x86_64's own, which agrees): every word a long,
     * f_fsid two ints.
     */
    static final StructLayout STATFS = MemoryLayout.structLayout(LONG.withName("f_type"), LONG.withName("f_bsize"),
            LONG.withName("f_blocks"), LONG.withName("f_bfree"), LONG.withName("f_bavail"), LONG.withName("f_files"),
            LONG.withName("f_ffree"), MemoryLayout.sequenceLayout(2, INT).withName("f_fsid"),
            LONG.withName("f_namelen"), LONG.withName("f_frsize"), LONG.withName("f_flags"),
            MemoryLayout.sequenceLayout(4, LONG).withName("f_spare"));
    private static final VarHandle F_FLAGS = Native.field(STATFS, "f_flags");

    public static void mount(String source, String target, String fstype, long flags, String data) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Native.check("mount " + (source == null ? "" : source + " on ") + target, a, Native.SYS_MOUNT,
                    Native.str(a, source), Native.str(a, target), Native.str(a, fstype), flags, Native.str(a, data));
        }
    }

    public static void umount(String target, int flags) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Native.check("umount " + target, a, Native.SYS_UMOUNT2, Native.str(a, target), flags, 0, 0, 0);
        }
    }

    /** The MS_* flags the mount at {@code path} has now (statfs f_flags), restricted to the lockable ones. */
    public static long flags(String path) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(STATFS);
            Native.check("statfs " + path, a, Native.SYS_STATFS, Native.str(a, path), buf.address(), 0, 0, 0);
            return (long) F_FLAGS.get(buf, 0L) & LOCKABLE;
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
