package skiff.layer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Inflated layers written to disk by the headers pass for the content pass, so a layer that does not stay in memory
 * is still inflated only once: writing it to the page cache and reading it back costs less than inflating it again
 * (on the 2-core bench VM the flattener takes 0.87x the CPU, bench/RESULTS.md; the JDK's zlib inflates ~250 MB/s).
 *
 * <p>Each layer gets its own temporary file, unlinked as soon as it is open: nothing is left behind by a crash or a
 * kill, and nobody else can open it. The spool never makes a conversion fail: a full disk, an I/O error or the space
 * cap only mean the layer is inflated again. The cap is half the space free when the conversion starts, so the
 * image being written keeps the other half.
 */
final class Spool {
    private static final int BUFFER = 1 << 20;
    /** Below this much free space nothing is spooled: the image itself needs the room. */
    private static final long MIN_FREE = 1L << 30;

    private final Path dir;
    private final long cap;
    private final AtomicLong used = new AtomicLong();

    private Spool(Path dir, long cap) {
        this.dir = dir;
        this.cap = cap;
    }

    /**
     * File systems reached over the network (HPC home and scratch directories often are): a gigabyte of spool would
     * cross the network twice, which costs more than inflating the layer again on the node.
     */
    private static final java.util.Set<String> NETWORK = java.util.Set.of("nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs",
            "smb3", "smbfs", "ceph", "glusterfs", "fuse.glusterfs", "fuse.sshfs", "fuse.ceph", "9p", "afs", "pvfs2", "orangefs",
            "panfs", "wekafs", "fuse.beegfs");

    /** A spool in {@code dir}, or null when there is no directory, too little room in it, or it is on the network. */
    static Spool in(Path dir) {
        if (dir == null) return null;
        try {
            java.nio.file.FileStore fs = Files.getFileStore(dir);
            if (NETWORK.contains(fs.type())) return null;
            long free = fs.getUsableSpace();
            return free < MIN_FREE ? null : new Spool(dir, free / 2);
        } catch (IOException | SecurityException e) {
            return null; // no spool: layers are inflated again, as without one
        }
    }

    private boolean reserve(long bytes) {
        for (long u; (u = used.get()) + bytes <= cap; ) if (used.compareAndSet(u, u + bytes)) return true;
        return false;
    }

    private void release(long bytes) {
        used.addAndGet(-bytes);
    }

    /** A new, empty spool file, or null when none can be made. */
    Writer writer() {
        if (used.get() >= cap) return null;
        try {
            Path p = Files.createTempFile(dir, ".skiff-spool-", ".tar");
            try {
                return new Writer(FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE));
            } finally {
                Files.deleteIfExists(p);
            }
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    /**
     * Fills one spool file, by writes or by libdeflate inflating straight into it; any failure abandons it quietly
     * (the layer is then inflated again).
     */
    final class Writer {
        private FileChannel ch;
        private ByteBuffer buf;
        private long size;

        private Writer(FileChannel ch) {
            this.ch = ch;
        }

        /**
         * Inflates a whole gzip layer into this (empty) file: {@link skiff.sys.LibdeflateGunzip#inflateInto}'s outcome.
         * Read errors of {@code compressed} and corrupt data are thrown; a full disk only means the layer streams.
         */
        skiff.sys.LibdeflateGunzip.Outcome inflate(InputStream compressed, long compressedSize, long maxOut,
                                                   skiff.sys.LibdeflateGunzip.WaitingAllowance memory) throws IOException, InterruptedException {
            if (ch == null || size != 0) return null;
            skiff.sys.LibdeflateGunzip.Allowance disk = new skiff.sys.LibdeflateGunzip.Allowance() {
                @Override
                public boolean reserve(long bytes) {
                    return Spool.this.reserve(bytes);
                }

                @Override
                public void release(long bytes) {
                    Spool.this.release(bytes);
                }
            };
            var outcome = skiff.sys.LibdeflateGunzip.inflateInto(compressed, compressedSize, maxOut, memory, ch, disk);
            if (outcome instanceof skiff.sys.LibdeflateGunzip.Written w) size = w.size();
            return outcome;
        }

        /** Writes a layer inflated in memory. */
        void write(skiff.sys.LibdeflateGunzip.Inflated data) {
            flush();
            if (ch == null) return;
            if (!reserve(data.size())) {
                abandon();
                return;
            }
            size += data.size();
            try {
                data.writeTo(ch);
            } catch (IOException e) {
                abandon();
            }
        }

        void write(byte[] b, int off, int len) {
            if (buf == null) buf = ByteBuffer.allocateDirect(BUFFER);
            while (ch != null && len > 0) {
                int n = Math.min(len, buf.remaining());
                buf.put(b, off, n);
                off += n;
                len -= n;
                if (!buf.hasRemaining()) flush();
            }
        }

        private void flush() {
            if (ch == null || buf == null || buf.position() == 0) return;
            buf.flip();
            if (!reserve(buf.remaining())) {
                abandon();
                return;
            }
            size += buf.remaining();
            try {
                while (buf.hasRemaining()) ch.write(buf);
                buf.clear();
            } catch (IOException e) {
                abandon();
            }
        }

        /** Gives up this file: its space goes back. */
        void abandon() {
            if (ch == null) return;
            try {
                ch.close();
            } catch (IOException ignored) {
                // unlinked already: closing frees it either way
            }
            ch = null;
            release(size);
            size = 0;
        }

        /** The complete layer, or null when the file was abandoned. */
        Layer finish(long compressedSize) {
            flush();
            if (ch == null) return null;
            Layer l = new Layer(ch, size, compressedSize);
            ch = null;
            return l;
        }
    }

    /** A layer's whole tar on disk; {@code compressedSize}: the bytes of blob it came from (the ratio guard's base). */
    final class Layer implements AutoCloseable {
        private final FileChannel ch;
        final long size, compressedSize;

        private Layer(FileChannel ch, long size, long compressedSize) {
            this.ch = ch;
            this.size = size;
            this.compressedSize = compressedSize;
        }

        /** The tar from its start; closing the stream leaves the layer open. */
        InputStream open() {
            return new InputStream() {
                private long pos;

                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    java.util.Objects.checkFromIndexSize(off, len, b.length);
                    if (len == 0) return 0;
                    if (pos >= size) return -1;
                    int n = ch.read(ByteBuffer.wrap(b, off, (int) Math.min(len, size - pos)), pos);
                    if (n <= 0) throw new IOException("a spooled layer ended early (the temporary file was truncated)");
                    pos += n;
                    return n;
                }

                /** Free: a file position moves. */
                @Override
                public long skip(long n) {
                    long s = Math.max(0, Math.min(n, size - pos));
                    pos += s;
                    return s;
                }

                @Override
                public int available() {
                    return (int) Math.min(Integer.MAX_VALUE, size - pos);
                }

            };
        }

        @Override
        public synchronized void close() {
            if (!ch.isOpen()) return;
            try {
                ch.close();
            } catch (IOException ignored) {
                // unlinked already: closing frees it either way
            }
            release(size);
        }
    }
}
