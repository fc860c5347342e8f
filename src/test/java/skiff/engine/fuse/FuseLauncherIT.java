package skiff.engine.fuse;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The launcher that skiff run uses for its shared mounts: it returns once the detached server has mounted, and a
 * server that cannot mount is reported at once with the server's own reason, not after the timeout.
 */
class FuseLauncherIT {
    static Path base;
    static Path image;

    @BeforeAll
    static void setUp() throws IOException {
        base = Files.createTempDirectory(Path.of("/tmp"), "skiff-launcher-it");
        Files.createDirectories(base.resolve("src/etc"));
        Files.writeString(base.resolve("src/etc/hello"), "hello\n");
        image = base.resolve("img.sqfs");
        Cmd.of("mksquashfs", base.resolve("src").toString(), image.toString(), "-noappend", "-quiet", "-no-progress").run().ok();
    }

    @AfterAll
    static void tearDown() {
        Cmd.of("rm", "-rf", base.toString()).run();
    }

    @Test
    void returnsOnceMountedAndTheMountServesTheImage() throws Exception {
        Path mnt = Files.createDirectories(base.resolve("mnt"));
        Path log = base.resolve("ok.log");
        FuseLauncher.start(Path.of("/usr/bin/setsid"), image, mnt, Path.of("/usr/bin/fusermount3"), log);
        try {
            assertEquals("hello\n", Files.readString(mnt.resolve("etc/hello")));
            assertTrue(Files.notExists(base.resolve("ok.log.status")), "the status file is removed");
        } finally {
            Cmd.of("fusermount3", "-u", mnt.toString()).run().ok();
        }
    }

    @Test
    void aServerThatCannotMountIsReportedAtOnceWithItsReason() {
        Path log = base.resolve("bad.log");
        long t0 = System.nanoTime();
        var e = assertThrows(IOException.class, () -> FuseLauncher.start(Path.of("/usr/bin/setsid"), image,
                base.resolve("no-such-dir"), Path.of("/usr/bin/fusermount3"), log));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().contains("cannot serve") && e.getMessage().contains("no-such-dir"), e.getMessage());
        assertTrue(ms < FuseLauncher.MOUNT_TIMEOUT_MS / 2, "reported after " + ms + " ms");
    }
}
