package skiff.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Bytes appended into native memory, in chunks, and read back in order: a buffer outside the Java heap, for data that
 * may be large and lives briefly (a layer inflated ahead). One writer, then one reader, handed over with a
 * happens-before edge (a thread join); {@link #close} frees everything.
 */
public final class NativeChunks implements AutoCloseable {
    private static final int CHUNK = 4 << 20;

    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> chunks = new ArrayList<>();
    private MemorySegment last;
    private long lastFill;
    private long size;
    private int readIndex;
    private long readPos;

    /** Bytes appended so far. */
    public long size() {
        return size;
    }

    public void append(byte[] b, int off, int len) {
        while (len > 0) {
            if (last == null || lastFill == CHUNK) {
                last = arena.allocate(CHUNK);
                chunks.add(last);
                lastFill = 0;
            }
            int n = (int) Math.min(len, CHUNK - lastFill);
            MemorySegment.copy(b, off, last, ValueLayout.JAVA_BYTE, lastFill, n);
            lastFill += n;
            size += n;
            off += n;
            len -= n;
        }
    }

    /** Up to {@code len} of the bytes not read yet; -1 once all are read. */
    public int read(byte[] b, int off, int len) {
        if (len == 0) return 0;
        long have = chunkSize(readIndex) - readPos;
        while (have == 0 && readIndex + 1 < chunks.size()) {
            readIndex++;
            readPos = 0;
            have = chunkSize(readIndex);
        }
        if (have <= 0) return -1;
        int n = (int) Math.min(len, have);
        MemorySegment.copy(chunks.get(readIndex), ValueLayout.JAVA_BYTE, readPos, b, off, n);
        readPos += n;
        return n;
    }

    /** Skips up to {@code n} of the bytes not read yet. */
    public long skip(long n) {
        long done = 0;
        while (done < n) {
            long have = chunkSize(readIndex) - readPos;
            if (have == 0) {
                if (readIndex + 1 >= chunks.size()) break;
                readIndex++;
                readPos = 0;
                continue;
            }
            long s = Math.min(n - done, have);
            readPos += s;
            done += s;
        }
        return done;
    }

    private long chunkSize(int i) {
        if (i >= chunks.size()) return 0;
        return i == chunks.size() - 1 ? lastFill : CHUNK;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
