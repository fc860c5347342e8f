package skiff.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Advisory whole-file locks (fcntl/flock via {@link FileChannel#lock}) for cross-process safety.
 * Java's locks are per-JVM too: a second lock on the same file in one JVM throws
 * OverlappingFileLockException, so callers hold one lock per file per process.
 */
public final class Locks {
    private Locks() {}

    /** An acquired lock; close() releases it. */
    public record Held(FileChannel channel, FileLock lock) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try {
                if (lock.isValid()) lock.release();
            } finally {
                channel.close();
            }
        }
    }

    public static Held exclusive(Path lockFile) throws IOException {
        return acquire(lockFile, false);
    }

    /**
     * As {@link #exclusive(Path)}, but when another process holds the lock, first calls {@code onWait} with
     * that process's pid (-1 when unknown) and then waits. The holder's pid is the file's content: each taker
     * writes its own once it holds the lock (fcntl's F_GETLK would say it too, but Java does not expose it).
     */
    public static Held exclusive(Path lockFile, java.util.function.LongConsumer onWait) throws IOException {
        Files.createDirectories(lockFile.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        Held held;
        try {
            FileLock l = ch.tryLock(0, Long.MAX_VALUE, false);
            held = l != null ? new Held(ch, l) : null;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (held == null) {
            ch.close();
            onWait.accept(holder(lockFile));
            held = acquire(lockFile, false);
        }
        try {
            byte[] pid = (ProcessHandle.current().pid() + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            held.channel().truncate(0);
            held.channel().write(java.nio.ByteBuffer.wrap(pid), 0);
        } catch (IOException e) {
            held.close();
            throw e;
        }
        return held;
    }

    /** The pid the lock file names, or -1. */
    static long holder(Path lockFile) {
        try {
            String s = Files.readString(lockFile, java.nio.charset.StandardCharsets.US_ASCII).strip();
            return s.matches("[0-9]{1,10}") ? Long.parseLong(s) : -1;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    public static Held shared(Path lockFile) throws IOException {
        return acquire(lockFile, true);
    }

    private static final long DEADLOCK_PATIENCE_MS = 600_000;

    static boolean isDeadlockReport(IOException e) {
        return e.getMessage() != null && e.getMessage().contains("deadlock");
    }

    private static Held acquire(Path lockFile, boolean shared) throws IOException {
        Files.createDirectories(lockFile.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        try {
            for (long waitedMs = 0, pause = 5; ; waitedMs += pause, pause = Math.min(pause * 2, 200)) {
                try {
                    return new Held(ch, ch.lock(0, Long.MAX_VALUE, shared));
                } catch (IOException e) {
                    // FileChannel.lock is a POSIX fcntl lock, whose deadlock detection counts a whole process
                    // as one owner: two processes whose independent threads wait on each other's locks get
                    // a false EDEADLK. The other thread finishes soon, so wait and try again.
                    if (!isDeadlockReport(e) || waitedMs > DEADLOCK_PATIENCE_MS) throw e;
                    Thread.sleep(pause);
                }
            }
        } catch (InterruptedException e) {
            ch.close();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for " + lockFile);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }
}
