package skiff.layer;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The next layer inflated ahead, on a thread of its own, while the one-pass flattening still reads the layer above it:
 * with cores to spare, two layers inflate at once instead of one after the other. What is inflated ahead is kept in
 * native memory (not the heap, which holds the tree), at most {@link #limit} bytes; past that the rest of the layer
 * streams on the reader's thread as usual, so a big layer costs no more memory than that.
 */
final class Ahead implements AutoCloseable {
    /** Native memory one layer inflated ahead may take; tests lower it. */
    static volatile long limit = LayerStreams.INFLATE_MEMORY / 2;

    private static final int CHUNK = 4 << 20;

    private final LayerSource layer;
    private final LayerStreams.Budget budget;
    private final long max = limit;
    private final Arena arena = Arena.ofShared();
    private final List<MemorySegment> chunks = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stop;
    private InputStream source;
    private boolean ended;
    private Throwable failure;

    Ahead(LayerSource layer, LayerStreams.Budget budget) {
        this.layer = layer;
        this.budget = budget;
        this.thread = Thread.ofPlatform().daemon().name("skiff-layer-ahead").start(this::fill);
    }

    private void fill() {
        try {
            InputStream in = LayerStreams.open(layer, budget);
            source = in;
            byte[] buf = new byte[1 << 20];
            for (long total = 0; total < max && !stop; ) {
                MemorySegment seg = arena.allocate(CHUNK);
                int filled = 0;
                while (filled < CHUNK) {
                    int n = in.read(buf, 0, Math.min(buf.length, CHUNK - filled));
                    if (n < 0) {
                        ended = true;
                        break;
                    }
                    MemorySegment.copy(buf, 0, seg, ValueLayout.JAVA_BYTE, filled, n);
                    filled += n;
                }
                if (filled > 0) chunks.add(seg.asSlice(0, filled));
                total += filled;
                if (ended) break;
            }
        } catch (Throwable t) {
            failure = t;
        }
    }

    /**
     * The layer's decompressed stream: what was inflated ahead, then the rest from where the other thread stopped.
     * Waits for that thread (which was doing this work anyway); its failure is thrown here as it was. Closing the
     * stream frees the memory.
     */
    InputStream stream() throws IOException {
        join();
        if (failure != null) {
            close();
            switch (failure) {
                case IOException e -> throw e;
                case RuntimeException e -> throw e;
                case Error e -> throw e;
                default -> throw new IOException(failure);
            }
        }
        return new InputStream() {
            private int index;
            private long pos;

            private MemorySegment current() {
                while (index < chunks.size() && pos == chunks.get(index).byteSize()) {
                    index++;
                    pos = 0;
                }
                return index < chunks.size() ? chunks.get(index) : null;
            }

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) return 0;
                MemorySegment seg = current();
                if (seg == null) return ended ? -1 : source.read(b, off, len);
                int n = (int) Math.min(len, seg.byteSize() - pos);
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, off, n);
                pos += n;
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                if (n <= 0) return 0;
                MemorySegment seg = current();
                if (seg == null) return ended ? 0 : source.skip(n);
                long s = Math.min(n, seg.byteSize() - pos);
                pos += s;
                return s;
            }

            @Override
            public void close() throws IOException {
                Ahead.this.close();
            }
        };
    }

    private void join() throws IOException {
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stop = true;
            throw new java.io.InterruptedIOException("interrupted while inflating layer " + layer.name());
        }
    }

    /** Stops the inflation if it still runs (the flattening ended early) and frees the memory. */
    @Override
    public void close() throws IOException {
        stop = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!arena.scope().isAlive()) return;
        arena.close();
        if (source != null) source.close();
    }
}
