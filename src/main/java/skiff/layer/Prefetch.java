package skiff.layer;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Runs a producer of file contents (a layer being inflated and parsed) on a reader thread ahead of the consumer (the
 * sink, cutting and compressing blocks), through a bounded queue of chunks (at most 64 x 256 KiB), so that inflating
 * overlaps with writing. Files come out in the order the producer hands them over.
 */
final class Prefetch {
    private Prefetch() {}

    /** Hands over files, each with exactly {@code size} bytes of content (read by the callee before it returns). */
    @FunctionalInterface
    interface Files<T> {
        void file(T tag, long size, InputStream content) throws IOException;
    }

    /** Produces files on the reader thread. */
    @FunctionalInterface
    interface Producer<T> {
        void run(Files<T> out) throws IOException;
    }

    private static final int CHUNK = 256 << 10;
    private static final Object END = new Object();

    private record Start(Object tag, long size) {}

    /** {@code length} bytes of content at the start of {@code data}, a buffer of the reader's pool. */
    private record Chunk(byte[] data, int length) {}

    /**
     * Runs {@code producer} on a reader thread and hands each of its files to {@code consumer} on this one. The first
     * failure of either side stops both and is thrown here as it was.
     */
    @SuppressWarnings("unchecked")
    static <T> void run(String threadName, Producer<T> producer, Files<T> consumer) throws IOException {
        BlockingQueue<Object> q = new ArrayBlockingQueue<>(64);
        // Buffers the consumer is done with, for the reader to fill again: a layer's content passes through the same
        // ~17 MiB instead of a fresh 256 KiB array per chunk for the young collector to copy and the JVM to zero.
        BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(68);
        Thread reader = Thread.ofPlatform().daemon().name(threadName).start(() -> {
            try {
                producer.run((tag, size, content) -> {
                    try {
                        q.put(new Start(tag, size));
                        for (long left = size; left > 0; ) {
                            int n = (int) Math.min(CHUNK, left);
                            byte[] buf = free.poll();
                            if (buf == null) buf = new byte[CHUNK];
                            int got = content.readNBytes(buf, 0, n);
                            if (got == 0) throw new java.io.EOFException("short read");
                            q.put(new Chunk(buf, got));
                            left -= got;
                        }
                    } catch (InterruptedException stop) {
                        throw new java.io.InterruptedIOException();
                    }
                });
                q.put(END);
            } catch (InterruptedException | java.io.InterruptedIOException stop) {
                // the consumer gave up
            } catch (Throwable t) {
                try {
                    q.put(t);
                } catch (InterruptedException ignored) {
                    // the consumer gave up
                }
            }
        });
        try {
            for (Object o; (o = take(q)) != END; ) {
                Start s = (Start) o;
                ChunkStream content = new ChunkStream(q, free, s.size());
                consumer.file((T) s.tag(), s.size(), content);
                content.drain();
            }
        } finally {
            reader.interrupt();
            try {
                reader.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The next item, rethrowing the reader's failure as it was. */
    private static Object take(BlockingQueue<Object> q) throws IOException {
        Object o;
        try {
            o = q.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while reading a layer");
        }
        if (o instanceof IOException e) throw e;
        if (o instanceof RuntimeException e) throw e;
        if (o instanceof Error e) throw e;
        return o;
    }

    /** Exactly {@code size} bytes from the reader's chunks; each chunk read to its end goes back to {@code free}. */
    private static final class ChunkStream extends InputStream {
        private final BlockingQueue<Object> q;
        private final BlockingQueue<byte[]> free;
        private long left;
        private Chunk chunk = new Chunk(new byte[0], 0);
        private int pos;

        ChunkStream(BlockingQueue<Object> q, BlockingQueue<byte[]> free, long size) {
            this.q = q;
            this.free = free;
            this.left = size;
        }

        private boolean fill() throws IOException {
            if (left <= 0) return false;
            if (pos < chunk.length()) return true;
            chunk = (Chunk) take(q);
            pos = 0;
            return true;
        }

        /** Hands the chunk back once read to its end (a file's chunks are never shared with the next file). */
        private void consumed(int n) {
            pos += n;
            left -= n;
            if (pos == chunk.length() && chunk.data().length > 0) free.offer(chunk.data());
        }

        @Override
        public int read() throws IOException {
            if (!fill()) return -1;
            int b = chunk.data()[pos] & 0xff;
            consumed(1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) return 0;
            if (!fill()) return -1;
            int n = (int) Math.min(Math.min(len, chunk.length() - pos), left);
            System.arraycopy(chunk.data(), pos, b, off, n);
            consumed(n);
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            if (n <= 0 || !fill()) return 0;
            int s = (int) Math.min(Math.min(n, chunk.length() - pos), left);
            consumed(s);
            return s;
        }

        @Override
        public int available() {
            return (int) Math.min(left, chunk.length() - pos);
        }

        /** The sink stopped early: drop the rest so the next file starts at its own chunks. */
        void drain() throws IOException {
            while (left > 0 && skip(left) > 0) {
                // chunk by chunk, without copying
            }
        }
    }
}
