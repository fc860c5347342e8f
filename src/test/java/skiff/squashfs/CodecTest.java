package skiff.squashfs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** gzip blocks, through libdeflate and through java.util.zip, inflate to what went in, whichever side made them. */
class CodecTest {
    private static byte[][] blocks() {
        Random r = new Random(7);
        byte[] text = new byte[131072];
        for (int i = 0; i < text.length; i++) text[i] = (byte) "the quick brown fox jumps over the lazy dog\n".charAt((i * 7 + i / 97) % 44);
        byte[] random = new byte[131072];
        r.nextBytes(random);
        byte[] small = "hello, squashfs\nhello, squashfs\nhello, squashfs\n".getBytes();
        byte[] zeros = new byte[8192];
        return new byte[][] {text, random, small, zeros};
    }

    private static void roundTrip(boolean nativeDeflate) throws IOException {
        for (int level : new int[] {1, 6, 9}) {
            try (Codec c = new Codec(SquashfsWriter.Compression.GZIP, level, nativeDeflate)) {
                byte[][] blocks = blocks();
                for (byte[] b : blocks) {
                    byte[] dst = new byte[b.length];
                    int n = c.compress(b, b.length, dst);
                    if (n < 0) {
                        // stored uncompressed: fine for random data and tiny blocks (libdeflate level 1 makes 59 of 48
                        // bytes), never for a block of text or zeros
                        assertTrue(b != blocks[0] && b != blocks[3], "a compressible block did not shrink at level " + level);
                        continue;
                    }
                    assertTrue(n < b.length);
                    byte[] back = new byte[b.length];
                    int m = c.decompress(dst, 0, n, back, back.length);
                    assertEquals(b.length, m);
                    assertArrayEquals(b, back);
                }
                assertEquals(nativeDeflate, c.nativeDeflate(), "native compressor used");
                assertEquals(nativeDeflate, c.nativeInflate(), "native inflater used");
            }
        }
    }

    @Test
    void libdeflateBlocksInflateBack() throws IOException {
        // ci/setup.sh installs libdeflate0: it must be found on a test host.
        assertEquals("libdeflate", ZlibBlockCompressor.available(), "libdeflate not found (is libdeflate0 installed?)");
        roundTrip(true);
    }

    @Test
    void javaUtilZipBlocksInflateBack() throws IOException {
        roundTrip(false);
    }

    @Test
    void eitherInflaterReadsTheOthersBlocksAndRefusesACorruptOne() throws IOException {
        byte[] text = blocks()[0];
        try (Codec lib = new Codec(SquashfsWriter.Compression.GZIP, 9, true);
             Codec jdk = new Codec(SquashfsWriter.Compression.GZIP, 9, false)) {
            for (Codec[] pair : new Codec[][] {{lib, jdk}, {jdk, lib}}) {
                byte[] z = new byte[text.length];
                int n = pair[0].compress(text, text.length, z);
                byte[] back = new byte[text.length];
                assertEquals(text.length, pair[1].decompress(z, 0, n, back, back.length));
                assertArrayEquals(text, back);
                byte[] bad = z.clone();
                for (int i = n / 3; i < n / 3 + 16; i++) bad[i] ^= (byte) 0x5a;
                var e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                        () -> pair[1].decompress(bad, 0, n, new byte[text.length], text.length));
                assertTrue(e.getMessage().contains("gzip block"), e.getMessage());
            }
            assertTrue(lib.nativeInflate());
        }
    }
}
