package skiff.rootfs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.reference.Reference;
import skiff.store.Store;
import skiff.testing.ImageBuilder;
import skiff.testing.TreeDiff;
import skiff.util.SkiffException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The conversion cache: converts once, reuses, appears atomically, cleans up after failures. */
class RootfsTest {
    static final String NAME = Reference.parse("example.org/test/rootfs:1").toString();

    static Digest image(Path tmp, Path storage) throws Exception {
        Path tree = ImageBuilder.busyboxTree(tmp.resolve("tree"));
        Files.writeString(tree.resolve("etc/hostname"), "box\n");
        Path l2 = Files.createDirectories(tmp.resolve("l2/etc"));
        Files.writeString(l2.resolve(".wh.hostname"), "");
        Files.writeString(l2.resolve("motd"), "hello\n");
        ImageBuilder.create(tmp.resolve("img")).layerFromDir(tree).layerFromDir(l2.getParent()).copyInto(storage, NAME);
        return Store.open(storage).resolve(NAME).orElseThrow().digest();
    }

    @Test
    void convertsOnceIntoTheCacheAndReusesIt(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Digest d = image(tmp, storage);
        Store store = Store.open(storage);
        assertEquals(Set.of(), Rootfs.formatsPresent(store, d));

        List<String> warnings = new ArrayList<>();
        Path p = Rootfs.ensure(store, d, Rootfs.Format.DIR, ConvertSettings.defaults(), warnings::add);
        assertEquals(storage.resolve("dir").resolve(d.hex()), p);
        assertEquals("hello\n", Files.readString(p.resolve("etc/motd")));
        assertFalse(Files.exists(p.resolve("etc/hostname")));
        assertTrue(Files.isExecutable(p.resolve("bin/busybox")));
        assertEquals(Set.of(Rootfs.Format.DIR), Rootfs.formatsPresent(store, d));
        assertEquals(List.of(), warnings);

        // Reused: a marker survives a second ensure, which therefore did not convert again.
        Files.writeString(p.resolve("marker"), "x");
        assertEquals(p, Rootfs.ensure(store, d, Rootfs.Format.DIR, ConvertSettings.defaults(), warnings::add));
        assertTrue(Files.exists(p.resolve("marker")));
        try (var s = Files.list(storage.resolve("tmp"))) {
            assertEquals(List.of(), s.toList(), "no temporary left behind");
        }

        assertTrue(Rootfs.removeCached(store, d));
        assertFalse(Files.exists(p));
        assertEquals(Set.of(), Rootfs.formatsPresent(store, d));
        assertFalse(Rootfs.removeCached(store, d));
    }

