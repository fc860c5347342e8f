package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One squashfuse mount serves every concurrent container of an image, and goes away once they are all gone. */
class SharedMountIT {
    static RunFixture fx;
    static String hex;

    @BeforeAll
    static void image() throws Exception {
        fx = new RunFixture("skiff-mount-it");
        hex = fx.install(ImageBuilder.create(fx.base.resolve("img")).layerFromDir(fx.tree("bb")), "shared").hex();
        fx.handOver();
    }

    @AfterAll
    static void cleanup() {
        fx.close();
    }

    static Path mountPoint() {
        return fx.xdg.resolve("skiff/mnt").resolve(hex);
    }

    static List<String> servers() {
        return Cmd.of("pgrep", "-u", Cmd.TEST_USER, "-f", "squashfuse.* " + mountPoint()).run().out().lines().toList();
    }

    static boolean mounted() throws Exception {
        return Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + mountPoint() + " ");
    }

    static String stderr(Process p) {
        try {
            return new String(p.getErrorStream().readAllBytes());
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    @Test
    void fiftyConcurrentRunsShareOneMountThatIsReapedWhenIdle() throws Exception {
        int n = 50;
        Path go = fx.base.resolve("go");
        List<Process> procs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            // Each container waits until the test has counted the servers, so all of them overlap.
            procs.add(fx.skiff("run", "shared", "sh", "-c", "echo up; while [ ! -e " + go + " ]; do sleep 0.1; done; echo done")
                    .timeout(Duration.ofMinutes(4)).start());
        }
        try {
            for (Process p : procs) {
                var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
                assertEquals("up", r.readLine(), () -> "a container did not start: " + stderr(p));
            }
            assertEquals(1, servers().size(), "exactly one squashfuse process serves all containers: " + servers());
            assertTrue(mounted());
        } finally {
            Files.writeString(go, "");
        }
        for (Process p : procs) {
            assertTrue(p.waitFor(2, TimeUnit.MINUTES));
            assertEquals(0, p.exitValue(), () -> stderr(p));
        }
        // Idle period is 1 s in tests; the reaper ticks every second.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while ((mounted() || !servers().isEmpty()) && System.nanoTime() < deadline) Thread.sleep(200);
        assertFalse(mounted(), "the image is still mounted after the idle period");
        assertEquals(List.of(), servers(), "squashfuse outlived its use");
        assertEquals("", Cmd.of("pgrep", "-u", Cmd.TEST_USER, "-f", "skiff-reaper.*" + hex).run().out(), "the reaper outlived its use");
        // and the next run mounts it again
        assertEquals("ok\n", fx.skiff("run", "shared", "echo", "ok").run().ok().out());
        assertTrue(mounted());
    }
}
