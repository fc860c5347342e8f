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

    /** What {@link #inflate} made of the stream. */
    public sealed interface Outcome permits Inflated, Replay {}

    /**
     * Reads all of {@code compressed} ({@code size} bytes expected) and inflates it. Returns null when it read nothing
     * (no libdeflate, no room even for the compressed bytes: the caller streams {@code compressed} as it is), an
     * {@link Inflated} on success, or a {@link Replay} of the compressed stream when it read some or all of it and
     * then found the result would not fit: more than {@code size} bytes, more than {@code maxOut} inflated, or not
     * enough allowance. The source is read once either way (a progress count of it stays right). Trailing bytes that
     * do not start a gzip member are ignored, as the JDK and gzip do.
     *
     * @throws CorruptException when a member does not inflate
     */
    public static Outcome inflate(InputStream compressed, long size, long maxOut, Allowance allowance) throws IOException {
        if (size < 18 || maxOut <= 0 || !LibdeflateDecompressor.available()) return null; // 18: the smallest gzip member
        // A layer's tar is at least twice its gzip (text and binaries: 2.5-4x): one whose compressed size leaves
        // no room for twice as much again cannot fit, and is not read in vain.
        if (!allowance.reserve(pages(size) + pages(Math.min(maxOut, 2 * size)))) return null;
        allowance.release(pages(Math.min(maxOut, 2 * size)));
        MemorySegment in = map(size);
        if (in == null) {
            allowance.release(pages(size));
            return null;
        }
        Replay replay = new Replay(in, allowance, compressed); // owns the mapping and its reservation from here on
        boolean handedOver = false;
        try {
            Inflated r = replay.fill(size) ? inflateMembers(in, size, maxOut, allowance) : null;
            handedOver = r == null;
            return r != null ? r : replay;
        } finally {
            if (!handedOver) replay.free();
        }
    }

    /** Inflates the {@code size} compressed bytes at {@code in}, or returns null when they do not fit. */
    private static Inflated inflateMembers(MemorySegment in, long size, long maxOut, Allowance allowance) throws IOException {
        // The last member's ISIZE (its length mod 2^32) sizes the first try; it is only a hint: other members,
        // lengths past 4 GiB and hostile values are caught by libdeflate's bound on the output.
        long hint = Integer.toUnsignedLong(in.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), size - 4));
        if (hint > maxOut) return null;
        long cap = Math.min(maxOut, hint + (1 << 20));
        MemorySegment out = null;
        long outReserved = 0;
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
                    Inflated r = new Inflated(out, produced, pages(produced), allowance, size);
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
        } finally {
            unmap(out);
            if (outReserved > 0) allowance.release(outReserved);
        }
    }

    /**
     * The compressed bytes read so far (from memory), then the rest of the source: what the JDK's inflater reads when
     * the whole-buffer path gave up after reading. Close frees the memory and closes the source.
     */
    public static final class Replay extends InputStream implements Outcome {
        private MemorySegment held;
        private final Allowance allowance;
        private final InputStream rest;
        private final long reserved;
        private long length, pos;
        private byte[] extra = new byte[0]; // a chunk read past the expected size
        private int extraPos;

        private Replay(MemorySegment held, Allowance allowance, InputStream rest) {
            this.held = held;
            this.allowance = allowance;
            this.rest = rest;
            this.reserved = pages(held.byteSize());
        }

        /** Reads the source into memory; false when it holds more than {@code size} bytes (the excess is kept). */
        boolean fill(long size) throws IOException {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = rest.read(buf)) > 0; ) {
                if (length + n > size) {
                    extra = java.util.Arrays.copyOf(buf, n);
                    return false;
                }
                MemorySegment.copy(buf, 0, held, ValueLayout.JAVA_BYTE, length, n);
                length += n;
            }
            return length == size;
        }

        /** Gives the memory back (the source stays open). */
        void free() {
            if (held == null) return;
            unmap(held);
            held = null;
            allowance.release(reserved);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            java.util.Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) return 0;
            if (held == null) throw new IOException("stream closed");
            if (pos < length) {
                int n = (int) Math.min(len, length - pos);
                MemorySegment.copy(held, ValueLayout.JAVA_BYTE, pos, b, off, n);
                pos += n;
                return n;
            }
            if (extraPos < extra.length) {
                int n = Math.min(len, extra.length - extraPos);
                System.arraycopy(extra, extraPos, b, off, n);
                extraPos += n;
                return n;
            }
            return rest.read(b, off, len);
        }

        @Override
        public void close() throws IOException {
            free();
            rest.close();
        }
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
    public static final class Inflated extends InputStream implements Outcome {
        private MemorySegment data;
        private final long size, reserved, compressedSize;
        private final Allowance allowance;
        private long pos;

        private Inflated(MemorySegment data, long size, long reserved, Allowance allowance, long compressedSize) {
            this.data = data;
            this.size = size;
            this.reserved = reserved;
            this.allowance = allowance;
            this.compressedSize = compressedSize;
        }

        public long size() {
            return size;
        }

        /** The bytes of gzip it came from. */
        public long compressedSize() {
            return compressedSize;
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
