package skiff.util;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/** Removal of whole trees (root filesystems, containers, caches), the one implementation every stage uses. */
public final class FileTrees {
    private FileTrees() {}

    private static final Set<PosixFilePermission> OWNER_RWX =
            Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

    /**
     * Deletes a file or a directory tree and returns the bytes of regular files removed. Image root
     * filesystems contain read-only (0555) and even unreadable directories, which an ordinary owner cannot
     * empty as they are, so the owner's rwx bits are restored on the way down. Symbolic links are removed,
     * never followed. A tree that vanishes meanwhile (a concurrent removal) is not an error.
     */
    public static long delete(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return 0;
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            long size = Files.isRegularFile(root, LinkOption.NOFOLLOW_LINKS) ? sizeOrZero(root) : 0;
            Files.deleteIfExists(root);
            return size;
        }
        long[] bytes = {0};
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                makeOwnerAccessible(dir);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) bytes[0] += attrs.size();
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
                if (exc instanceof AccessDeniedException && Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
                    // An unreadable directory cannot be listed: fix its mode, then descend after all.
                    makeOwnerAccessible(file);
                    bytes[0] += delete(file);
                    return FileVisitResult.CONTINUE;
                }
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) throw exc;
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
        return bytes[0];
    }

    private static void makeOwnerAccessible(Path dir) throws IOException {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
            if (!perms.containsAll(OWNER_RWX)) {
                var more = java.util.EnumSet.copyOf(perms.isEmpty() ? OWNER_RWX : perms);
                more.addAll(OWNER_RWX);
                Files.setPosixFilePermissions(dir, more);
            }
        } catch (NoSuchFileException e) {
            // removed concurrently
        }
    }

    private static long sizeOrZero(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }
}
