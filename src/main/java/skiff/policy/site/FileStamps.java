package skiff.policy.site;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What a policy read was made of, as the file system showed it: per path looked at (a policy file, a policy
 * directory listed, a file looked for and absent) its device, inode, ctime, mode and size, or its absence. Taken by
 * the full path of skiff run (host namespaces, real uids, where {@link TrustedFiles} can tell root's files from
 * other users') and compared by the warm path (cli.WarmRun), whose user namespace shows root's files as the overflow
 * uid, like another user's: there, a path whose stamp still matches is the very file the full path checked.
 *
 * <p>Why the stamp suffices: a file's content cannot change without its ctime changing (write, truncate, chmod,
 * chown, link and rename of the inode all set it), and a file replaced by another (rename over it, delete and
 * create) has another inode. A directory's ctime changes with every entry added, removed or renamed, so a hooks.d or
 * CDI file added later is noticed through its directory's stamp, and a site.toml created later through its recorded
 * absence. A symlink is stamped itself and as followed (its target can change under an unchanged link).
 *
 * <p>The directories above a policy file are not stamped: they do not change what the file holds (the file's own
 * stamp pins that), and /etc or /run change all the time for unrelated reasons, which would discard the record on
 * nearly every start. Their trust was checked by the full path when the record was written; the file content the
 * warm path uses is exactly the content that was trusted then.
 */
public final class FileStamps {
    /** A path's state: "dev:ino:ctime-ns:mode:size", "absent", or "unreadable". {@code follow}: stat, not lstat. */
    public record Stamp(String path, boolean follow, String state, boolean trusted) {
        /** Why this stamp no longer holds, or null when the path is as recorded. */
        public String mismatch() {
            String now = FileStamps.state(Path.of(path), follow);
            return now.equals(state) ? null : path + (follow ? " (followed)" : "") + " changed since it was checked ("
                    + describe(state) + ", now " + describe(now) + ")";
        }

        private static String describe(String s) {
            return s.equals(ABSENT) || s.equals(UNREADABLE) ? s : "inode " + s;
        }
    }

    static final String ABSENT = "absent";
    static final String UNREADABLE = "unreadable";

    private final Map<String, Stamp> stamps = new LinkedHashMap<>();

    public List<Stamp> stamps() {
        return new ArrayList<>(stamps.values());
    }

    /** A policy file looked for (it may be absent): stamped, with whether {@link TrustedFiles} trusts it now. */
    public FileStamps file(Path p) {
        add(p, true);
        return this;
    }

    /** A policy directory listed: stamped, and every entry in it as by {@link #file} (in name order). */
    public FileStamps dir(Path d) {
        add(d, false);
        if (!Files.isDirectory(d)) return this;
        TreeSet<Path> entries = new TreeSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
            s.forEach(entries::add);
        } catch (IOException e) {
            return this; // stamped "unreadable" or as listed; the loader reports the listing's failure
        }
        for (Path e : entries) add(e, true);
        return this;
    }

    private void add(Path p, boolean trustFlag) {
        Path abs = p.toAbsolutePath().normalize();
        String s = state(abs, false);
        boolean trusted = trustFlag && !s.equals(ABSENT) && !s.equals(UNREADABLE) && TrustedFiles.distrust(abs) == null;
        stamps.putIfAbsent(abs + "\0", new Stamp(abs.toString(), false, s, trusted));
        if (Files.isSymbolicLink(abs)) stamps.putIfAbsent(abs + "\0f", new Stamp(abs.toString(), true, state(abs, true), trusted));
    }

    /** The first stamp that no longer holds, or null. */
    public static String mismatch(List<Stamp> stamps) {
        for (Stamp s : stamps) {
            String m = s.mismatch();
            if (m != null) return m;
        }
        return null;
    }

    /** The current state of {@code p} in a stamp's form. */
    static String state(Path p, boolean follow) {
        try {
            Map<String, Object> a = follow ? Files.readAttributes(p, "unix:dev,ino,ctime,mode,size")
                    : Files.readAttributes(p, "unix:dev,ino,ctime,mode,size", LinkOption.NOFOLLOW_LINKS);
            FileTime ctime = (FileTime) a.get("ctime");
            var t = ctime.toInstant();
            long ns = Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
            return a.get("dev") + ":" + a.get("ino") + ":" + ns + ":" + Integer.toOctalString((Integer) a.get("mode")) + ":" + a.get("size");
        } catch (NoSuchFileException e) {
            return ABSENT;
        } catch (IOException | RuntimeException e) {
            return UNREADABLE;
        }
    }
}
