package skiff.sys;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

import static skiff.sys.Native.INT;
import static skiff.sys.Native.PTR;

/**
 * A gzip stream inflated by Intel ISA-L's igzip (Debian's {@code libisal2}), which streams at about the speed of
 * libdeflate's whole-buffer API (several times the JDK's zlib) with a fixed ~90 KiB of state: any layer, however big,
 * is inflated fast without holding it in memory. Every member is inflated, as gzip -d and the JDK do; bytes after the
 * last member that do not start another one (zero padding, garbage) are ignored, as they do; a member that is damaged,
 * truncated or fails its CRC-32/ISIZE check is a {@link LibdeflateGunzip.CorruptException}.
 *
 * <p>{@code struct inflate_state} is filled by the library; this class reads and writes only its first fields, whose
 * offsets are those of ISA-L 2.30's igzip_lib.h (checked against the header by IsalGunzipTest). Linking runs a
 * known member through the library first, so a build whose layout differs counts as absent rather than misbehaving.
 * Not thread-safe; close frees the native memory.
 */
public final class IsalGunzip extends InputStream {
    // struct inflate_state (ISA-L 2.30, x86-64): sizeof and the offsets of the fields used here.
    static final long STATE_SIZE = 87_368;
    static final long NEXT_OUT = 0, AVAIL_OUT = 8, NEXT_IN = 16, AVAIL_IN = 32, BLOCK_STATE = 21_160, CRC_FLAG = 21_172;
    /** enum isal_block_state: the member was inflated and its trailer checked. */
    static final int ISAL_BLOCK_FINISH = 5;
    /** crc_flag: parse the gzip header, check the CRC-32 and ISIZE of the trailer. */
    static final int ISAL_GZIP = 1;
    private static final int IN = 128 << 10;
    /** Room for the library's writes past what we look at, in case a later build's state is a little bigger. */
    private static final long STATE_SLACK = 64 << 10;

    /** Linked on the first conversion only; null handles: no usable ISA-L here. */
    private static final class Lib {
        /** "skiff\n" as gzip -n writes it (declared before the handles: linking runs it): a build whose state layout is not the one above fails this. */
        private static final byte[] MEMBER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x2b, (byte) 0xce, (byte) 0xce,
                0x4c, 0x4b, (byte) 0xe3, 2, 0, (byte) 0xb4, (byte) 0xb2, (byte) 0x90, 0x0b, 6, 0, 0, 0};

        static final MethodHandle INIT, RESET, INFLATE;

        static {
            MethodHandle[] h = link();
            INIT = h == null ? null : h[0];
            RESET = h == null ? null : h[1];
            INFLATE = h == null ? null : h[2];
        }

