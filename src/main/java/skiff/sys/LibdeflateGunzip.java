package skiff.sys;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A whole gzip file (every member, as gzip -d and the JDK read them) inflated into memory by libdeflate. libdeflate
 * has no streaming interface, so the compressed bytes are read into memory first and the result is held until the
 * stream is closed; what both may cost is taken from an {@link Allowance} the caller bounds. Buffers are anonymous
 * mappings: pages cost memory only once written, so a generous output buffer costs only what the data fills, and
 * nothing is zeroed twice.
 */
public final class LibdeflateGunzip {
    private LibdeflateGunzip() {}

    /** Memory the caller lends to inflations; {@code reserve} says no instead of waiting. Thread-safe. */
    public interface Allowance {
        boolean reserve(long bytes);

        void release(long bytes);
    }

    /** The data does not inflate: a damaged or truncated gzip stream. */
    public static final class CorruptException extends IOException {
        CorruptException(String message) {
            super(message);
        }
    }

    private static final long SYS_MMAP = Native.AARCH64 ? 222 : 9, SYS_MUNMAP = Native.AARCH64 ? 215 : 11;
    private static final long PAGE = 4096;

    /** An anonymous private mapping of {@code size} bytes; null when the kernel refuses (overcommit limits). */
    private static MemorySegment map(long size) {
        try (Arena a = Arena.ofConfined()) {
            long addr = Native.call(a.allocate(Native.CAPTURE), SYS_MMAP, 0L, pages(size), 3L /* PROT_READ|WRITE */,
                    0x22L /* MAP_PRIVATE|MAP_ANONYMOUS */, -1L, 0L);
            // No MADV_HUGEPAGE: with THP defrag "madvise" the faults then compact memory, measured at 2-4 s more
            // system time per conversion than plain pages.
            return addr == -1 ? null : MemorySegment.ofAddress(addr).reinterpret(size);
        }
    }

    private static void unmap(MemorySegment m) {
        if (m == null) return;
        try (Arena a = Arena.ofConfined()) {
            Native.call(a.allocate(Native.CAPTURE), SYS_MUNMAP, m.address(), pages(m.byteSize()), 0L);
        }
    }

    private static long pages(long n) {
        return Math.max(PAGE, (n + PAGE - 1) & -PAGE);
    }

    /**
     * Reads all of {@code compressed} ({@code size} bytes expected) and inflates it, or returns null, having read part
     * of the stream, when it does not fit: more than {@code size} bytes, more than {@code maxOut} inflated, or not
     * enough allowance. Trailing bytes that do not start a gzip member are ignored, as the JDK and gzip do.
     *
     * @throws CorruptException when a member does not inflate
     */
    public static Inflated inflate(InputStream compressed, long size, long maxOut, Allowance allowance) throws IOException {
        if (size < 18 || maxOut <= 0 || !LibdeflateDecompressor.available()) return null; // 18: the smallest gzip member
        // A layer's tar is at least twice its gzip (text and binaries: 2.5-4x): one whose compressed size leaves
        // no room for twice as much again cannot fit, and is not read in vain.
        if (!allowance.reserve(pages(size) + pages(Math.min(maxOut, 2 * size)))) return null;
        allowance.release(pages(Math.min(maxOut, 2 * size)));
        MemorySegment in = null, out = null;
        long outReserved = 0;
        try {
            in = map(size);
            if (in == null) return null;
            if (!readFully(compressed, in, size)) return null;
            // The last member's ISIZE (its length mod 2^32) sizes the first try; it is only a hint: other members,
            // lengths past 4 GiB and hostile values are caught by libdeflate's bound on the output.
            long hint = Integer.toUnsignedLong(in.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), size - 4));
            if (hint > maxOut) return null;
            long cap = Math.min(maxOut, hint + (1 << 20));
            try (LibdeflateDecompressor d = LibdeflateDecompressor.open()) {
                if (d == null) return null;
                while (true) {
                    if (!allowance.reserve(pages(cap))) return null;
                    outReserved = pages(cap);
                    out = map(cap);
                    if (out == null) return null;
                    long produced = members(d, in, size, out, cap);
                    if (produced >= 0) {
                        // Keep the pages the data fills; give the rest of the reservation back.
                        allowance.release(outReserved - pages(produced));
                        outReserved = pages(produced);
                        Inflated r = new Inflated(out, produced, outReserved, allowance);
                        out = null;
                        outReserved = 0;
                        return r;
                    }
                    unmap(out);
                    out = null;
                    allowance.release(outReserved);
                    outReserved = 0;
                    if (cap >= maxOut) return null;
                    cap = Math.min(maxOut, cap * 2);
                }
            }
        } finally {
            unmap(in);
            allowance.release(pages(size));
            unmap(out);
            if (outReserved > 0) allowance.release(outReserved);
        }
    }

    private static boolean readFully(InputStream src, MemorySegment dst, long size) throws IOException {
        byte[] buf = new byte[1 << 20];
        long at = 0;
        for (int n; (n = src.read(buf)) > 0; ) {
            if (at + n > size) return false;
            MemorySegment.copy(buf, 0, dst, ValueLayout.JAVA_BYTE, at, n);
            at += n;
        }
        return at == size;
    }

    /** Inflates every member into out; returns the bytes produced, or -1 when they do not fit in {@code cap}. */
    private static long members(LibdeflateDecompressor d, MemorySegment in, long size, MemorySegment out, long cap)
            throws CorruptException {
        long pos = 0, produced = 0;
        while (pos + 2 <= size && (in.get(ValueLayout.JAVA_BYTE, pos) & 0xff) == 0x1f && (in.get(ValueLayout.JAVA_BYTE, pos + 1) & 0xff) == 0x8b) {
            LibdeflateDecompressor.Result r = d.decompress(LibdeflateDecompressor.Format.GZIP, in.asSlice(pos), size - pos,
                    out.asSlice(produced), cap - produced);
            switch (r.status()) {
                case SUCCESS -> {
                    pos += r.in();
                    produced += r.out();
                }
                case INSUFFICIENT_SPACE -> {
                    return -1;
                }
                default -> throw new CorruptException("the gzip member at byte " + pos + " is damaged or truncated");
            }
        }
        if (pos == 0) throw new CorruptException("the data does not start with a gzip header");
        return produced;
    }

    /** The inflated bytes, read as a stream; close gives the memory back. Not thread-safe. */
    public static final class Inflated extends InputStream {
        private MemorySegment data;
        private final long size, reserved;
        private final Allowance allowance;
        private long pos;

        private Inflated(MemorySegment data, long size, long reserved, Allowance allowance) {
            this.data = data;
            this.size = size;
            this.reserved = reserved;
            this.allowance = allowance;
        }

        public long size() {
            return size;
        }

        @Override
        public int read() throws IOException {
            if (data == null) throw new IOException("stream closed");
            return pos < size ? data.get(ValueLayout.JAVA_BYTE, pos++) & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (data == null) throw new IOException("stream closed");
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) return 0;
            if (pos >= size) return -1;
            int n = (int) Math.min(len, size - pos);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, pos, b, off, n);
            pos += n;
            return n;
        }

        /** Free: the bytes are in memory already (the tar reader skips file contents it does not need). */
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

        @Override
        public void close() {
            if (data == null) return;
            unmap(data);
            data = null;
            allowance.release(reserved);
        }
    }
}
