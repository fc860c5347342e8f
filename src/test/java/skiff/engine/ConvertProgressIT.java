package skiff.engine;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import skiff.image.Digest;
import skiff.reference.Reference;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.util.Locks;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The conversion display as a user sees it, on a pseudo-terminal that script(1) provides: convert, the first
 * run of an image, a narrow and a resized terminal, the wait for another process's conversion, and that
 * pipes and -q get nothing of it.
 */
class ConvertProgressIT {
    static final String IMG = "example.org/progress/box:1";
    static final Pattern FRAME = Pattern.compile("\r([^\r\n]+)\033\\[K");

    RunFixture fx;

    @BeforeEach
    void image() throws IOException {
        fx = new RunFixture("skiff-progress-it");
        // Two layers, the second big enough that a conversion takes a few frames' time on a slow machine.
        Path extra = Files.createDirectories(fx.base.resolve("extra/data"));
        byte[] noise = new byte[1 << 20];
        new java.util.Random(7).nextBytes(noise);
        for (int i = 0; i < 4; i++) Files.write(extra.resolve("blob" + i), noise);
        fx.installLayoutOnly(ImageBuilder.create(fx.base.resolve("img")).layerFromDir(fx.tree("box"))
                .layerFromDir(extra.getParent()).config("--config.cmd", "/bin/sh"), IMG);
        fx.handOver();
    }

    @AfterEach
    void close() {
        fx.close();
    }

    /** {@code shell} (a sh -c command line) on a pseudo-terminal as the test user; stdout is the terminal's transcript. */
    Cmd onTerminal(String shell) {
        return Cmd.of("script", "-qfec", shell, "/dev/null").env("XDG_RUNTIME_DIR", fx.xdg.toString())
                .env("SKIFF_MOUNT_IDLE", "1").asTestUser().dir(Path.of("/"));
    }

    String skiff() {
        return Cmd.skiffBin() + " --storage " + fx.storage;
    }

