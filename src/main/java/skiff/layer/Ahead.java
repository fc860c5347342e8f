package skiff.layer;

import skiff.sys.NativeChunks;

import java.io.IOException;
import java.io.InputStream;

/**
 * The next layer inflated ahead, on a thread of its own, while the one-pass flattening still reads the layer above it:
 * with cores to spare, two layers inflate at once instead of one after the other. What is inflated ahead is kept in
 * native memory (not the heap, which holds the tree), at most {@link #limit} bytes; past that the rest of the layer
 * streams on the reader's thread as usual, so a big layer costs no more memory than that.
 */
final class Ahead implements AutoCloseable {
    /** Native memory one layer inflated ahead may take; tests lower it. */
    static volatile long limit = LayerStreams.INFLATE_MEMORY / 2;

    private final LayerSource layer;
    private final LayerStreams.Budget budget;
    private final long max = limit;
    private final NativeChunks data = new NativeChunks();
    private final Thread thread;
    private volatile boolean stop;
    private InputStream source;
    private boolean ended;
    private Throwable failure;
    private boolean closed;

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
            // Checked between reads of at most 1 MiB: the limit may be passed by less than that.
            while (data.size() < max && !stop) {
                int n = in.read(buf, 0, buf.length);
                if (n < 0) {
                    ended = true;
                    return;
                }
                data.append(buf, 0, n);
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
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = data.read(b, off, len);
                if (n != -1) return n;
                return ended ? -1 : source.read(b, off, len);
            }

            @Override
            public long skip(long n) throws IOException {
                long s = data.skip(n);
                if (s > 0 || n <= 0 || ended) return s;
                return source.skip(n);
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
        if (closed) return;
        stop = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closed = true;
        data.close();
        if (source != null) source.close();
    }
}
