package skiff.sys;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The struct layouts against the kernel's sizes, and each wrapper against what the kernel reports elsewhere. */
class SysTest {
    @Test
    void structLayoutsHaveTheKernelsSizesAndOffsets() {
        assertEquals(120, Mounts.STATFS.byteSize(), "struct statfs");
        assertEquals(80, Mounts.STATFS.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("f_flags")));
        assertEquals(8, Capabilities.CAP_HEADER.byteSize(), "struct __user_cap_header_struct");
        assertEquals(12, Capabilities.CAP_DATA.byteSize(), "struct __user_cap_data_struct");
        assertEquals(8, Fds.WINSIZE.byteSize(), "struct winsize");
        assertEquals(16, FuseDevice.IOVEC.byteSize(), "struct iovec");
        assertEquals(56, FuseDevice.MSGHDR.byteSize(), "struct msghdr");
        assertEquals(16, FuseDevice.CMSG_FD.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("fd")),
                "CMSG_DATA");
    }

    @Test
    void statfsFlagsAgreeWithMountinfo() throws Exception {
        // /proc is mounted nosuid,nodev,noexec wherever these tests run (a host, a container).
        List<String> opts = mountOptions("/proc");
        long flags = Mounts.flags("/proc");
        assertEquals(opts.contains("nosuid"), (flags & Mounts.MS_NOSUID) != 0, "nosuid of " + opts);
        assertEquals(opts.contains("noexec"), (flags & Mounts.MS_NOEXEC) != 0, "noexec of " + opts);
        assertEquals(opts.contains("ro"), (flags & Mounts.MS_RDONLY) != 0, "ro of " + opts);
    }

    @Test
    void aFailedCallNamesItsErrno() {
        SysException e = assertThrows(SysException.class, () -> Mounts.flags("/nonexistent/skiff-sys-test"));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("statfs /nonexistent/skiff-sys-test: No such file or directory", e.getMessage());
    }

    @Test
    void notATerminalHasNoWidth() throws IOException {
        Path f = Files.createTempFile("skiff-sys", "");
        try (var in = new java.io.FileInputStream(f.toFile())) {
            // fd 0 may be a terminal when run by hand; a descriptor of a plain file never is.
            int fd = fdOf(f);
            assertTrue(fd > 2, "descriptor of the open file");
            assertEquals(-1, Fds.terminalColumns(fd));
        } finally {
            Files.delete(f);
        }
        assertEquals(-1, Fds.terminalColumns(-1));
    }

    private static int fdOf(Path file) throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : fds.toList()) {
                try {
                    if (Files.readSymbolicLink(p).equals(file.toRealPath())) return Integer.parseInt(p.getFileName().toString());
                } catch (IOException gone) {
                    // the directory stream's own descriptor, closed by now
                }
            }
        }
        return -1;
    }

    private static List<String> mountOptions(String mountPoint) throws IOException {
        String opts = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f[4].equals(mountPoint)) opts = f[5]; // the last mount on a point is the one seen
        }
        assertTrue(opts != null, mountPoint + " not in mountinfo");
        return List.of(opts.split(","));
    }
}
