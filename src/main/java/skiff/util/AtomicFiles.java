package skiff.util;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * Writes that are never seen half-done: data goes to a temporary sibling (same directory, so the
 * rename is atomic on POSIX), is fsync'ed, then renamed over the target.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    @FunctionalInterface
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    /** A temporary path next to {@code target}; names start with ".tmp-" so cleanup can find leftovers. */
    public static Path tempSibling(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        return createTemp(dir, ".tmp-" + target.getFileName() + "-", "");
    }

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    /**
     * A new empty file with an unpredictable name, created O_EXCL with the process umask applied, unlike
     * {@link Files#createTempFile}, which forces 0600: what skiff writes (saved archives, images, blobs
     * of a store shared by a group) must end up with the permissions users expect of any other tool.
     */
    public static Path createTemp(Path dir, String prefix, String suffix) throws IOException {
        for (int i = 0; ; i++) {
            Path p = dir.resolve(prefix + Long.toUnsignedString(RANDOM.nextLong(), 36) + suffix);
            try {
                return Files.createFile(p);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (i > 100) throw e;
            }
        }
    }

    public static void write(Path target, byte[] data) throws IOException {
        write(target, out -> out.write(data), null);
    }

    public static void write(Path target, Writer writer) throws IOException {
        write(target, writer, null);
    }

    /** Writes atomically; {@code perms} (may be null) are applied before the rename, e.g. 0600 for secrets. */
    public static void write(Path target, Writer writer, Set<PosixFilePermission> perms) throws IOException {
        Path tmp = tempSibling(target);
        try {
            if (perms != null) Files.setPosixFilePermissions(tmp, perms);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                writer.write(out);
                out.flush();
                ch.force(true);
            }
            commit(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Renames a fully written temporary file over its target. */
    public static void commit(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename atomically into " + target.getParent() + ": " + e.getMessage(), e);
        }
    }
}
