package skiff.policy.site;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Set;

/**
 * Whether a policy file may be believed: a file (or a directory above it) that anyone but root can write
 * could have been written by the very user the policy restricts. Checked on the resolved path, so a
 * symlink into a user's directory does not help. A world-writable directory with the sticky bit (/tmp)
 * is accepted: others cannot rename what they do not own there.
 */
public final class TrustedFiles {
    private TrustedFiles() {}

    /**
     * Paths trusted without looking at their owner: on the warm path of skiff run (cli.WarmRun) root's files show as
     * the overflow uid, like another user's, so the full path's verdict is carried over instead, for exactly the files
     * it trusted and only while their {@link FileStamps} still hold (WarmRun compares them before vouching).
     */
    private static volatile Set<Path> vouched = Set.of();

    /** Trusts {@code files} (absolute, normalised, as {@link FileStamps} records them) in this process from now on. */
    public static void vouch(Collection<Path> files) {
        vouched = Set.copyOf(files);
    }

    /** Null when trusted, else why not (for the warning). */
    public static String distrust(Path p) {
        if (!vouched.isEmpty() && vouched.contains(p.toAbsolutePath().normalize())) return null;
        try {
            Path real = p.toRealPath();
            String r = check(real);
            if (r != null) return r;
            // Every directory above it too: whoever can rename an ancestor can swap the whole tree.
            for (Path dir = real.getParent(); dir != null; dir = dir.getParent()) {
                r = check(dir);
                if (r != null) return "is in " + dir + ", which " + r;
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
        boolean stickyDir = (mode & 01000) != 0 && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
        if (stickyDir) return null;
        if ((mode & 0020) != 0) return "is group-writable";
        if ((mode & 0002) != 0) return "is writable by others";
        return null;
    }
}
