package skiff.policy.device;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** stat(2) of a host device node: its type and numbers, which runtime-spec's linux.devices carry. */
@FunctionalInterface
public interface DeviceProbe {
    record Node(String type, long major, long minor, int fileMode, int uid, int gid) {}

    /** The node at {@code hostPath} (symlinks followed), or SkiffException when it is not a char/block device. */
    Node stat(Path hostPath);

    /** The real one: lstat through the symlink, S_IFMT and st_rdev from the unix attribute view. */
    DeviceProbe HOST = hostPath -> {
        try {
            int mode = (Integer) Files.getAttribute(hostPath, "unix:mode");
            long rdev = (Long) Files.getAttribute(hostPath, "unix:rdev");
            int uid = (Integer) Files.getAttribute(hostPath, "unix:uid");
            int gid = (Integer) Files.getAttribute(hostPath, "unix:gid");
            String type = switch (mode & 0170000) {
                case 0020000 -> "c";
                case 0060000 -> "b";
                default -> throw new SkiffException(ExitCode.USAGE, "--device " + hostPath
                        + ": not a character or block device; pass device nodes only (bind files with -v)");
            };
            // glibc's gnu_dev_major/minor encoding of dev_t.
            long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
            long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
            return new Node(type, major, minor, mode & 07777, uid, gid);
        } catch (NoSuchFileException e) {
            throw new SkiffException(ExitCode.HOST, "device " + hostPath + " does not exist on this host; check the path (ls -l " + hostPath + ")");
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "device " + hostPath + " cannot be examined: " + e.getMessage());
        }
    };
}