    static List<String> frames(String transcript) {
        List<String> out = new ArrayList<>();
        Matcher m = FRAME.matcher(transcript);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void convertShowsPhasesAndOneFinalLineOnATerminal() {
        String t = onTerminal("stty cols 160; " + skiff() + " convert " + IMG).run().ok().out();
        List<String> frames = frames(t);
        assertTrue(frames.stream().anyMatch(f -> f.startsWith(IMG + " -> squashfs  reading layers  ") && f.contains(" / ")), t);
        assertTrue(frames.stream().allMatch(f -> f.length() <= 159), t);
        assertTrue(t.matches("(?s).*\r\033\\[K" + Pattern.quote(IMG) + ": converted to squashfs in [0-9.]+ s: [0-9,]+ entries, [0-9.]+ MiB\r\n"
                + Pattern.quote(fx.storage.toString()) + "/sqfs/[0-9a-f]{64}\\.sqfs\r\n"), t);
    }

    @Test
    void pipesAndQuietGetOnlyTheResult() {
        Path out = fx.base.resolve("out");
        Cmd.of("install", "-d", "-o", Cmd.TEST_USER, out.toString()).run().ok();
        // stderr a pipe: no frame, no control character, only the final line; stdout is the path alone.
        var piped = fx.skiff("convert", "--format", "dir", IMG).run().ok();
        assertTrue(piped.err().matches("[^\\r\\n\\u001b]*: converted to dir in [0-9.]+ s: [0-9,]+ entries, [^\\n]*\\n"),
                piped.err());
        assertTrue(piped.out().matches(Pattern.quote(fx.storage.toString()) + "/dir/[0-9a-f]{64}\n"), piped.out());
        // -q on a terminal: the path alone.
        String q = onTerminal(skiff() + " convert -q -o " + out.resolve("a.sqfs") + " " + IMG).run().ok().out();
        assertEquals(out.resolve("a.sqfs") + "\r\n", q);
        // Progress on the terminal (stderr) while stdout goes to a pipe: the pipe holds the path alone.
        String t = onTerminal(skiff() + " convert -o " + out.resolve("b.sqfs") + " " + IMG + " | tr a-z A-Z").run().ok().out();
        assertTrue(t.contains(IMG + ": converted to squashfs in "), t);
        assertTrue(t.endsWith(out.resolve("b.sqfs").toString().toUpperCase() + "\r\n"), t);
    }

    @Test
    void aNarrowTerminalGetsShortenedFramesAndAResizeIsFollowedWhileWaitingForTheLock() throws Exception {
        Digest manifest = Store.open(fx.storage).resolve(Reference.parse(IMG).toString()).orElseThrow().digest();
        Path lockFile = Store.open(fx.storage).lockFile("convert-" + manifest.hex());
        long me = ProcessHandle.current().pid();
        Locks.Held held = Locks.exclusive(lockFile, pid -> {});
        try {
            Cmd.of("chown", Cmd.TEST_USER, lockFile.toString()).run().ok();
            Path mark = fx.base.resolve("resize-now");
            Process p = onTerminal("stty cols 100 rows 20; " + skiff() + " convert " + IMG + " & while [ ! -e " + mark
                    + " ]; do sleep 0.1; done; stty cols 30; echo RESIZED; wait $!").start();
            StringBuffer t = new StringBuffer();
            Thread drain = Thread.ofPlatform().daemon().start(() -> copy(p.getInputStream(), t));
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (System.nanoTime() < deadline && t.indexOf("waiting for process") < 0) Thread.sleep(100);
            Files.createFile(mark);
            // Wait until the resize happened and the waiting line was redrawn at the new width since (each second).
            while (System.nanoTime() < deadline && !(t.indexOf("RESIZED") >= 0
                    && FRAME.matcher(t.substring(t.indexOf("RESIZED"))).find())) Thread.sleep(100);
            String before = t.toString();
            held.close();
            held = null;
            assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), t.toString());
            drain.join(5000);
            assertEquals(0, p.exitValue(), t.toString());
            String all = t.toString();

            assertTrue(before.contains("RESIZED"), all);
            List<String> wide = frames(before.substring(0, before.indexOf("RESIZED")));
            assertTrue(wide.stream().anyMatch(f -> f.matches(Pattern.quote(IMG + ": waiting for process " + me
                    + ", which is converting this image (") + "[0-9.]+ s\\)")), all);
            List<String> narrow = frames(all.substring(all.indexOf("RESIZED")));
            assertFalse(narrow.isEmpty(), all);
            // Shortened to fit: the registry and repository path go first, then the end of the line.
            assertTrue(narrow.getFirst().startsWith("box:1: waiting for proc") && narrow.getFirst().endsWith("..."), all);
            for (String f : narrow) assertTrue(f.length() <= 29, "fits 30 columns: '" + f + "' in " + all);
            assertTrue(narrow.stream().anyMatch(f -> f.startsWith("box:1 -> squashfs  ")), "the conversion itself, after the wait: " + all);
            assertTrue(all.contains(IMG + ": converted to squashfs in "), all);
        } finally {
            if (held != null) held.close();
        }
    }

    @Test
    void theFirstRunOfAnImageShowsItsConversionAndThenRuns() {
        String t = onTerminal(skiff() + " run " + IMG + " /bin/echo payload-ran").run().ok().out();
        assertTrue(frames(t).stream().anyMatch(f -> f.startsWith(IMG + " -> squashfs  ")), t);
        assertTrue(t.contains(IMG + ": converted to squashfs in "), t);
        assertTrue(t.endsWith("payload-ran\r\n"), t);
        // Converted now: the next run says nothing about it.
        assertEquals("again\r\n", onTerminal(skiff() + " run " + IMG + " /bin/echo again").run().ok().out());
        // --writable-tmpfs needs the directory tree; -q converts it without a word.
        assertEquals("quiet\r\n", onTerminal(skiff() + " run -q --writable-tmpfs " + IMG + " /bin/echo quiet").run().ok().out());
    }

    /** load makes the image runnable at once, as pull does, and shows that conversion; -q and --convert none do not. */
    @Test
    void loadConvertsWithTheDisplay() {
        Path tar = fx.base.resolve("out/box.tar");
        Cmd.of("install", "-d", "-o", Cmd.TEST_USER, tar.getParent().toString()).run().ok();
        String t = onTerminal(skiff() + " save -o " + tar + " " + IMG + " && " + skiff() + " rmi " + IMG + " && "
                + skiff() + " load -i " + tar).run().ok().out();
        assertTrue(frames(t).stream().anyMatch(f -> f.startsWith(IMG + " -> squashfs  ")), t);
        assertTrue(t.matches("(?s).*" + Pattern.quote(IMG) + ": converted to squashfs in [0-9.]+ s: [^\r\n]*\r\nLoaded image: "
                + Pattern.quote(IMG) + "\r\n"), t);
        String q = onTerminal(skiff() + " rmi " + IMG + " >/dev/null && " + skiff() + " load -q -i " + tar + " && "
                + skiff() + " images --format json").run().ok().out();
        assertFalse(q.contains("converted"), q);
        assertTrue(q.replaceAll("\\s", "").contains("\"formats\":[\"squashfs\"]"), q);
        String none = onTerminal(skiff() + " rmi " + IMG + " >/dev/null && " + skiff() + " load --convert none -i " + tar
                + " && " + skiff() + " images --format json").run().ok().out();
        assertFalse(none.contains("converted"), none);
        assertTrue(none.replaceAll("\\s", "").contains("\"formats\":[]"), none);
    }

    @Test
    void createShowsTheConversionOfItsContainerAndQuietDoesNot() {
        String t = onTerminal(skiff() + " create --name c1 " + IMG).run().ok().out();
        assertTrue(frames(t).stream().anyMatch(f -> f.startsWith(IMG + " -> dir  ")), t);
        // The final line, then the container's name on stdout.
        assertTrue(Pattern.compile("\r\033\\[K" + Pattern.quote(IMG) + ": converted to dir in [^\r\n]+\r\nc1\r\n$").matcher(t).find(), t);
        assertEquals("c2\r\n", onTerminal(skiff() + " create -q --name c2 " + IMG).run().ok().out());
    }

    private static void copy(InputStream in, StringBuffer into) {
        byte[] b = new byte[8192];
        try {
            for (int n; (n = in.read(b)) > 0; ) into.append(new String(b, 0, n, StandardCharsets.UTF_8));
        } catch (IOException e) {
            // the process ended
        }
    }
}
