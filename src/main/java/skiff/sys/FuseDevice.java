package skiff.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static skiff.sys.Native.INT;
import static skiff.sys.Native.LONG;
import static skiff.sys.Native.PTR;

/**
 * The FUSE device: mounting through the setuid fusermount3, which opens /dev/fuse, mounts, and hands the
 * descriptor back over a unix socket (SCM_RIGHTS) named by {@code _FUSE_COMMFD}; then reading requests from it
 * and writing replies. All through the single syscall(2) handle of {@link Native}: no new native signature.
 */
public final class FuseDevice {
    private FuseDevice() {}

    private static final long AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000, O_CLOEXEC = 0x80000,
            MSG_CMSG_CLOEXEC = 0x40000000, AT_FDCWD = -100;
    private static final int SOL_SOCKET = 1, SCM_RIGHTS = 1;

    /** struct iovec (bits/types/struct_iovec.h). */
    static final StructLayout IOVEC = MemoryLayout.structLayout(PTR.withName("iov_base"), LONG.withName("iov_len"));
    /** struct msghdr on 64-bit Linux (bits/socket.h): msg_namelen is padded to the next pointer. */
    static final StructLayout MSGHDR = MemoryLayout.structLayout(PTR.withName("msg_name"), INT.withName("msg_namelen"),
            MemoryLayout.paddingLayout(4), PTR.withName("msg_iov"), LONG.withName("msg_iovlen"),
            PTR.withName("msg_control"), LONG.withName("msg_controllen"), INT.withName("msg_flags"),
            MemoryLayout.paddingLayout(4));
    /** struct cmsghdr followed by the one int SCM_RIGHTS carries here (CMSG_LEN(sizeof(int)) == 20). */
    static final StructLayout CMSG_FD = MemoryLayout.structLayout(LONG.withName("cmsg_len"), INT.withName("cmsg_level"),
            INT.withName("cmsg_type"), INT.withName("fd"), MemoryLayout.paddingLayout(4));
    private static final VarHandle IOV_BASE = Native.field(IOVEC, "iov_base"), IOV_LEN = Native.field(IOVEC, "iov_len"),
            MSG_IOV = Native.field(MSGHDR, "msg_iov"), MSG_IOVLEN = Native.field(MSGHDR, "msg_iovlen"),
            MSG_CONTROL = Native.field(MSGHDR, "msg_control"), MSG_CONTROLLEN = Native.field(MSGHDR, "msg_controllen"),
            CMSG_LEN = Native.field(CMSG_FD, "cmsg_len"), CMSG_LEVEL = Native.field(CMSG_FD, "cmsg_level"),
            CMSG_TYPE = Native.field(CMSG_FD, "cmsg_type"), CMSG_DATA_FD = Native.field(CMSG_FD, "fd");
    private static final long CMSG_LEN_ONE_FD = 20;

    /** One errno capture buffer per thread: the server's threads each block in read(2) on the device. */
    private static final ThreadLocal<MemorySegment> CAPTURE = ThreadLocal.withInitial(
            () -> Arena.ofAuto().allocate(Native.CAPTURE));

