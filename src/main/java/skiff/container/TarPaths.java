package skiff.container;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.util.HashMap;
import java.util.Map;

/**
 * Checks the entries of an untrusted rootfs tarball, in order, so that unpacking it can never write
 * outside the root: names are made relative and normalised, ".." and absolute names are refused, and so
 * is any entry whose path goes through a symlink (or a non-directory) of an earlier entry, and any hard
 * link to something that is not an earlier regular file. A directory replaced by a non-directory (or the
 * reverse) is refused too: unpackers disagree on what it means.
 */
final class TarPaths {
    enum Kind { DIR, FILE, SYMLINK, OTHER }

    private final String source;
    /** Bounds the memory the bookkeeping may take on a hostile archive (implicit parents count too). */
    private final long maxEntries;
    private final int maxPathBytes;
    private final Map<String, Kind> seen = new HashMap<>();

    TarPaths(String source, long maxEntries, int maxPathBytes) {
        this.source = source;
        this.maxEntries = maxEntries;
        this.maxPathBytes = maxPathBytes;
    }

    /** The normalised relative name ("" for the root itself). */
    String normalise(String raw) {
        if (raw.indexOf('\0') >= 0) throw bad(raw, "it contains a NUL character");
        if (raw.startsWith("/")) throw bad(raw, "it is an absolute path");
        if (raw.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > maxPathBytes)
            throw bad(raw.substring(0, Math.min(raw.length(), 64)) + "...", "its name is longer than " + maxPathBytes + " bytes");
        StringBuilder sb = new StringBuilder();
        for (String c : raw.split("/")) {
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) throw bad(raw, "it contains '..'");
            if (!sb.isEmpty()) sb.append('/');
            sb.append(c);
        }
        return sb.toString();
    }

    /** Records an entry of {@code kind} at normalised {@code name}; throws if it would escape or clash. */
    void add(String raw, String name, Kind kind) {
        checkParents(raw, name);
        if (seen.size() >= maxEntries) throw bad(raw, "the archive has more than " + maxEntries + " entries (raise [convert] limits in config.toml if it is genuine)");
        Kind before = seen.get(name);
        if (before != null && (before == Kind.DIR) != (kind == Kind.DIR))
            throw bad(raw, "it replaces an earlier " + (before == Kind.DIR ? "directory with a non-directory" : "non-directory with a directory"));
        seen.put(name, kind);
    }

    /** Checks an entry that will be left out: it must still not be a way out. */
    void checkOnly(String raw, String name) {
        checkParents(raw, name);
    }

    /** Checks that a hard link's target is an earlier regular file; returns the normalised target. */
    String linkTarget(String raw, String target) {
        String t;
        try {
            t = normalise(target);
        } catch (SkiffException e) {
            t = null;
        }
        if (t == null || seen.get(t) != Kind.FILE) throw bad(raw, "it is a hard link to '" + target + "', which is not an earlier regular file of the archive");
        return t;
    }

    private void checkParents(String raw, String name) {
        int i = -1;
        while ((i = name.indexOf('/', i + 1)) >= 0) {
            String parent = name.substring(0, i);
            Kind k = seen.get(parent);
            if (k == null) {
                seen.put(parent, Kind.DIR); // implied by the entry, as tar creates it
            } else if (k != Kind.DIR) {
                throw bad(raw, "its parent '" + parent + "' is " + (k == Kind.SYMLINK ? "a symlink (writing through it could escape the root)" : "not a directory"));
            }
        }
    }

    private SkiffException bad(String raw, String why) {
        return new SkiffException(ExitCode.STORAGE, "refusing the archive " + source + ": entry '" + raw + "' is unsafe: " + why
                + " (only plain root filesystem tarballs with relative paths can be imported)");
    }
}
