package skiff.container;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** create / ps / clone / rename / rm through bin/skiff, as the unprivileged test user with storage it owns. */
class ContainersIT {
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

    static Path rootfs(String name) {
        return storage.resolve("containers").resolve(name).resolve("rootfs");
    }

    @Test
    void lifecycleKeepsChangesAcrossCloneAndRename() throws Exception {
        assertEquals("life", skiff("create", "--name", "life", ContainerFixture.IMAGE).ok().out().strip());
        // The copy belongs to the user, including the image's read-only directory.
        assertEquals(1500, ContainerFixture.uid(rootfs("life").resolve("ro/kept")));
        assertEquals(ContainerFixture.describe(storage.resolve("dir").resolve(
                        skiff.store.Store.open(storage).resolve(ContainerFixture.IMAGE).orElseThrow().digest().hex())),
                ContainerFixture.describe(rootfs("life")), "the container starts as the image's tree");

        // A change made in the container (as the engine would, as the user) is kept.
        Cmd.of("runuser", "-u", Cmd.TEST_USER, "--", "sh", "-c", "echo changed > " + rootfs("life").resolve("root/note")).run().ok();
        var found = Containers.open(storage).find("life").orElseThrow();
        assertEquals(ContainerFixture.IMAGE, found.image());
        assertEquals(List.of("/bin/sh"), found.config().config().cmd());
        assertEquals("changed\n", Files.readString(found.rootfs().resolve("root/note")));

        assertEquals("life2", skiff("clone", "life", "life2").ok().out().strip());
        assertEquals("changed\n", Files.readString(rootfs("life2").resolve("root/note")));
        Cmd.of("runuser", "-u", Cmd.TEST_USER, "--", "sh", "-c", "echo only-in-clone > " + rootfs("life2").resolve("root/other")).run().ok();
        assertFalse(Files.exists(rootfs("life").resolve("root/other")), "the clone is independent");

        skiff("rename", "life2", "life3").ok();
        assertTrue(Containers.open(storage).find("life2").isEmpty());
        assertEquals("only-in-clone\n", Files.readString(Containers.open(storage).find("life3").orElseThrow().rootfs().resolve("root/other")));
        assertEquals("life3", Containers.open(storage).metadata("life3").name());

        JsonNode ps = Json.MAPPER.readTree(skiff("ps", "--format", "json", "--size").ok().out());
        List<String> names = new ArrayList<>();
        ps.forEach(n -> names.add(n.get("name").asText()));
        assertTrue(names.containsAll(List.of("life", "life3")), names.toString());
        ps.forEach(n -> assertTrue(n.get("size").asLong() > 1_000_000, "busybox alone is over 1 MB: " + n));
        String table = skiff("ps").ok().out();
        assertTrue(table.startsWith("NAME"), table);
        assertTrue(table.contains("life3") && table.contains(ContainerFixture.IMAGE), table);

        // rm: an unknown name is reported (exit 3) but the others are still removed, read-only dirs included.
        var rm = skiff("rm", "life", "no-such-box", "life3");
        assertEquals(3, rm.exit(), rm.toString());
        assertTrue(rm.err().contains("no such container: 'no-such-box'"), rm.err());
        assertTrue(Containers.open(storage).find("life").isEmpty());
        assertTrue(Containers.open(storage).find("life3").isEmpty());
        assertFalse(Files.exists(storage.resolve("containers/life")));
        try (Stream<Path> s = Files.list(storage.resolve("containers"))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".")), "no temporary or trash directories left");
        }
    }

    @Test
    void withoutACachedRootfsTheImageIsFlattenedStraightIntoTheContainer() throws Exception {
        skiff("create", "--name", "cached", ContainerFixture.IMAGE).ok();
        var store = skiff.store.Store.open(storage);
        var manifest = store.resolve(ContainerFixture.IMAGE).orElseThrow().digest();
        Path cache = skiff.rootfs.Rootfs.path(store, manifest, skiff.rootfs.Rootfs.Format.DIR);
        Path saved = work.resolve("saved-cache");
        Files.move(cache, saved);
        try {
            skiff("create", "--name", "direct", ContainerFixture.IMAGE).ok();
            assertFalse(Files.exists(cache), "no copy of the image was left in the cache");
            assertEquals(ContainerFixture.describe(rootfs("cached")), ContainerFixture.describe(rootfs("direct")));
            assertEquals(1500, ContainerFixture.uid(rootfs("direct").resolve("bin/busybox")));
        } finally {
            Files.move(saved, cache);
        }
        skiff("rm", "cached", "direct").ok();
    }

    @Test
    void namesAreCheckedAndGeneratedWhenAbsent() {
        String generated = skiff("create", ContainerFixture.IMAGE).ok().out().strip();
        assertTrue(generated.matches("[a-z]+_[a-z]+(_\\d+)?"), generated);
        assertTrue(Containers.open(storage).find(generated).isPresent());

        var taken = skiff("create", "--name", generated, ContainerFixture.IMAGE);
        assertEquals(2, taken.exit(), taken.toString());
        assertTrue(taken.err().contains("already in use"), taken.err());

        var bad = skiff("create", "--name", "../escape", ContainerFixture.IMAGE);
        assertEquals(2, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("invalid container name"), bad.err());

        var noImage = skiff("create", "--name", "x", "example.org/absent:1");
        assertEquals(3, noImage.exit(), noImage.toString());
        assertTrue(noImage.err().contains("not in the store"), noImage.err());

        var cloneMissing = skiff("clone", "absent-box");
        assertEquals(3, cloneMissing.exit(), cloneMissing.toString());
        var renameClash = skiff("rename", generated, generated);
        assertEquals(2, renameClash.exit(), renameClash.toString());
        skiff("rm", generated).ok();
    }

    @Test
    void concurrentCreatesOfOneNameExactlyOneWins() throws Exception {
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 3; i++) ps.add(Cmd.skiff(storage, "create", "--name", "race", ContainerFixture.IMAGE).asTestUser().start());
        int won = 0;
        for (Process p : ps) {
            String err = new String(p.getErrorStream().readAllBytes());
            int exit = p.waitFor();
            if (exit == 0) won++;
            else assertTrue(exit == 2 && err.contains("already in use"), "exit " + exit + ": " + err);
        }
        assertEquals(1, won);
        assertTrue(Files.isRegularFile(storage.resolve("containers/race/container.json")));
        try (Stream<Path> s = Files.list(storage.resolve("containers"))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".tmp-race")), "losers cleaned up after themselves");
        }
        skiff("rm", "race").ok();
    }
}