        private static MethodHandle[] link() {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup("libisal.so.2", Arena.global());
                MethodHandle[] h = {
                        Native.LINKER.downcallHandle(lib.findOrThrow("isal_inflate_init"), FunctionDescriptor.ofVoid(PTR)),
                        Native.LINKER.downcallHandle(lib.findOrThrow("isal_inflate_reset"), FunctionDescriptor.ofVoid(PTR)),
                        Native.LINKER.downcallHandle(lib.findOrThrow("isal_inflate"), FunctionDescriptor.of(INT, PTR))};
                return selfTest(h) ? h : null;
            } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
                return null;
            }
        }

        private static boolean selfTest(MethodHandle[] h) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment state = a.allocate(STATE_SIZE + STATE_SLACK, 64);
                MemorySegment in = a.allocateFrom(ValueLayout.JAVA_BYTE, MEMBER), out = a.allocate(64);
                h[0].invokeExact(state);
                state.set(ValueLayout.JAVA_INT, CRC_FLAG, ISAL_GZIP);
                state.set(ValueLayout.ADDRESS, NEXT_IN, in);
                state.set(ValueLayout.JAVA_INT, AVAIL_IN, MEMBER.length);
                state.set(ValueLayout.ADDRESS, NEXT_OUT, out);
                state.set(ValueLayout.JAVA_INT, AVAIL_OUT, (int) out.byteSize());
                int r = (int) h[2].invokeExact(state);
                long produced = out.byteSize() - Integer.toUnsignedLong(state.get(ValueLayout.JAVA_INT, AVAIL_OUT));
                return r == 0 && state.get(ValueLayout.JAVA_INT, BLOCK_STATE) == ISAL_BLOCK_FINISH
                        && state.get(ValueLayout.JAVA_INT, AVAIL_IN) == 0 && produced == 6
                        && "skiff\n".equals(new String(out.asSlice(0, 6).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.US_ASCII));
            } catch (Throwable t) {
                return false;
            }
        }
    }

    /** Whether the host has a usable ISA-L (linking it on the first call). */
    public static boolean linked() {
        return Lib.INFLATE != null;
    }

    private final InputStream source;
    private final Arena arena = Arena.ofShared(); // the stream may be closed by another thread than the reader
    private final MemorySegment state, in, out;
    private final byte[] heapIn = new byte[IN];
    private boolean sourceEnded, memberDone, ended, closed;
    private long inPos, inEnd; // the unread input: in[inPos, inEnd) between calls
    private int outPos, outEnd; // the inflated bytes not read yet: out[outPos, outEnd)
    private long member; // bytes of input before the current member (for messages)
    private long consumedBefore;

    /**
     * Inflates {@code source} (closed with this stream). {@code outChunk}: the output buffer, the most one library call
     * writes (1 MiB keeps the calls few and the library out of its small-output path).
     */
    public IsalGunzip(InputStream source, int outChunk) {
        if (!linked()) throw new IllegalStateException("ISA-L is not available");
        this.source = Objects.requireNonNull(source);
        this.state = arena.allocate(STATE_SIZE + STATE_SLACK, 64);
        this.in = arena.allocate(IN);
        this.out = arena.allocate(outChunk);
        call(Lib.INIT);
        state.set(ValueLayout.JAVA_INT, CRC_FLAG, ISAL_GZIP);
    }

    private void call(MethodHandle h) {
        try {
            h.invokeExact(state);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Moves the unread input to the front and reads more after it; false when the source has ended. */
    private boolean refill() throws IOException {
        if (sourceEnded) return false;
        long left = inEnd - inPos;
        if (left > 0 && inPos > 0) MemorySegment.copy(in, inPos, in, 0, left);
        consumedBefore += inPos;
        inPos = 0;
        inEnd = left;
        int n = source.read(heapIn, 0, (int) (IN - left));
        if (n < 0) {
            sourceEnded = true;
            return false;
        }
        MemorySegment.copy(heapIn, 0, in, ValueLayout.JAVA_BYTE, left, n);
        inEnd += n;
        return true;
    }

    /** At a member's end: whether another member follows (its first two bytes are gzip's magic). */
    private boolean nextMember() throws IOException {
        while (inEnd - inPos < 2 && refill()) {
            // read until two bytes are there or the source ends
        }
        if (inEnd - inPos < 2 || (in.get(ValueLayout.JAVA_BYTE, inPos) & 0xff) != 0x1f
                || (in.get(ValueLayout.JAVA_BYTE, inPos + 1) & 0xff) != 0x8b) return false;
        call(Lib.RESET); // keeps crc_flag; the input pointers are set before each call
        member = consumedBefore + inPos;
        memberDone = false;
        return true;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    /** Inflates into the (empty) output buffer; false at the end of the last member. */
    private boolean inflate() throws IOException {
        for (int idle = 0; !ended; ) {
            if (memberDone && !nextMember()) {
                ended = true;
                break;
            }
            if (inPos == inEnd) refill();
            int room = (int) out.byteSize();
            long before = inPos;
            state.set(ValueLayout.ADDRESS, NEXT_IN, in.asSlice(inPos));
            state.set(ValueLayout.JAVA_INT, AVAIL_IN, (int) (inEnd - inPos));
            state.set(ValueLayout.ADDRESS, NEXT_OUT, out);
            state.set(ValueLayout.JAVA_INT, AVAIL_OUT, room);
            int r;
            try {
                r = (int) Lib.INFLATE.invokeExact(state);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r < 0) throw new LibdeflateGunzip.CorruptException("the gzip member at byte " + member + " is damaged (" + why(r) + ")");
            inPos = inEnd - Integer.toUnsignedLong(state.get(ValueLayout.JAVA_INT, AVAIL_IN));
            int produced = room - state.get(ValueLayout.JAVA_INT, AVAIL_OUT);
            if (state.get(ValueLayout.JAVA_INT, BLOCK_STATE) == ISAL_BLOCK_FINISH) memberDone = true;
            if (produced > 0) {
                outPos = 0;
                outEnd = produced;
                return true;
            }
            if (!memberDone && inPos == inEnd && sourceEnded)
                throw new LibdeflateGunzip.CorruptException("the gzip member at byte " + member + " is truncated");
            // A call that neither consumed nor produced anything with input and room to spare cannot make progress.
            if (inPos == before && inPos < inEnd && !memberDone && ++idle > 2)
                throw new LibdeflateGunzip.CorruptException("the gzip member at byte " + member + " is damaged (no progress)");
        }
        return false;
    }

    /**
     * Served from the native output buffer, copied once into {@code b}: the stream is its own buffer (a
     * BufferedInputStream over it would copy every byte once more).
     */
    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (closed) throw new IOException("stream closed");
        if (len == 0) return 0;
        if (outPos == outEnd && !inflate()) return -1;
        int n = Math.min(len, outEnd - outPos);
        MemorySegment.copy(out, ValueLayout.JAVA_BYTE, outPos, b, off, n);
        outPos += n;
        return n;
    }

    /** Free within the inflated bytes at hand. */
    @Override
    public long skip(long n) throws IOException {
        if (n <= 0 || closed) return 0;
        if (outPos == outEnd && !inflate()) return 0;
        int s = (int) Math.min(n, outEnd - outPos);
        outPos += s;
        return s;
    }

    @Override
    public int available() {
        return closed ? 0 : outEnd - outPos;
    }

    private static String why(int r) {
        return switch (r) {
            case -1 -> "invalid deflate block";
            case -2 -> "invalid deflate symbol";
            case -3 -> "invalid back-reference";
            case -4 -> "invalid gzip header";
            case -5 -> "not deflate";
            case -6 -> "CRC-32 or length mismatch";
            default -> "error " + r;
        };
    }

    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        try {
            source.close();
        } finally {
            arena.close();
        }
    }
}
