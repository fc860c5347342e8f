package skiff.container;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The container directory protocol in-process: build, find, clone, rename, remove, and races between threads. */
class ContainersTest {
    @TempDir
    Path storage;

    static final ContainerMetadata TEMPLATE = new ContainerMetadata(null, null, "example.org/t:1",
            Digest.sha256(new byte[0]), null,
            new ImageConfig(null, null, "amd64", "linux", null, null, null, null));

    static Containers.Populator tree(String content) {
        return rootfs -> {
            Files.createDirectories(rootfs.resolve("etc"));
            Files.writeString(rootfs.resolve("etc/hello"), content);
            Path ro = Files.createDirectories(rootfs.resolve("ro/inner"));
            Files.writeString(ro.resolve("f"), "x");
            Files.setAttribute(ro, "unix:mode", 0500);
            Files.setAttribute(rootfs.resolve("ro"), "unix:mode", 0555);
        };
    }

    @Test
    void buildFindCloneRenameRemove() throws Exception {
        assertTrue(Containers.open(storage).find("a").isEmpty());
        assertTrue(Containers.open(storage).find("../../etc").isEmpty(), "an invalid name is simply not found");
        var m = Containers.open(storage).build("a", TEMPLATE, tree("one"));
        assertEquals("a", m.name());
        assertTrue(m.id().matches("[0-9a-f]{64}"));
        Container c = Containers.open(storage).find("a").orElseThrow();
        assertEquals("example.org/t:1", c.image());
        assertEquals("linux", c.config().os());
        assertEquals("one", Files.readString(c.rootfs().resolve("etc/hello")));

        Files.writeString(c.rootfs().resolve("etc/hello"), "changed");
        var clone = Containers.open(storage).clone("a", null);
        assertFalse(clone.id().equals(m.id()));
        assertEquals("changed", Files.readString(Containers.open(storage).get(clone.name()).rootfs().resolve("etc/hello")));

        Containers.open(storage).rename(clone.name(), "b");
        assertEquals(List.of("a", "b"), Containers.open(storage).list().stream().map(l -> l.metadata().name()).toList());
        var inUse = assertThrows(SkiffException.class, () -> Containers.open(storage).rename("a", "b"));
        assertEquals(ExitCode.USAGE, inUse.exitCode());

        Containers.open(storage).remove("a");
        Containers.open(storage).remove("b");
        var missing = assertThrows(SkiffException.class, () -> Containers.open(storage).remove("a"));
        assertEquals(ExitCode.IMAGE, missing.exitCode());
        try (var s = Files.list(Containers.open(storage).dir())) {
            assertEquals(List.of(), s.toList());
        }
    }

    @Test
    void aFailedBuildLeavesNothing() throws Exception {
        var e = assertThrows(java.io.IOException.class, () -> Containers.open(storage).build("broken", TEMPLATE, rootfs -> {
            tree("x").populate(rootfs);
            throw new java.io.IOException("disk full (simulated)");
        }));
        assertEquals("disk full (simulated)", e.getMessage());
        assertTrue(Containers.open(storage).find("broken").isEmpty());
        try (var s = Files.list(Containers.open(storage).dir())) {
            assertEquals(List.of(), s.toList(), "the temporary directory, read-only parts included, was deleted");
        }
    }

    @Test
    void leftoversOfKilledCommandsAreSweptButLiveBuildsAreNot() throws Exception {
        Path cdir = Files.createDirectories(Containers.open(storage).dir());
        // A create killed mid-copy: its temporary directory stays, nobody holds its build lock.
        Path dead = Files.createDirectories(cdir.resolve(".tmp-big-0123456789abcdef/rootfs/ro"));
        Files.setAttribute(dead, "unix:mode", 0555);
        Files.createDirectories(storage.resolve("locks"));
        Files.writeString(storage.resolve("locks/container-build-0123456789abcdef.lock"), "");
        // An rm killed while deleting.
        Files.createDirectories(cdir.resolve(".trash-old-abcdefabcdef/rootfs/etc"));
        // A create in progress (in this JVM, holding its lock while it populates) must survive the sweep.
        var during = new java.util.concurrent.atomic.AtomicReference<List<String>>();
        Containers.open(storage).build("live", TEMPLATE, rootfs -> {
            tree("x").populate(rootfs);
            Containers.open(storage).sweepLeftovers();
            try (var s = Files.list(cdir)) {
                during.set(s.map(p -> p.getFileName().toString()).sorted().toList());
            }
        });
        assertEquals(1, during.get().size(), "only the live build's own directory is left during it: " + during.get());
        assertTrue(during.get().getFirst().startsWith(".tmp-live-"), during.get().toString());
        try (var s = Files.list(cdir)) {
            assertEquals(List.of("live"), s.map(p -> p.getFileName().toString()).toList());
        }
        try (var s = Files.list(storage.resolve("locks"))) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("container-build-")), "build locks are removed");
        }
    }

    @Test
    void racingThreadsClaimANameOnce() throws Exception {
        int n = 6;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<String>> results = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int id = i;
            Callable<String> task = () -> {
                go.await();
                try {
                    Containers.open(storage).build("same", TEMPLATE, tree("from " + id));
                    return "won";
                } catch (SkiffException e) {
                    return e.exitCode() + ": " + e.getMessage();
                }
            };
            results.add(pool.submit(task));
        }
        go.countDown();
        int won = 0;
        for (var f : results) {
            String r = f.get();
            if (r.equals("won")) won++;
            else assertTrue(r.startsWith("USAGE") && r.contains("already in use"), r);
        }
        pool.shutdown();
        assertEquals(1, won);
        // Generated names never collide either.
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 5; i++) names.add(Containers.open(storage).build(null, TEMPLATE, tree("g")).name());
        assertEquals(5, names.stream().distinct().count());
    }
}