    @Test
    void threadsOfOneProcessShareOneConversion(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Digest d = image(tmp, storage);
        Store store = Store.open(storage);
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++)
                results.add(pool.submit(() -> Rootfs.ensure(store, d, Rootfs.Format.DIR, ConvertSettings.defaults(), w -> {})));
            for (var r : results) assertEquals(Rootfs.path(store, d, Rootfs.Format.DIR), r.get());
        }
        assertEquals("hello\n", Files.readString(Rootfs.path(store, d, Rootfs.Format.DIR).resolve("etc/motd")));
    }

    @Test
    void aFailedConversionLeavesNothingVisibleAndLeftoversOfAKilledOneAreRemoved(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Digest d = image(tmp, storage);
        Store store = Store.open(storage);
        // A killed conversion left this behind:
        Path stale = Files.createDirectories(storage.resolve("tmp/convert-" + d.hex() + "-12345/bin"));
        Files.setAttribute(stale.getParent(), "unix:mode", 0555);

        // A limit the image exceeds makes the conversion fail half-way (after some directories).
        var tight = ConvertSettings.defaults().withLimits(skiff.layer.Limits.defaults().withMaxEntries(5));
        var e = assertThrows(SkiffException.class, () -> Rootfs.ensure(store, d, Rootfs.Format.DIR, tight, w -> {}));
        assertEquals(5, e.exitCode().code, e.getMessage());
        assertTrue(e.getMessage().startsWith("the image has more than 5 entries"), e.getMessage());
        assertFalse(Files.exists(Rootfs.path(store, d, Rootfs.Format.DIR)));
        try (var s = Files.list(storage.resolve("tmp"))) {
            assertEquals(List.of(), s.toList(), "the failed and the stale temporaries are gone");
        }
    }

    @Test
    void convertToAnOutputPathIsAtomicAndRefusesToOverwriteADirectory(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Digest d = image(tmp, storage);
        Store store = Store.open(storage);
        Path out = tmp.resolve("out/rootfs");
        Files.createDirectories(out.getParent());
        assertEquals(out, Rootfs.convertTo(store, d, Rootfs.Format.DIR, ConvertSettings.defaults(), w -> {}, out));
        var cached = Rootfs.ensure(store, d, Rootfs.Format.DIR, ConvertSettings.defaults(), w -> {});
        TreeDiff.assertSame(TreeDiff.snapshot(cached, true), TreeDiff.snapshot(out, true));
        var e = assertThrows(SkiffException.class, () -> Rootfs.convertTo(store, d, Rootfs.Format.DIR, ConvertSettings.defaults(), w -> {}, out));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        try (var s = Files.list(out.getParent())) {
            assertEquals(List.of(out), s.toList());
        }
    }

    @Test
    void afterPullFollowsTheUsersConfig(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Digest d = image(tmp, storage);
        Store store = Store.open(storage);
        Path cfg = Files.createDirectories(tmp.resolve("cfg/skiff"));
        Map<String, String> env = Map.of("XDG_CONFIG_HOME", tmp.resolve("cfg").toString(), "HOME", tmp.toString());

        Files.writeString(cfg.resolve("config.toml"), "[registry]\nmirror = \"x\"\n[convert]\nformat = \"none\"\n");
        assertEquals(java.util.Optional.empty(), Rootfs.afterPull(store, d, env));
        assertEquals(Set.of(), Rootfs.formatsPresent(store, d));

        Files.writeString(cfg.resolve("config.toml"), "[convert]\nformat = \"dir\"\n");
        assertEquals(Rootfs.path(store, d, Rootfs.Format.DIR), Rootfs.afterPull(store, d, env).orElseThrow());
        assertEquals(Set.of(Rootfs.Format.DIR), Rootfs.formatsPresent(store, d));

        Files.writeString(cfg.resolve("config.toml"), "[convert]\nformat = \"tarball\"\n");
        var e = assertThrows(SkiffException.class, () -> Rootfs.afterPull(store, d, env));
        assertEquals(6, e.exitCode().code);
        assertEquals("invalid configuration in " + cfg.resolve("config.toml")
                + ": [convert] format must be \"squashfs\", \"dir\" or \"none\", not \"tarball\"", e.getMessage());
    }

    @Test
    void anIndexOrAConfigIsNotConvertedAsAnImage(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Digest d = image(tmp, storage);
        Store store = Store.open(storage);
        Digest config = store.manifest(d).config().digest();
        var e = assertThrows(SkiffException.class, () -> Rootfs.ensure(store, config, Rootfs.Format.DIR, ConvertSettings.defaults(), w -> {}));
        assertEquals(3, e.exitCode().code, e.getMessage());
        assertFalse(Files.exists(Rootfs.path(store, config, Rootfs.Format.DIR)));
    }

    @Test
    void settingsFromConfig(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("config.toml");
        assertEquals(ConvertSettings.defaults(), ConvertSettings.load(f));
        Files.writeString(f, "[convert]\nformat = \"squashfs\"\ncompression = \"gzip\"\nlevel = 9\nthreads = 2\nmax-entries = 100\nmax-ratio = 50\n");
        var s = ConvertSettings.load(f);
        assertEquals(skiff.squashfs.SquashfsWriter.Compression.GZIP, s.compression());
        assertEquals(9, s.level());
        assertEquals(2, s.threads());
        assertEquals(100, s.limits().maxEntries());
        assertEquals(50.0, s.limits().maxRatio());
        Files.writeString(f, "[convert]\ncompression = \"gzip\"\nlevel = 15\n");
        assertEquals(6, assertThrows(SkiffException.class, () -> ConvertSettings.load(f)).exitCode().code);
        Files.writeString(f, "[convert]\nformt = \"dir\"\n");
        assertTrue(assertThrows(SkiffException.class, () -> ConvertSettings.load(f)).getMessage().contains("formt is not a known key"));
        Files.writeString(f, "[convert\n");
        assertEquals(6, assertThrows(SkiffException.class, () -> ConvertSettings.load(f)).exitCode().code);
    }
}
