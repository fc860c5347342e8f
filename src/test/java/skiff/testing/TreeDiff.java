package skiff.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * Walks a root filesystem on disk (a directory rootfs, a kernel or squashfuse mount, an unsquashfs or
 * umoci unpack) into a comparable snapshot, so two independently produced trees can be checked for
 * equality: paths, types, permission bits, owners (optional), sizes, content hashes, symlink targets,
 * device numbers and hard-link groups. Symlinks are never followed.
 *
 * <p>Modification times are not part of {@link Entry}: tools differ on directory mtimes; use
 * {@link #mtimes(Path)} where they matter.
 */
public final class TreeDiff {
    private TreeDiff() {}

    /**
     * One path of a tree.
     *
     * @param type   "dir", "file", "symlink", "char", "block", "fifo" or "socket"
     * @param mode   permission bits including setuid/setgid/sticky (0 for symlinks: their mode means nothing)
     * @param uid    owner, or -1 when owners are not compared
     * @param gid    group, or -1 when owners are not compared
     * @param size   file size in bytes (0 for anything but files)
     * @param sha256 content hash of files, symlink target of symlinks, "MAJOR:MINOR" of devices, else ""
     * @param links  the other paths of the same hard-link group, sorted and joined with ','; "" when none
     */
    public record Entry(String type, int mode, int uid, int gid, long size, String sha256, String links) {
        @Override
        public String toString() {
            return type + " " + Integer.toOctalString(mode) + " " + uid + ":" + gid + " size=" + size
                    + (sha256.isEmpty() ? "" : " " + (type.equals("file") ? "sha256=" + sha256.substring(0, 12) : "=" + sha256))
                    + (links.isEmpty() ? "" : " links=[" + links + "]");
        }

        public Entry withMode(int m) {
            return new Entry(type, m, uid, gid, size, sha256, links);
        }
    }

    /** The tree under {@code root} (root itself is ""), sorted by path. */
    public static Map<String, Entry> snapshot(Path root, boolean compareOwners) {
        Map<String, Entry> out = new TreeMap<>();
        Map<String, List<String>> byInode = new TreeMap<>();
        Map<String, String> inodeOf = new TreeMap<>();
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    record(dir);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    record(file);
                    return FileVisitResult.CONTINUE;
                }

                private void record(Path p) throws IOException {
                    String rel = root.relativize(p).toString();
                    Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,size,ino,dev,nlink,rdev", LinkOption.NOFOLLOW_LINKS);
                    int raw = (Integer) a.get("mode");
                    String type = switch (raw & 0170000) {
                        case 0040000 -> "dir";
                        case 0100000 -> "file";
                        case 0120000 -> "symlink";
                        case 0020000 -> "char";
                        case 0060000 -> "block";
                        case 0010000 -> "fifo";
                        case 0140000 -> "socket";
                        default -> "unknown";
                    };
                    int mode = type.equals("symlink") ? 0 : raw & 07777;
                    int uid = compareOwners ? (Integer) a.get("uid") : -1;
                    int gid = compareOwners ? (Integer) a.get("gid") : -1;
                    long size = type.equals("file") ? (Long) a.get("size") : 0;
                    String content = switch (type) {
                        case "file" -> sha256(p);
                        case "symlink" -> Files.readSymbolicLink(p).toString();
                        case "char", "block" -> {
                            long rdev = (Long) a.get("rdev");
                            yield major(rdev) + ":" + minor(rdev);
                        }
                        default -> "";
                    };
                    out.put(rel, new Entry(type, mode, uid, gid, size, content, ""));
                    if (!type.equals("dir") && (Integer) a.get("nlink") > 1) {
                        String inode = a.get("dev") + "/" + a.get("ino");
                        byInode.computeIfAbsent(inode, k -> new ArrayList<>()).add(rel);
                        inodeOf.put(rel, inode);
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (var e : inodeOf.entrySet()) {
            TreeSet<String> others = new TreeSet<>(byInode.get(e.getValue()));
            others.remove(e.getKey());
            if (others.isEmpty()) continue;
            Entry old = out.get(e.getKey());
            out.put(e.getKey(), new Entry(old.type(), old.mode(), old.uid(), old.gid(), old.size(), old.sha256(), String.join(",", others)));
        }
        return out;
    }

    /** Modification times in seconds, by path (symlinks not followed). */
    public static Map<String, Long> mtimes(Path root) {
        Map<String, Long> out = new TreeMap<>();
        try (var s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator)
                out.put(root.relativize(p).toString(),
                        Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toMillis() / 1000);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Applies {@code change} to every entry (e.g. to mask bits one side cannot represent). */
    public static Map<String, Entry> map(Map<String, Entry> tree, UnaryOperator<Entry> change) {
        Map<String, Entry> out = new TreeMap<>();
        tree.forEach((k, v) -> out.put(k, change.apply(v)));
        return out;
    }

    /**
     * What skiff's directory rootfs does to permission bits: the invoking user may always read and write
     * (and enter) what it owns, and files lose setuid/setgid. Apply to an image-exact tree before
     * comparing it with a directory rootfs.
     */
    public static Map<String, Entry> ownerAccess(Map<String, Entry> tree) {
        return map(tree, e -> switch (e.type()) {
            case "dir" -> e.withMode(e.mode() | 0700);
            case "file" -> e.withMode((e.mode() | 0600) & ~06000);
            default -> e;
        });
    }

    /** Human-readable differences, empty when the trees are the same. */
    public static List<String> diff(Map<String, Entry> expected, Map<String, Entry> actual) {
        List<String> d = new ArrayList<>();
        TreeSet<String> all = new TreeSet<>(expected.keySet());
        all.addAll(actual.keySet());
        for (String p : all) {
            Entry e = expected.get(p), a = actual.get(p);
            String name = p.isEmpty() ? "/" : p;
            if (a == null) d.add("missing: " + name + " (expected " + e + ")");
            else if (e == null) d.add("unexpected: " + name + " (" + a + ")");
            else if (!Objects.equals(e, a)) d.add("differs: " + name + "\n    expected " + e + "\n    actual   " + a);
        }
        return d;
    }

    /** Fails with the first differences listed when the trees differ. */
    public static void assertSame(Map<String, Entry> expected, Map<String, Entry> actual) {
        List<String> d = diff(expected, actual);
        if (d.isEmpty()) return;
        StringBuilder sb = new StringBuilder(d.size() + " difference(s) between trees:\n");
        d.stream().limit(40).forEach(s -> sb.append("  ").append(s).append('\n'));
        if (d.size() > 40) sb.append("  ... and ").append(d.size() - 40).append(" more\n");
        throw new AssertionError(sb.toString());
    }

    /** A snapshot restricted to paths for which {@code keep} is true (e.g. to ignore a mount point). */
    public static Map<String, Entry> filter(Map<String, Entry> tree, java.util.function.Predicate<String> keep) {
        Map<String, Entry> out = new LinkedHashMap<>();
        tree.forEach((k, v) -> {
            if (keep.test(k)) out.put(k, v);
        });
        return new TreeMap<>(out);
    }

    private static String sha256(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[65536];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // Linux's encoding of dev_t (glibc gnu_dev_major/minor).
    private static long major(long dev) {
        return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
    }

    private static long minor(long dev) {
        return (dev & 0xff) | ((dev >>> 12) & ~0xffL);
    }
}
