package skiff.sys;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class NativeChunksTest {
    @Test
    void givesBackWhatWasAppendedAcrossChunksWithSkips() {
        byte[] all = new byte[(9 << 20) + 123];
        new Random(3).nextBytes(all);
        try (NativeChunks c = new NativeChunks()) {
            for (int off = 0; off < all.length; ) {
                int n = Math.min(all.length - off, 777_777);
                c.append(all, off, n);
                off += n;
            }
            assertEquals(all.length, c.size());
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 20];
            out.write(buf, 0, c.read(buf, 0, 1000));
            assertEquals(4L << 20, c.skip(4L << 20)); // over a chunk's end
            for (int n; (n = c.read(buf, 0, buf.length)) != -1; ) out.write(buf, 0, n);
            byte[] expected = new byte[all.length - (4 << 20)];
            System.arraycopy(all, 0, expected, 0, 1000);
            System.arraycopy(all, 1000 + (4 << 20), expected, 1000, all.length - 1000 - (4 << 20));
            assertArrayEquals(expected, out.toByteArray());
            assertEquals(-1, c.read(buf, 0, 1));
            assertEquals(0, c.skip(10));
        }
    }
}
