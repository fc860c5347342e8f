package skiff.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Advisory whole-file locks (fcntl via {@link FileChannel#lock}) for cross-process safety. A lock that another
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

    /** The lock, or null while another process or another thread of this JVM holds it. */
    private static FileLock tryLock(FileChannel ch, boolean shared) throws IOException {
        try {
            return ch.tryLock(0, Long.MAX_VALUE, shared);
        } catch (java.nio.channels.OverlappingFileLockException heldInThisJvm) {
            return null;
        }
    }

    /** The longest pause between two tries: what a waiter may lose after the lock is released. */
    static final long MAX_PAUSE_MS = 50;

    /**
     * Blocks in FileChannel.lock (F_SETLKW), which the kernel shows as a waiter in /proc/locks. Two cases make it
     * fail without anything being wrong, and neither can be told apart by type: fcntl's deadlock detection counts
     * a whole process as one owner, so two processes whose independent threads wait on each other's locks get a
     * false EDEADLK (Java reports it only as message text); and another thread of this JVM holding the lock gives
     * OverlappingFileLockException instead of a wait. So after any failure the lock is waited for by trying it
     * (F_SETLK), which has no deadlock detection; a real error (ENOLCK, EBADF) fails the try as well and is thrown.
     */
    private static Held acquire(Path lockFile, boolean shared) throws IOException {
        Files.createDirectories(lockFile.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        try {
            try {
                return new Held(ch, ch.lock(0, Long.MAX_VALUE, shared));
            } catch (IOException | java.nio.channels.OverlappingFileLockException notNow) {
                for (long pause = 1; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
                    FileLock l = tryLock(ch, shared);
                    if (l != null) return new Held(ch, l);
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
