package skiff.squashfs;

import java.io.ByteArrayOutputStream;

/**
 * Builds a run of metadata blocks (8 KiB uncompressed each, u16 header with bit 15 = uncompressed) in
 * memory. Positions are (start of the current block in the compressed stream, offset inside it), which is
 * what inode references and directory locations record.
 */
final class MetadataWriter {
    private final Codec codec;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final byte[] block = new byte[Format.METADATA_SIZE];
    private final byte[] scratch = new byte[Format.METADATA_SIZE * 2 + 64];
    private final java.util.List<Long> blockStarts = new java.util.ArrayList<>();
    private int fill;
    private long uncompressedTotal;

    MetadataWriter(Codec codec) {
        this.codec = codec;
    }

    /** Compressed offset of the block that the next byte goes to. */
    long blockStart() {
        return out.size();
    }

    int offset() {
        return fill;
    }

    /** Uncompressed bytes written so far. */
    long uncompressedPosition() {
        return uncompressedTotal;
    }

    /** 48-bit reference (block start << 16 | offset) of the next byte. */
    long reference() {
        return ((long) out.size() << 16) | fill;
    }

    void write(byte[] b) {
        write(b, 0, b.length);
    }

    void write(byte[] b, int off, int len) {
        while (len > 0) {
            int n = Math.min(len, block.length - fill);
            System.arraycopy(b, off, block, fill, n);
            fill += n;
            off += n;
            len -= n;
            uncompressedTotal += n;
            if (fill == block.length) flush();
        }
    }

    private void flush() {
        if (fill == 0) return;
        blockStarts.add((long) out.size());
        int n = codec.compress(block, fill, scratch);
        if (n < 0) {
            writeHeader(fill | Format.META_UNCOMPRESSED);
            out.write(block, 0, fill);
        } else {
            writeHeader(n);
            out.write(scratch, 0, n);
        }
        fill = 0;
    }

    private void writeHeader(int h) {
        out.write(h & 0xFF);
        out.write((h >>> 8) & 0xFF);
    }

    /** Compressed start of every block written (valid after {@link #finish()}). */
    java.util.List<Long> blockStarts() {
        return blockStarts;
    }

    /** Flushes the last partial block and returns all bytes. */
    byte[] finish() {
        flush();
        return out.toByteArray();
    }
}
