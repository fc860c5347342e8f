package skiff.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ISA-L's streaming gzip reader: the struct layout it assumes, members, and damaged input. */
class IsalGunzipTest {
    @Test
    void theStateLayoutIsTheHeadersOne(@TempDir Path tmp) throws Exception {
        assertTrue(IsalGunzip.linked(), "libisal2 is installed by ci/setup.sh");
        Path c = Files.writeString(tmp.resolve("layout.c"), """
                #include <stdio.h>
                #include <stddef.h>
                #include <isa-l/igzip_lib.h>
                int main(void) {
                    printf("%zu %zu %zu %zu %zu %zu %zu %d %d\\n", sizeof(struct inflate_state),
                        offsetof(struct inflate_state, next_out), offsetof(struct inflate_state, avail_out),
                        offsetof(struct inflate_state, next_in), offsetof(struct inflate_state, avail_in),
                        offsetof(struct inflate_state, block_state), offsetof(struct inflate_state, crc_flag),
                        ISAL_BLOCK_FINISH, ISAL_GZIP);
                    return 0;
                }
                """);
        Path exe = tmp.resolve("layout");
        Process cc = new ProcessBuilder("gcc", c.toString(), "-o", exe.toString()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, cc.waitFor(), "gcc with libisal-dev's header: " + ccOut);
        Process p = new ProcessBuilder(exe.toString()).start();
        String got = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor());
        assertEquals(IsalGunzip.STATE_SIZE + " " + IsalGunzip.NEXT_OUT + " " + IsalGunzip.AVAIL_OUT + " " + IsalGunzip.NEXT_IN
                + " " + IsalGunzip.AVAIL_IN + " " + IsalGunzip.BLOCK_STATE + " " + IsalGunzip.CRC_FLAG + " "
                + IsalGunzip.ISAL_BLOCK_FINISH + " " + IsalGunzip.ISAL_GZIP, got);
    }

    private static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(b)) {
            g.write(data);
        }
        return b.toByteArray();
    }

    /** Reads all of {@code blob}, the source handing out at most {@code chunk} bytes a call, into reads of {@code want}. */
    private static byte[] inflate(byte[] blob, int chunk, int want, int outChunk) throws IOException {
        InputStream src = new ByteArrayInputStream(blob) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, chunk));
            }
        };
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (IsalGunzip in = new IsalGunzip(src, outChunk)) {
            byte[] buf = new byte[want];
            for (int n; (n = in.read(buf, 0, want)) >= 0; ) out.write(buf, 0, n);
            assertEquals(-1, in.read(), "stays at its end");
        }
        return out.toByteArray();
    }

    @Test
    void membersAreInflatedInOrderWhateverTheBufferSizes() throws IOException {
        Random r = new Random(3);
        byte[] a = new byte[700_000], b = new byte[5], c = new byte[300_000];
        for (int i = 0; i < a.length; i++) a[i] = (byte) ('a' + r.nextInt(3));
        r.nextBytes(b);
        r.nextBytes(c);
        ByteArrayOutputStream blob = new ByteArrayOutputStream(), want = new ByteArrayOutputStream();
        for (byte[] part : new byte[][] {a, b, new byte[0], c}) {
            blob.write(gzip(part));
            want.write(part);
        }
        blob.write(new byte[100]); // zero padding after the last member: ignored, as gzip does
        for (int[] sizes : new int[][] {{1 << 20, 1 << 20, 1 << 20}, {1, 7, 3}, {4093, 1, 65536}, {17, 100_000, 8}}) {
            assertArrayEquals(want.toByteArray(), inflate(blob.toByteArray(), sizes[0], sizes[1], sizes[2]),
                    Arrays.toString(sizes));
        }
    }

    @Test
    void damagedTruncatedAndWrongTrailersAreCorrupt() throws IOException {
        byte[] data = new byte[400_000];
        new Random(1).nextBytes(data);
        byte[] gz = gzip(data);
        byte[] badCrc = gz.clone();
        badCrc[gz.length - 6] ^= 1;
        byte[] badSize = gz.clone();
        badSize[gz.length - 2] ^= 1;
        byte[] damaged = gz.clone();
        for (int i = 1000; i < 1100; i++) damaged[i] ^= 0x33;
        byte[] badHeader = gz.clone();
        badHeader[2] = 7; // not deflate
        for (byte[] blob : new byte[][] {Arrays.copyOf(gz, gz.length / 2), Arrays.copyOf(gz, gz.length - 1), Arrays.copyOf(gz, 5),
                badCrc, badSize, damaged, badHeader}) {
            LibdeflateGunzip.CorruptException e = assertThrows(LibdeflateGunzip.CorruptException.class,
                    () -> inflate(blob, 1 << 16, 1 << 16, 1 << 20));
            assertTrue(e.getMessage().startsWith("the gzip member at byte 0 is "), e.getMessage());
        }
        // A damaged second member names where it starts.
        byte[] two = new byte[gz.length * 2];
        System.arraycopy(gz, 0, two, 0, gz.length);
        System.arraycopy(badCrc, 0, two, gz.length, gz.length);
        LibdeflateGunzip.CorruptException e = assertThrows(LibdeflateGunzip.CorruptException.class,
                () -> inflate(two, 1 << 16, 1 << 16, 1 << 20));
        assertTrue(e.getMessage().startsWith("the gzip member at byte " + gz.length + " is "), e.getMessage());
    }
}
