package skiff.rootfs;

import skiff.layer.TreeSink;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Writes a flattened tree as a plain directory, owned by the invoking user (no chown: an unprivileged user
 * cannot, and a root-run conversion must not plant other users' files), as Charliecloud and enroot do.
 *
 * <p>Permission bits are kept with two changes: the owner may always read and write (and enter)
 * everything, so the tree can be used and removed without privilege; files lose setuid/setgid, which
 * would otherwise make the copies set-id to whoever converted them. Directory modes and all mtimes are
 * applied at {@link #finish()}, once nothing more is written into the directories.
 *
 * <p>Only {@code user.*} extended attributes can be set unprivileged; others (security.capability,
 * trusted.*) are skipped with one warning. Device nodes, FIFOs and sockets are skipped with one warning
 * naming the count (creating them needs privilege or mknod, which the JDK lacks; SquashFS keeps them).
 *
 * <p>The tree handed over is already validated, but the sink is defensive anyway: every entry's parent
 * must be a directory this sink created, files are created exclusively without following links, so no
 * write can land outside {@code root}.
 */
public final class DirectorySink implements TreeSink {
    private final Path root;
    private final Consumer<String> warnings;
    private final Set<String> dirs = new HashSet<>();
    /** Directories made for a file that came before them, not named yet. */
    private final Set<String> made = new HashSet<>();
    private final List<Pending> pending = new ArrayList<>();
    private int skippedSpecials;
    private int skippedXattrs;

    private record Pending(Path path, Metadata meta) {}

    /** {@code root} must be an empty directory, or not exist yet (its parent must). */
    public DirectorySink(Path root, Consumer<String> warnings) throws IOException {
        this.root = root.toAbsolutePath();
        this.warnings = warnings;
        if (!Files.isDirectory(this.root, LinkOption.NOFOLLOW_LINKS)) Files.createDirectory(this.root);
        try (var s = Files.list(this.root)) {
            if (s.findAny().isPresent()) throw new IOException(root + " is not empty");
        }
    }

    private Path place(String path) throws IOException {
        if (path.isEmpty() || path.startsWith("/") || path.contains("\0"))
            throw new IOException("invalid path '" + path + "' handed to the directory writer");
        int slash = path.lastIndexOf('/');
        String parent = slash < 0 ? "" : path.substring(0, slash);
        String name = path.substring(slash + 1);
        if (name.equals(".") || name.equals("..") || !dirs.contains(parent))
            throw new IOException("refusing to write '" + path + "': its parent is not a directory written by skiff");
        return root.resolve(path);
    }

    /**
     * Where a file goes when it may come before its directories (a one-pass flattening): the missing ones are made
     * now, as the owner's, and named later by {@link #directory}. Only names this sink made are ever followed, and
     * no symbolic link exists before the last directory is named, so nothing lands outside {@code root}.
     */
    private Path placeFile(String path) throws IOException {
        int slash = path.lastIndexOf('/');
        String parent = slash < 0 ? "" : path.substring(0, slash);
        if (!dirs.contains(parent)) {
            if (dirs.add("")) made.add(""); // the root itself exists already: the constructor made it
            int from = 0;
            while (!parent.isEmpty()) {
                int i = parent.indexOf('/', from);
                String p = i < 0 ? parent : parent.substring(0, i);
                if (!dirs.contains(p)) {
                    Files.createDirectory(place(p));
                    dirs.add(p);
                    made.add(p);
                }
                if (i < 0) break;
                from = i + 1;
            }
        }
        return place(path);
    }

    @Override
    public void directory(String path, Metadata meta) throws IOException {
        if (path.isEmpty()) {
            if (!made.remove("") && !dirs.add("")) throw new IOException("the root directory was named twice");
            pending.add(new Pending(root, meta));
            return;
        }
        Path p = place(path);
        if (!made.remove(path)) {
            Files.createDirectory(p);
            dirs.add(path);
        }
        xattrs(p, meta);
        pending.add(new Pending(p, meta));
    }

    @Override
    public void file(String path, Metadata meta, long size, InputStream content) throws IOException {
        Path p = placeFile(path);
        int mode = (meta.mode() | 0600) & ~06000 & 07777;
        // Created with its final mode when the umask leaves it intact (the common 0644/0755 under umask
        // 022): one chmod, i.e. an open+fchmod+close, less per file.
        boolean exact = (mode & UMASK) == 0 && (mode & 07000) == 0;
        var attrs = exact
                ? new java.nio.file.attribute.FileAttribute<?>[] {java.nio.file.attribute.PosixFilePermissions.asFileAttribute(perms(mode))}
                : new java.nio.file.attribute.FileAttribute<?>[0];
        try (FileChannel ch = FileChannel.open(p, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS), attrs)) {
            if (size > 0) {
                OutputStream out = Channels.newOutputStream(ch);
                long n = content.transferTo(out);
                if (n != size) throw new IOException("'" + path + "' gave " + n + " bytes, expected " + size);
            } else {
                ch.write(ByteBuffer.allocate(0));
            }
        }
        xattrs(p, meta);
        if (!exact) Files.setAttribute(p, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        times(p, meta);
    }

    @Override
    public void symlink(String path, Metadata meta, String target) throws IOException {
        Path p = place(path);
        Files.createSymbolicLink(p, Path.of(target));
        times(p, meta);
    }

    @Override
    public void special(String path, Metadata meta, SpecialType type, int major, int minor) throws IOException {
        place(path);
        skippedSpecials++;
    }

    @Override
    public void hardlink(String path, String target) throws IOException {
        Path p = place(path);
        Path t = place(target);
        if (!Files.isRegularFile(t, LinkOption.NOFOLLOW_LINKS))
            throw new IOException("hard link '" + path + "' names '" + target + "', which is not a file written before");
        Files.createLink(p, t);
    }

    /** Removes what was written: the flattener starts over (in two passes). */
    @Override
    public void restart() throws IOException {
        try (var s = Files.list(root)) {
            for (Path p : (Iterable<Path>) s::iterator) skiff.util.FileTrees.delete(p);
        }
        dirs.clear();
        made.clear();
        pending.clear();
        skippedSpecials = 0;
        skippedXattrs = 0;
    }

    @Override
    public void finish() throws IOException {
        if (!made.isEmpty()) throw new IOException("directory '" + made.iterator().next() + "' holds files but was never named");
        // Deepest first is not needed for modes (the owner keeps rwx), but mtimes must be set after the
        // last write into each directory, which is now.
        for (int i = pending.size() - 1; i >= 0; i--) {
            Pending d = pending.get(i);
            Files.setAttribute(d.path(), "unix:mode", (d.meta().mode() | 0700) & 07777, LinkOption.NOFOLLOW_LINKS);
            times(d.path(), d.meta());
        }
        if (skippedSpecials > 0)
            warnings.accept("skipped " + skippedSpecials + " device node(s), FIFO(s) or socket(s): a directory root filesystem"
                    + " cannot hold them without privilege (use --format squashfs to keep them)");
        if (skippedXattrs > 0)
            warnings.accept("skipped " + skippedXattrs + " extended attribute(s) outside the user.* namespace, which only"
                    + " privileged users may set");
    }

    private void xattrs(Path p, Metadata meta) throws IOException {
        if (meta.xattrs().isEmpty()) return;
        UserDefinedFileAttributeView view = null;
        for (Map.Entry<String, byte[]> x : meta.xattrs().entrySet()) {
            if (!x.getKey().startsWith("user.")) {
                skippedXattrs++;
                continue;
            }
            if (view == null) view = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
            try {
                view.write(x.getKey().substring("user.".length()), ByteBuffer.wrap(x.getValue()));
            } catch (IOException | UnsupportedOperationException e) {
                skippedXattrs++; // e.g. a file system without user xattrs (tmpfs before 6.6)
            }
        }
    }

    /** The process umask, from /proc (Linux 4.7+); all bits set (always chmod) when unknown. */
    private static final int UMASK = readUmask();

    private static int readUmask() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("Umask:")) return Integer.parseInt(l.substring(6).strip(), 8);
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        return 0777;
    }

    private static Set<java.nio.file.attribute.PosixFilePermission> perms(int mode) {
        var out = java.util.EnumSet.noneOf(java.nio.file.attribute.PosixFilePermission.class);
        var all = java.nio.file.attribute.PosixFilePermission.values(); // OWNER_READ .. OTHERS_EXECUTE = 0400 .. 0001
        for (int i = 0; i < 9; i++) if ((mode & (0400 >> i)) != 0) out.add(all[i]);
        return out;
    }

    private static void times(Path p, Metadata meta) throws IOException {
        FileTime t = FileTime.fromMillis(meta.mtimeSeconds() * 1000);
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setTimes(t, t, null);
    }
}
