package skiff.sys;

import java.lang.foreign.Arena;

/** pivot_root(2) and chdir(2): switching the process to the container's root. */
public final class PivotRoot {
    private PivotRoot() {}

    /**
     * Makes {@code newRoot} (a mount point) the root and detaches the old one. pivot_root(".", ".") stacks the old
     * root on top of the new one (pivot_root(2), NOTES), so no put_old directory is needed in a read-only image.
     */
    public static void into(String newRoot) throws SysException {
        chdir(newRoot);
        try (Arena a = Arena.ofConfined()) {
            long dot = Native.str(a, ".");
            Native.check("pivot_root " + newRoot, a, Native.SYS_PIVOT_ROOT, dot, dot, 0, 0, 0);
        }
        Mounts.umount(".", Mounts.MNT_DETACH);
        chdir("/");
    }

    public static void chdir(String dir) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            Native.check("chdir " + dir, a, Native.SYS_CHDIR, Native.str(a, dir), 0, 0, 0, 0);
        }
    }
}
