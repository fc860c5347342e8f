package skiff.policy.site;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Whether a policy file may be believed: a file (or its directory) that anyone but root can write could
 * have been written by the very user the policy restricts. Checked on the resolved path, so a symlink
 * into a user's directory does not help.
 */
public final class TrustedFiles {
    private TrustedFiles() {}

    /** Null when trusted, else why not (for the warning). */
    public static String distrust(Path p) {
        try {
            Path real = p.toRealPath();
            String r = check(real);
            if (r != null) return r;
            Path parent = real.getParent();
            if (parent != null && !Files.isDirectory(real)) {
                r = check(parent);
                if (r != null) return "its directory " + parent + " " + r;
            }
            return null;
        } catch (IOException e) {
            return "cannot be checked (" + e.getMessage() + ")";
        }
    }

    private static String check(Path p) throws IOException {
        int uid = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if (uid != 0 && (mode & 0200) != 0) return "is owned by uid " + uid + ", not root";
        if ((mode & 0020) != 0) return "is group-writable";
        if ((mode & 0002) != 0 && !((mode & 01000) != 0 && Files.isDirectory(p))) return "is writable by others";
        return null;
    }
}