    /**
     * Mounts a FUSE file system at {@code mnt} through {@code fusermount} with the given -o options and returns
     * the /dev/fuse descriptor (close-on-exec), whose first request will be INIT.
     *
     * <p>fusermount3 learns the socket by its number, but the JVM closes every descriptor above 2 in the
     * children it starts, so the socket is lent fd 0 for the spawn (this process's stdin is /dev/null: it is the
     * detached server) and /dev/null is put back right after.
     */
    public static int mount(Path fusermount, Path mnt, String options) throws IOException, SysException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment sv = a.allocate(INT, 2);
            Native.check("socketpair", a, Native.SYS_SOCKETPAIR, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv.address(), 0);
            int mine = sv.getAtIndex(INT, 0), theirs = sv.getAtIndex(INT, 1);
            Process p;
            try {
                Native.check("dup3", a, Native.SYS_DUP3, theirs, 0, 0, 0, 0);
                ProcessBuilder pb = new ProcessBuilder(List.of(fusermount.toString(), "-o", options, "--", mnt.toString()))
                        .redirectInput(ProcessBuilder.Redirect.INHERIT)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD);
                pb.environment().put("_FUSE_COMMFD", "0");
                try {
                    p = pb.start();
                } finally {
                    long devnull = Native.check("open /dev/null", a, Native.SYS_OPENAT, AT_FDCWD,
                            Native.str(a, "/dev/null"), O_CLOEXEC, 0, 0);
                    Native.check("dup3", a, Native.SYS_DUP3, devnull, 0, 0, 0, 0);
                    close((int) devnull);
                }
            } finally {
                close(theirs);
            }
            String err;
            int rc;
            try {
                err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip().replace('\n', ' ');
                rc = p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close(mine);
                throw new IOException("interrupted while mounting");
            }
            try {
                if (rc != 0) throw new IOException(fusermount.getFileName() + " failed: " + (err.isEmpty() ? "exit status " + rc : err));
                return receiveFd(a, mine);
            } finally {
                close(mine);
            }
        }
    }

    /** recvmsg(2) of one byte carrying one descriptor. */
    private static int receiveFd(Arena a, int sock) throws IOException, SysException {
        MemorySegment data = a.allocate(8);
        MemorySegment iov = a.allocate(IOVEC);
        IOV_BASE.set(iov, 0L, data);
        IOV_LEN.set(iov, 0L, 1L);
        MemorySegment control = a.allocate(64); // room for more than the one descriptor expected
        MemorySegment msg = a.allocate(MSGHDR);
        MSG_IOV.set(msg, 0L, iov);
        MSG_IOVLEN.set(msg, 0L, 1L);
        MSG_CONTROL.set(msg, 0L, control);
        MSG_CONTROLLEN.set(msg, 0L, control.byteSize());
        long n = Native.check("recvmsg", a, Native.SYS_RECVMSG, sock, msg.address(), MSG_CMSG_CLOEXEC, 0, 0);
        if (n <= 0) throw new IOException("fusermount3 did not pass the FUSE descriptor back");
        if ((long) MSG_CONTROLLEN.get(msg, 0L) < CMSG_LEN_ONE_FD || (long) CMSG_LEN.get(control, 0L) < CMSG_LEN_ONE_FD
                || (int) CMSG_LEVEL.get(control, 0L) != SOL_SOCKET || (int) CMSG_TYPE.get(control, 0L) != SCM_RIGHTS)
            throw new IOException("fusermount3 sent no descriptor");
        return (int) CMSG_DATA_FD.get(control, 0L);
    }

    /** read(2) into a direct buffer from position 0; returns the byte count, or -errno. */
    public static int read(int fd, ByteBuffer direct) {
        MemorySegment cap = CAPTURE.get();
        long r = Native.call(cap, Native.SYS_READ, fd, MemorySegment.ofBuffer(direct).address() - direct.position(),
                direct.capacity(), 0, 0, 0);
        return r < 0 ? -Native.errno(cap) : (int) r;
    }

    /** write(2) of the first {@code len} bytes of a direct buffer; returns the byte count, or -errno. */
    public static int write(int fd, ByteBuffer direct, int len) {
        MemorySegment cap = CAPTURE.get();
        long r = Native.call(cap, Native.SYS_WRITE, fd, MemorySegment.ofBuffer(direct).address() - direct.position(),
                len, 0, 0, 0);
        return r < 0 ? -Native.errno(cap) : (int) r;
    }

    public static void close(int fd) {
        MemorySegment cap = CAPTURE.get();
        Native.call(cap, Native.SYS_CLOSE, fd, 0, 0, 0, 0, 0);
    }

    /** Points stdout of this process at {@code file}, once the server no longer talks to its launcher. */
    public static void redirectStdout(Path file) throws SysException {
        try (Arena a = Arena.ofConfined()) {
            long fd = Native.check("open " + file, a, Native.SYS_OPENAT, AT_FDCWD, Native.str(a, file.toString()),
                    O_CLOEXEC | 01, 0, 0);
            Native.check("dup3", a, Native.SYS_DUP3, fd, 1, 0, 0, 0);
            close((int) fd);
        }
    }
}
