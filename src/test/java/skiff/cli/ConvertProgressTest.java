package skiff.cli;

import org.junit.jupiter.api.Test;
import skiff.image.Digest;
import skiff.layer.Progress;
import skiff.rootfs.Rootfs;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The conversion display as a terminal shows it: what each frame says, and that it always fits the width. */
class ConvertProgressTest {
    static final Digest D = Digest.parse("sha256:" + "ab".repeat(32));
    static final long SEC = 1_000_000_000L;

    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final AtomicInteger width = new AtomicInteger(120);
    final AtomicLong now = new AtomicLong(0);
    final ConvertProgress p = ConvertProgress.forTest(new PrintStream(bytes, true, StandardCharsets.UTF_8), "alpine:3.20",
            width::get, now::get);

    /** The frames drawn so far: each starts with a carriage return and ends by clearing the rest of the line. */
    List<String> frames() {
        String s = bytes.toString(StandardCharsets.UTF_8);
        return java.util.Arrays.stream(s.split("\r")).filter(f -> !f.isEmpty())
                .map(f -> f.replace("\033[K", "")).toList();
    }

    String last() {
        return frames().getLast();
    }

    @Test
    void aConversionThatStartsOverInTwoPassesCountsAfresh() {
        Progress q = p.started(D, Rootfs.Format.SQUASHFS, 100L << 20);
        q.read(80L << 20);
        for (int i = 0; i < 5; i++) q.entry();
        now.set(2 * SEC);
        q.restarted();
        q.read(10L << 20);
        now.set(3 * SEC);
        p.paint();
        assertEquals("alpine:3.20 -> squashfs  reading layers  10.0 MiB / 100.0 MiB  [==                  ]  10.0 MiB/s  9.0 s left", last());
    }

    @Test
    void showsEachPhaseWithItsNumbersRateAndTimeLeft() {
        Progress q = p.started(D, Rootfs.Format.SQUASHFS, 100L << 20);
        q.read(25L << 20);
        now.set(2 * SEC);
        p.paint();
        assertEquals("alpine:3.20 -> squashfs  reading layers  25.0 MiB / 100.0 MiB  [=====               ]  12.5 MiB/s  6.0 s left", last());

        q.phase(Progress.Phase.WRITING);
        for (int i = 0; i < 3; i++) q.entry();
        p.paint();
        assertEquals("alpine:3.20 -> squashfs  writing  3 entries", last(), "before the tree's size is known");
        q.planned(2000, 400L << 20);
        width.set(200);
        for (int i = 0; i < 997; i++) q.entry();
        q.content(100L << 20);
        now.set(6 * SEC);
        p.paint();
        assertEquals("alpine:3.20 -> squashfs  writing  1,000 / 2,000 entries  100.0 MiB / 400.0 MiB  [=====               ]"
                + "  25.0 MiB/s  12.0 s left", last());

        q.phase(Progress.Phase.FINISHING);
        now.set(20 * SEC);
        p.paint();
        assertEquals("alpine:3.20 -> squashfs  finishing  1,000 entries  100.0 MiB  (20.0 s)", last());

        p.ended(D, Path.of("/x.sqfs"));
        String all = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(all.endsWith("\r\033[Kalpine:3.20: converted to squashfs in 20.0 s: 1,000 entries, 100.0 MiB" + System.lineSeparator()), all);
    }

    @Test
    void everyFrameFitsTheTerminalAndFollowsAResize() {
        Progress q = p.started(D, Rootfs.Format.DIR, 100L << 20);
        q.read(10L << 20);
        now.set(3 * SEC);
        q.phase(Progress.Phase.WRITING);
        q.planned(123_456, 5L << 30);
        q.content(1L << 30);
        now.set(9 * SEC);
        for (int w : new int[] {200, 80, 60, 40, 20, 5, 1, 100}) {
            width.set(w);
            p.paint();
            String f = last();
            assertTrue(f.length() <= Math.max(w - 1, 0), w + " columns: '" + f + "' (" + f.length() + ")");
            assertTrue(!f.contains("\n"), f);
        }
        width.set(40);
        p.paint();
        // Shortened, the counts go before the bar and rate; cut with an ellipsis when even they do not fit.
        assertEquals("alpine:3.20 -> dir  writing  0 / 123...", last());
        width.set(200);
        p.paint();
        assertTrue(last().contains("[====") && last().contains("/s") && last().contains(" left"), last());
    }

    @Test
    void waitingForAnotherProcessSaysWhichAndThenWhatItGot() {
        p.waiting(D, 4242);
        now.set(3 * SEC);
        p.paint();
        assertEquals("alpine:3.20: waiting for process 4242, which is converting this image (3.0 s)", last());
        width.set(50);
        p.paint();
        assertEquals("alpine:3.20: waiting for process 4242, which i...", last());
        now.set(5 * SEC);
        p.ended(D, Path.of("/x.sqfs"));
        assertTrue(bytes.toString(StandardCharsets.UTF_8).endsWith("alpine:3.20: converted by process 4242 (waited 5.0 s)"
                + System.lineSeparator()));
    }

    @Test
    void aFailedConversionLeavesNoLineBehind() {
        p.started(D, Rootfs.Format.SQUASHFS, 1000).read(10);
        p.paint();
        p.ended(D, null);
        assertTrue(bytes.toString(StandardCharsets.UTF_8).endsWith("\r\033[K"), "the line is cleared for the error message");
    }

    @Test
    void aWarningMakesRoomAndTheLineComesBack() {
        p.started(D, Rootfs.Format.SQUASHFS, 1000).read(10);
        p.paint();
        p.println("skiff: warning: something");
        p.paint();
        String all = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(all.contains("\r\033[Kskiff: warning: something" + System.lineSeparator() + "\ralpine:3.20"), all);
    }
}
