package skiff.container;

import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
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
