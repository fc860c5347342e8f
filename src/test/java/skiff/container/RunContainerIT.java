package skiff.container;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.testing.Cmd;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code skiff run NAME}: changes made by a run are in the container's rootfs and seen by the next run and
 * by a clone. A run that looks the name up as an image instead (docker.io/library/persist:latest) fails the test.
 */
class RunContainerIT {
    @TempDir
    static Path work;
    static Path storage;

    @BeforeAll
    static void image() throws Exception {
        storage = work.resolve("storage");
        ContainerFixture.image(work, storage);
        ContainerFixture.chownToTestUser(storage);
    }

    static Cmd.Result skiff(String... args) {
        return Cmd.skiff(storage, args).asTestUser().run();
    }

    @Test
    void changesMadeByRunPersist() throws Exception {
        skiff("create", "--name", "persist", ContainerFixture.IMAGE).ok();
        var first = skiff("run", "persist", "sh", "-c", "echo from-run > /root/made && echo ok");
        assertFalse(first.err().contains("library/persist:latest"), "run looked the container up as an image: " + first.err());
        assertEquals(0, first.exit(), first.toString());
        assertEquals("from-run\n", Files.readString(storage.resolve("containers/persist/rootfs/root/made")));
        assertEquals("from-run", skiff("run", "persist", "cat", "/root/made").ok().out().strip());
        skiff("clone", "persist", "persist2").ok();
        assertEquals("from-run", skiff("run", "persist2", "cat", "/root/made").ok().out().strip());
        // The image itself is untouched.
        assertTrue(Files.notExists(storage.resolve("dir").resolve(
                skiff.store.Store.open(storage).resolve(ContainerFixture.IMAGE).orElseThrow().digest().hex()).resolve("root/made")));
        skiff("rm", "persist", "persist2").ok();
    }
}
