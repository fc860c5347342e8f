package skiff.engine;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * The per-user, per-node directory for mounts and run scratch: $XDG_RUNTIME_DIR/skiff, or /tmp/skiff-UID when
 * that is unset or unusable (batch jobs often have no XDG_RUNTIME_DIR). The /tmp fallback is created 0700 and
 * must be a real directory owned by the user, or another user could plant mounts or links there.
 */
public final class RuntimeDir {
    private RuntimeDir() {}

    public static Path resolve(Map<String, String> env, int uid) {
        String xdg = env.get("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isEmpty() && xdg.startsWith("/")) {
            Path p = Path.of(xdg);
            if (Files.isDirectory(p) && Files.isWritable(p)) {
                try {
                    return ownDir(p.resolve("skiff"), uid);
                } catch (SkiffException e) {
                    // fall through to /tmp
                }
            }
        }
        return ownDir(Path.of("/tmp", "skiff-" + uid), uid);
    }

    /** Creates {@code dir} 0700 if missing, and checks it is a directory owned by {@code uid}, not a link. */
    static Path ownDir(Path dir, int uid) {
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } catch (java.nio.file.FileAlreadyExistsException raced) {
                    // another skiff created it
                }
            }
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS))
                throw new SkiffException(ExitCode.HOST, dir + " is not a directory: remove it, or set XDG_RUNTIME_DIR");
            int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (owner != uid)
                throw new SkiffException(ExitCode.HOST, dir + " belongs to uid " + owner + ", not to you (uid " + uid
                        + "): remove it, or set XDG_RUNTIME_DIR to a directory of yours");
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            return dir;
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "cannot create the runtime directory " + dir + ": " + e.getMessage()
                    + ": set XDG_RUNTIME_DIR to a writable directory of yours");
        }
    }
}
