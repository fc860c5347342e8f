package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
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
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One FUSE mount serves every concurrent container of an image, and goes away once they are all gone; skiff's own
 * server is selectable, and a killed one is replaced by the next run.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
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

    private String serverLog() {
        try {
            return Files.readString(fx.xdg.resolve("skiff/mnt").resolve(hex + ".server.log"));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    static List<String> servers() {
        return servers("(squashfuse|skiff.engine.fuse.FuseMain).* ");
    }

    static List<String> servers(String kind) {
        return Cmd.of("pgrep", "-u", Cmd.TEST_USER, "-f", kind + mountPoint()).run().out().lines().toList();
    }

    static void awaitUnmounted() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while ((mounted() || !servers().isEmpty()) && System.nanoTime() < deadline) Thread.sleep(200);
        assertFalse(mounted(), "the image is still mounted after the idle period");
        assertEquals(List.of(), servers(), "the FUSE server outlived its use");
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
            assertEquals(1, servers().size(), "exactly one FUSE server serves all containers: " + servers());
            assertTrue(mounted());
        } finally {
            Files.writeString(go, "");
        }
        for (Process p : procs) {
            assertTrue(p.waitFor(2, TimeUnit.MINUTES));
            assertEquals(0, p.exitValue(), () -> stderr(p));
        }
        // Idle period is 1 s in tests; the reaper ticks every second.
        awaitUnmounted();
        assertEquals("", Cmd.of("pgrep", "-u", Cmd.TEST_USER, "-f", "skiff-reaper.*" + hex).run().out(), "the reaper outlived its use");
        // and the next run mounts it again
        assertEquals("ok\n", fx.skiff("run", "shared", "echo", "ok").run().ok().out());
        assertTrue(mounted());
    }

    /**
     * Runs first (a fresh mount point): skiff's own server when the user selects it; a killed server fails the
     * running container's reads instead of hanging them, and the next run mounts the image again.
     */
    @Test
    @Order(1)
    void skiffServerWhenSelectedAndAKilledOneIsReplacedByTheNextRun() throws Exception {
        Path conf = fx.base.resolve("conf");
        Files.createDirectories(conf.resolve("skiff"));
        Files.writeString(conf.resolve("skiff/config.toml"), "[run]\nsquashfs-mounter = \"skiff\"\n");
        Cmd.of("chmod", "-R", "a+rX", conf.toString()).run().ok();
        Path go = fx.base.resolve("go-kill");
        Process running = fx.skiff("run", "shared", "sh", "-c", "echo up; while [ ! -e " + go + " ]; do sleep 0.1; done; cat /etc/notexec.sh")
                .env("XDG_CONFIG_HOME", conf.toString()).timeout(Duration.ofMinutes(2)).start();
        try {
            var r = new java.io.BufferedReader(new java.io.InputStreamReader(running.getInputStream()));
            assertEquals("up", r.readLine(), () -> stderr(running));
            List<String> before = servers("skiff.engine.fuse.FuseMain.* ");
            assertEquals(1, before.size(), "skiff's server serves the image: " + servers());
            assertEquals(List.of(), servers("squashfuse.* "));
            Cmd.of("kill", "-9", before.getFirst()).run().ok();
            Files.writeString(go, "");
            assertTrue(running.waitFor(1, TimeUnit.MINUTES), "a reader of a dead server hangs");
            String err = stderr(running);
            assertNotEquals(0, running.exitValue());
            // A read gets ENOTCONN; a page of the shell's own executable that was not in memory yet gets SIGBUS.
            assertTrue(err.contains("Transport endpoint is not connected") || err.contains("Bus error"),
                    "the running container fails on the dead mount: " + err);
            // The next run finds the mount dead and mounts again, with skiff's server, not the fallback.
            var again = fx.skiff("run", "shared", "cat", "/etc/notexec.sh").env("XDG_CONFIG_HOME", conf.toString()).run().ok();
            assertEquals("echo no\n", again.out());
            assertFalse(again.err().contains("using squashfuse"), () -> again.err() + "\nserver log:\n" + serverLog());
            assertEquals(1, servers("skiff.engine.fuse.FuseMain.* ").size(), "skiff's server serves the image again: " + servers());
            assertEquals(List.of(), servers("squashfuse.* "));
        } finally {
            Files.writeString(go, "");
            running.destroyForcibly();
        }
        awaitUnmounted();
    }
}
