package skiff.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Advisory whole-file locks (fcntl via {@link FileChannel#tryLock}) for cross-process safety. A lock that another
 * thread of this JVM holds is waited for like one held by another process (Java reports it as
 * OverlappingFileLockException rather than waiting), so callers need no in-process lock of their own. A thread
 * must not take a lock it already holds: it would wait for itself.
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
            FileLock l = tryLock(ch, false);
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

    /** The longest pause between two tries: what a waiter may lose after the lock is released. */
    static final long MAX_PAUSE_MS = 50;

    /**
     * Waits for the lock by trying it (F_SETLK), never by blocking in F_SETLKW: fcntl's deadlock detection counts
     * a whole process as one owner, so two processes whose independent threads wait on each other's locks got a
     * false EDEADLK, which Java reports only as message text. A non-blocking try has no deadlock detection to
     * trip over.
     */
    /** The lock, or null while another process or another thread of this JVM holds it. */
    private static FileLock tryLock(FileChannel ch, boolean shared) throws IOException {
        try {
            return ch.tryLock(0, Long.MAX_VALUE, shared);
        } catch (java.nio.channels.OverlappingFileLockException heldInThisJvm) {
            return null;
        }
    }

    private static Held acquire(Path lockFile, boolean shared) throws IOException {
        Files.createDirectories(lockFile.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        try {
            for (long pause = 1; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
                FileLock l = tryLock(ch, shared);
                if (l != null) return new Held(ch, l);
                Thread.sleep(pause);
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
