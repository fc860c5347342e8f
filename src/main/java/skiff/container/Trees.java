package skiff.container;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

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
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** Whole-tree operations on root filesystems: copy, delete, measure. Never follow symlinks. */
final class Trees {
    private Trees() {}

    /**
     * Copies {@code src} to the new directory {@code dst} (which must not exist) keeping modes, times,
     * links, xattrs, hard links and, as root, owners. GNU cp does it best: reflinks on Btrfs/XFS make it
     * nearly free, sparse files stay sparse. As an ordinary user cp silently gives up ownership, which is
     * what we want: the copy belongs to the user.
     */
    static void copy(Path src, Path dst) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("cp", "-a", "--reflink=auto", "--no-target-directory", src.toString(), dst.toString())
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "cannot run 'cp' to copy a root filesystem: " + e.getMessage()
                    + " (install GNU coreutils)", e);
        }
        String out = new String(p.getInputStream().readNBytes(64 * 1024)).strip();
        try {
            if (!p.waitFor(24, TimeUnit.HOURS) || p.exitValue() != 0) {
                throw new SkiffException(ExitCode.STORAGE, "copying " + src + " to " + dst + " failed: "
                        + (out.isEmpty() ? "cp exited " + p.exitValue() : out.lines().findFirst().orElse(""))
                        + " (check free space and permissions under " + dst.getParent() + ")");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while copying " + src, e);
        }
    }

    /**
     * Deletes a tree. Images may contain directories without write permission (an ordinary user then
     * cannot remove their entries), so directories are made writable on the way down.
     */
    static void delete(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                makeWritable(dir);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) return FileVisitResult.CONTINUE;
                if (exc instanceof AccessDeniedException && Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
                    // Not readable: fix the mode and descend after all.
                    makeWritable(file);
                    delete(file);
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
    }

    private static void makeWritable(Path dir) throws IOException {
        Set<PosixFilePermission> perms = new HashSet<>(Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS));
        if (perms.addAll(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE)))
            Files.setPosixFilePermissions(dir, perms);
    }

    /** Bytes allocated on disk by the tree (hard links counted once), as du reports. */
    static long diskUsage(Path root) throws IOException {
        long[] total = {0};
        Set<Object> seen = new HashSet<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (attrs.isRegularFile() && attrs.fileKey() != null && !seen.add(attrs.fileKey())) return FileVisitResult.CONTINUE;
                total[0] += attrs.size();
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) {
                return FileVisitResult.CONTINUE;
            }
        });
        return total[0];
    }
}
