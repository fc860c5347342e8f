package skiff.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

import static skiff.sys.Native.INT;

/** prctl(2) and capset(2): leaving the payload no capability and no way to gain one. */
public final class Capabilities {
    private Capabilities() {}

    private static final int PR_CAPBSET_DROP = 24, PR_SET_NO_NEW_PRIVS = 38, PR_CAP_AMBIENT = 47,
            PR_CAP_AMBIENT_CLEAR_ALL = 4;
    private static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    /** struct __user_cap_header_struct (linux/capability.h). */
    static final StructLayout CAP_HEADER = MemoryLayout.structLayout(INT.withName("version"), INT.withName("pid"));
    /** struct __user_cap_data_struct; version 3 takes two of them (capabilities 0-31 and 32-63). */
    static final StructLayout CAP_DATA = MemoryLayout.structLayout(
            INT.withName("effective"), INT.withName("permitted"), INT.withName("inheritable"));
    private static final VarHandle VERSION = Native.field(CAP_HEADER, "version"), PID = Native.field(CAP_HEADER, "pid");

    /** Clears ambient, bounding, effective, permitted and inheritable sets, in that order (capabilities(7)). */
    public static void dropAll() throws SysException {
        prctl("PR_CAP_AMBIENT_CLEAR_ALL", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
        int last = lastCap();
        for (int c = 0; c <= last; c++) prctl("PR_CAPBSET_DROP " + c, PR_CAPBSET_DROP, c);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment hdr = a.allocate(CAP_HEADER);
            VERSION.set(hdr, 0L, LINUX_CAPABILITY_VERSION_3);
            PID.set(hdr, 0L, 0); // this process
            MemorySegment data = a.allocate(CAP_DATA, 2); // all sets empty: allocate zeroes
            Native.check("capset", a, Native.SYS_CAPSET, hdr.address(), data.address(), 0, 0, 0);
        }
    }

    /** PR_SET_NO_NEW_PRIVS: execve can no longer grant privileges (setuid bits, file capabilities). */
    public static void noNewPrivs() throws SysException {
        prctl("PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS, 1);
    }

    private static int lastCap() {
        // One read from offset 0: a sysctl file answers a read at a later offset with EOF, so Files.readString
        // (which sizes its first read from st_size, 0 here) would see only the first digit.
        try (var in = new java.io.FileInputStream("/proc/sys/kernel/cap_last_cap")) {
            byte[] b = new byte[32];
            int n = in.read(b);
            return Integer.parseInt(new String(b, 0, Math.max(n, 0), java.nio.charset.StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return 63; // dropping unknown capabilities fails with EINVAL, which prctl() below tolerates
        }
    }

    private static void prctl(String what, int option, long arg2) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cap = a.allocate(Native.CAPTURE);
            long r = Native.call(cap, Native.SYS_PRCTL, option, arg2, 0L, 0L, 0L, 0L);
            if (r != 0 && !(option == PR_CAPBSET_DROP && Native.errno(cap) == Errno.EINVAL)) throw Native.fail(what, cap);
        }
    }
}
