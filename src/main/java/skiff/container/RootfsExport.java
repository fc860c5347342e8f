package skiff.container;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a root filesystem directory as a plain (uncompressed) POSIX tar, as {@code docker export} does:
 * paths relative to the root without a leading "./" (directories end in '/'), numeric owners only,
 * hard links as link entries, whole-second times, entries sorted by name so the same tree gives the same bytes.
 *
 * <p>Ownership: a container's files belong to the user who created it, and inside the container (whose
 * user namespace maps that user to root) they appear as root's. The tar records what the container sees:
 * files owned by the exporting user (or group) are written as uid (gid) 0, as Docker's root-owned images
 * expect; other owners (only a root-created container has them) are kept. Of extended attributes
 * only user.* ones are exported (the JDK reads no others); sockets are not.
 */
public final class RootfsExport {
    private final Path root;
    private final int selfUid;
    private final int selfGid;
    private final Map<Object, String> firstNameOfInode = new HashMap<>();
    private int skipped;
    private int skippedXattrs;

    private RootfsExport(Path root, int selfUid, int selfGid) {
        this.root = root;
        this.selfUid = selfUid;
        this.selfGid = selfGid;
    }

    /** What could not be exported: sockets, and user xattrs whose values are not text. */
    public record Skipped(int sockets, int xattrs) {
        public String warning() {
            if (sockets == 0 && xattrs == 0) return null;
            return (sockets > 0 ? sockets + " socket(s)" : "") + (sockets > 0 && xattrs > 0 ? " and " : "")
                    + (xattrs > 0 ? xattrs + " binary extended attribute(s)" : "") + " left out of the archive";
        }
    }

    /** Writes {@code root} as tar to {@code out} (not closed). */
    public static Skipped write(Path root, OutputStream out) throws IOException {
        // /proc/self belongs to the process's effective uid and gid: a portable way to learn them without FFM.
        Path self = Path.of("/proc/self");
        RootfsExport e = new RootfsExport(root, (Integer) Files.getAttribute(self, "unix:uid"),
                (Integer) Files.getAttribute(self, "unix:gid"));
        TarArchiveOutputStream tar = new TarArchiveOutputStream(nonClosing(out), "UTF-8");
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
        e.directoryContents(root, "", tar);
        tar.finish();
        tar.close();
        return new Skipped(e.skipped, e.skippedXattrs);
    }

    private void directoryContents(Path dir, String prefix, TarArchiveOutputStream tar) throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        }
        children.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        for (Path p : children) {
            String name = prefix + p.getFileName();
            Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) a.get("mode");
            int type = mode & 0170000;
            TarArchiveEntry e;
            boolean content = false;
            switch (type) {
                case 0040000 -> e = new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
                case 0120000 -> {
                    e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                    e.setLinkName(Files.readSymbolicLink(p).toString());
                }
                case 0100000 -> {
                    String first = (Integer) a.get("nlink") > 1 ? firstNameOfInode.putIfAbsent(a.get("fileKey"), name) : null;
                    if (first != null) {
                        e = new TarArchiveEntry(name, TarConstants.LF_LINK);
                        e.setLinkName(first);
                    } else {
                        e = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
                        e.setSize((Long) a.get("size"));
                        content = true;
                    }
                }
                case 0020000, 0060000 -> {
                    e = new TarArchiveEntry(name, type == 0020000 ? TarConstants.LF_CHR : TarConstants.LF_BLK);
                    long rdev = (Long) a.get("rdev");
                    // glibc's gnu_dev_major/minor encoding of dev_t.
                    e.setDevMajor((int) (((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL)));
                    e.setDevMinor((int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xffL)));
                }
                case 0010000 -> e = new TarArchiveEntry(name, TarConstants.LF_FIFO);
                default -> {
                    skipped++;
                    continue;
                }
            }
            int uid = (Integer) a.get("uid");
            int gid = (Integer) a.get("gid");
            e.setIds(uid == selfUid ? 0 : uid, gid == selfGid ? 0 : gid);
            e.setUserName("");
            e.setGroupName("");
            e.setMode(mode & 07777);
            // Whole seconds, as ustar holds them: sub-second times would cost a PAX header per entry, and
            // a tree unpacked from the tar would no longer export to the same bytes.
            e.setModTime(((FileTime) a.get("lastModifiedTime")).to(java.util.concurrent.TimeUnit.SECONDS) * 1000);
            if (type == 0100000 || type == 0040000) userXattrs(p, e);
            tar.putArchiveEntry(e);
            if (content) {
                try (InputStream in = Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS)) {
                    long copied = in.transferTo(new BoundedOut(tar, e.getSize()));
                    if (copied != e.getSize()) throw new IOException(p + " changed size while it was exported");
                }
            }
            tar.closeArchiveEntry();
            if (type == 0040000) directoryContents(p, name + "/", tar);
        }
    }

    /**
     * user.* extended attributes as GNU tar and the OCI layer convention write them (PAX SCHILY.xattr.*).
     * Only these are readable through the JDK; values that are not UTF-8 text are left out, because PAX
     * header values are written as UTF-8.
     */
    private void userXattrs(Path p, TarArchiveEntry e) {
        var view = Files.getFileAttributeView(p, java.nio.file.attribute.UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view == null) return;
        try {
            for (String n : view.list()) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(view.size(n));
                view.read(n, b);
                b.flip();
                try {
                    String v = java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(b).toString();
                    e.addPaxHeader("SCHILY.xattr.user." + n, v);
                } catch (java.nio.charset.CharacterCodingException notText) {
                    skippedXattrs++;
                }
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // the file system has no user xattrs
        }
    }

    /** Refuses to write past a file's announced size (it grew while being read) instead of corrupting the tar. */
    private static final class BoundedOut extends OutputStream {
        private final OutputStream out;
        private long left;

        BoundedOut(OutputStream out, long size) {
            this.out = out;
            this.left = size;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len > left) throw new IOException("a file grew while it was exported");
            out.write(b, off, len);
            left -= len;
        }
    }

    /** {@code out} with close() reduced to flush(), for wrappers that must be closed to finish. */
    static OutputStream nonClosing(OutputStream out) {
        return new java.io.FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                out.flush();
            }
        };
    }
}
