package skiff.layer;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import skiff.image.MediaTypes.Compression;
import skiff.rootfs.DirectorySink;
import skiff.testing.ImageBuilder;
import skiff.testing.TreeDiff;
import skiff.util.SkiffException;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Layers a hostile image could carry. Most are refused with exit 5 and a message naming the layer and the
 * entry, and nothing is written anywhere: neither inside the output (validation ends before the first
 * write) nor outside it (the directory the planted symlinks point to stays empty). Entries below planted
 * symbolic links are followed, but only inside the image: they land where umoci puts them, and a host
 * file the links name stays untouched.
 */
class HostileLayersTest {
    @TempDir
    static Path shared;

    record Case(String name, Function<Path, List<LayerSource>> layers, String message) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final String TAIL = "; refusing to convert the image (it was not built by a well-behaved tool)";

    static List<LayerSource> one(Tars t) {
        return List.of(Tars.layer("L1", t.bytes()));
    }

    /** A directory d and n links l1 -> l2 -> ... -> ln -> d: resolving l1 follows n links. */
    static Tars chain(int n) {
        Tars t = new Tars().dir(".", 0755).dir("d", 0755);
        for (int i = 1; i < n; i++) t.symlink("l" + i, "l" + (i + 1));
        return t.symlink("l" + n, "d");
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("dot-dot", out -> one(new Tars().file("../evil", "x")),
                        "layer L1 has a hostile or broken entry '../evil': '..' would leave the root filesystem" + TAIL),
                new Case("dot-dot inside", out -> one(new Tars().dir("a", 0755).file("a/../../evil", "x")),
                        "layer L1 has a hostile or broken entry 'a/../../evil': '..' would leave the root filesystem" + TAIL),
                new Case("link loop", out -> one(new Tars().symlink("a", "b").symlink("b", "a").file("a/x", "x")),
                        "layer L1 has a hostile or broken entry 'a/x': its parent 'a' goes through more than 40 symbolic links"
                                + " (too many levels of symbolic links: a loop?)" + TAIL),
                new Case("link to itself", out -> one(new Tars().symlink("l", "./l/").file("l/x", "x")),
                        "layer L1 has a hostile or broken entry 'l/x': its parent 'l' goes through more than 40 symbolic links"
                                + " (too many levels of symbolic links: a loop?)" + TAIL),
                new Case("loop of an earlier layer met by a whiteout", out -> List.of(
                                Tars.layer("L1", new Tars().symlink("a", "/b").symlink("b", "../a").bytes()),
                                Tars.layer("L2", new Tars().file("a/.wh.victim", "").bytes())),
                        "layer L2 has a hostile or broken entry 'a/.wh.victim': its parent 'a' goes through more than 40"
                                + " symbolic links (too many levels of symbolic links: a loop?)" + TAIL),
                new Case("loop met by a hard link target", out -> one(new Tars().symlink("a", "b").symlink("b", "a").hardlink("h", "a/x")),
                        "layer L1 has a hostile or broken entry 'h': its parent 'a' goes through more than 40 symbolic links"
                                + " (too many levels of symbolic links: a loop?)" + TAIL),
                new Case("41 links in a chain", out -> one(chain(41).file("l1/f", "x")),
                        "layer L1 has a hostile or broken entry 'l1/f': its parent 'l1' goes through more than 40 symbolic links"
                                + " (too many levels of symbolic links: a loop?)" + TAIL),
                new Case("link to a file as a parent", out -> one(new Tars().file("f", "x").symlink("l", "/f").file("l/g", "y")),
                        "layer L1 has a hostile or broken entry 'l/g': its parent 'l' leads through symbolic links to 'f', which is not a directory" + TAIL),
                new Case("resolved path over 4096 bytes", out -> one(new Tars().symlink("l", "d/".repeat(2000)).file("l/" + "e/".repeat(60) + "f", "x")),
                        "layer L1 has a hostile or broken entry 'l/" + "e/".repeat(60) + "f': once the symbolic links of its parent are followed,"
                                + " its path is longer than 4096 bytes" + TAIL),
                new Case("links walking too many components", out -> one(new Tars()
                                .symlink("a", "./".repeat(2000) + "b").symlink("b", "./".repeat(2000) + "c").symlink("c", "./".repeat(2000)).file("a/f", "x")),
                        "layer L1 has a hostile or broken entry 'a/f': resolving its parent 'a' walks more than 4096 path components"
                                + " through symbolic links" + TAIL),
                new Case("link target component over 255 bytes", out -> one(new Tars().symlink("l", "x".repeat(256)).file("l/f", "x")),
                        "layer L1 has a hostile or broken entry 'l/f': its parent 'l' leads through a symbolic link to a path component"
                                + " longer than 255 bytes" + TAIL),
                new Case("hard link through a symlink to a host file", out -> one(new Tars().symlink("link", out.toString()).hardlink("h", "link/secret")),
                        "layer L1 has a hostile or broken entry 'h': a hard link to 'link/secret', which no earlier entry or layer created" + TAIL),
                new Case("hard link out with ..", out -> one(new Tars().hardlink("h", "../../etc/passwd")),
                        "layer L1 has a hostile or broken entry '../../etc/passwd': '..' would leave the root filesystem" + TAIL),
                new Case("hard link to a host file", out -> one(new Tars().hardlink("h", "/etc/shadow")),
                        "layer L1 has a hostile or broken entry 'h': a hard link to '/etc/shadow', which no earlier entry or layer created" + TAIL),
                new Case("hard link to a directory", out -> one(new Tars().dir("d", 0755).hardlink("h", "d")),
                        "layer L1 has a hostile or broken entry 'h': a hard link to the directory 'd'" + TAIL),
                new Case("file under a file", out -> one(new Tars().file("f", "x").file("f/g", "y")),
                        "layer L1 has a hostile or broken entry 'f/g': its parent 'f' is not a directory" + TAIL),
                new Case("root as a file", out -> one(new Tars().file(".", "x")),
                        "layer L1 has a hostile or broken entry '.': the root of the image must be a directory" + TAIL),
                new Case("component over 255 bytes", out -> one(new Tars().file("a/" + "x".repeat(256), "x")),
                        "layer L1 has a hostile or broken entry 'a/" + "x".repeat(256) + "': a path component is longer than 255 bytes" + TAIL),
                new Case("path over 4096 bytes", out -> one(new Tars().file("a/".repeat(2100) + "f", "x")),
                        "layer L1 has a hostile or broken entry '" + "a/".repeat(40) + "...': the name is longer than 4096 bytes" + TAIL),
                new Case("symlink target over 4095 bytes", out -> one(new Tars().symlink("s", "t".repeat(4096))),
                        "layer L1 has a hostile or broken entry 's': the symbolic link target is empty or longer than 4095 bytes" + TAIL),
                new Case("not a tar", out -> List.of(new LayerSource("L1", Compression.NONE, () -> new ByteArrayInputStream("garbage, not a tar archive at all".repeat(40).getBytes()))),
                        null),
                new Case("truncated gzip", out -> {
                    byte[] gz = Tars.compress(new Tars().file("a", "x".repeat(100_000)).bytes(), Compression.GZIP);
                    byte[] cut = java.util.Arrays.copyOf(gz, gz.length / 2);
                    return List.of(new LayerSource("L1", Compression.GZIP, () -> new ByteArrayInputStream(cut)));
                }, null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void refusedWithAClearMessageAndNoLinkWritten(Case c, @TempDir Path tmp) throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path root = tmp.resolve("work/root");
        Files.createDirectories(root.getParent());
        List<String> warnings = new ArrayList<>();
        var e = assertThrows(SkiffException.class, () -> Flattener.flatten(c.layers().apply(outside), new DirectorySink(root, warnings::add),
                Limits.defaults(), warnings::add, 2));
        assertEquals(5, e.exitCode().code);
        if (c.message() != null) assertEquals(c.message(), e.getMessage());
        else assertTrue(e.getMessage().startsWith("layer L1 is "), e.getMessage());
        try (var s = Files.list(outside)) {
            assertEquals(List.of(), s.toList(), "written outside the root");
        }
        // One pass writes each file as its layer streams by, so a refusal may come after some content was written
        // (the conversion then deletes its temporary output); but never a link, which comes only once all is read.
        try (var s = Files.walk(root)) {
            assertEquals(List.of(), s.filter(p -> !Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                    && !Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList(), "a link written before validation ended");
        }
        assertFalse(Files.exists(tmp.resolve("work/evil")) || Files.exists(tmp.resolve("evil")));
    }

    interface Check {
        void check(Path root, String outside) throws Exception;
    }

    /** Layers (as tars) that plant links and write through them; {@code out} is a host directory. */
    record Resolved(String name, Function<Path, List<byte[]>> tars, Check check) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Resolved> resolvedCases() {
        return Stream.of(
                new Resolved("absolute link to a host directory", out -> List.of(new Tars().dir(".", 0755)
                        .symlink("link", out.toString()).file("link/evil", "planted").bytes()),
                        (root, out) -> assertEquals("planted", Files.readString(root.resolve(out).resolve("evil")))),
                new Resolved("relative link climbing out, from an earlier layer", out -> List.of(
                        new Tars().dir(".", 0755).dir("etc", 0755).symlink("etc/cron.d", "../../../../.." + out).bytes(),
                        new Tars().file("etc/cron.d/evil", "planted").bytes()),
                        (root, out) -> assertEquals("planted", Files.readString(root.resolve(out).resolve("evil")))),
                new Resolved("link to ..", out -> List.of(new Tars().dir(".", 0755).symlink("up", "..")
                        .dir("up/x", 0700).file("up/up/y", "at the root").bytes()),
                        (root, out) -> {
                            assertTrue(Files.isDirectory(root.resolve("x"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
                            assertEquals("at the root", Files.readString(root.resolve("y")));
                        }),
                new Resolved("link to /", out -> List.of(new Tars().dir(".", 0755).dir("etc", 0755)
                        .symlink("r", "/").file("r/etc/f", "in etc").bytes()),
                        (root, out) -> assertEquals("in etc", Files.readString(root.resolve("etc/f")))),
                new Resolved("whiteout through a link to the host", out -> List.of(
                        new Tars().dir(".", 0755).symlink("link", out.toString()).bytes(),
                        new Tars().file("link/.wh.victim", "").bytes()),
                        (root, out) -> assertTrue(Files.isSymbolicLink(root.resolve("link")))),
                new Resolved("chain of links, one absolute", out -> List.of(new Tars().dir(".", 0755).dir("usr", 0755).dir("usr/d", 0750)
                        .symlink("a", "b").symlink("b", "c/d").symlink("c", "/usr").file("a/f", "through three links").bytes()),
                        (root, out) -> assertEquals("through three links", Files.readString(root.resolve("usr/d/f")))),
                new Resolved("40 links in a chain", out -> List.of(chain(40).file("l1/f", "x").bytes()),
                        (root, out) -> assertEquals("x", Files.readString(root.resolve("d/f")))),
                new Resolved("dangling link as a parent", out -> List.of(new Tars().dir(".", 0755)
                        .symlink("l", "nowhere/../somewhere/deep").file("l/f", "created").bytes()),
                        (root, out) -> assertEquals("created", Files.readString(root.resolve("somewhere/deep/f")))),
                new Resolved("link replaced in the same layer", out -> List.of(
                        new Tars().dir(".", 0755).dir("usr", 0755).dir("usr/lib", 0755).symlink("lib", "usr/lib").bytes(),
                        new Tars().file("lib/a", "a").symlink("lib", "opt").dir("opt", 0755).file("lib/b", "b")
                                .dir("lib", 0700).file("lib/c", "c").bytes()),
                        (root, out) -> {
                            assertEquals("a", Files.readString(root.resolve("usr/lib/a")));
                            assertEquals("b", Files.readString(root.resolve("opt/b")));
                            assertEquals(List.of("c"), FlattenerVsUmociTest.list(root.resolve("lib")));
                        }),
                new Resolved("hard link through a link", out -> List.of(
                        new Tars().dir(".", 0755).dir("usr", 0755).dir("usr/lib", 0755).file("usr/lib/libx.so", "lib").symlink("lib", "usr/lib").bytes(),
                        new Tars().hardlink("libcopy", "lib/libx.so").bytes()),
                        (root, out) -> assertEquals(Files.getAttribute(root.resolve("usr/lib/libx.so"), "unix:ino"),
                                Files.getAttribute(root.resolve("libcopy"), "unix:ino"))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("resolvedCases")
    void linksInParentsAreFollowedInsideTheRootLikeUmoci(Resolved c, @TempDir Path tmp) throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("victim"), "host file");
        List<byte[]> tars = c.tars().apply(outside);
        List<LayerSource> layers = new ArrayList<>();
        ImageBuilder img = ImageBuilder.create(tmp.resolve("img"));
        for (int i = 0; i < tars.size(); i++) {
            layers.add(Tars.layer("L" + (i + 1), tars.get(i)));
            Path tar = Files.write(tmp.resolve("layer" + i + ".tar"), tars.get(i));
            img.layerFromTar(tar);
        }
        List<String> warnings = new ArrayList<>();
        Path ours = tmp.resolve("ours");
        Flattener.flatten(layers, new DirectorySink(ours, warnings::add), Limits.defaults(), warnings::add);
        String out = outside.toString().substring(1);
        c.check().check(ours, out);
        assertEquals(List.of("victim"), FlattenerVsUmociTest.list(outside), "written outside the root");
        assertEquals("host file", Files.readString(outside.resolve("victim")));
        assertEquals(List.of(), warnings);

        Path theirs = Images.umociUnpack(img.layout(), "latest", tmp.resolve("umoci"));
        TreeDiff.assertSame(TreeDiff.ownerAccess(TreeDiff.snapshot(theirs, false)), TreeDiff.ownerAccess(TreeDiff.snapshot(ours, false)));
        assertEquals(List.of("victim"), FlattenerVsUmociTest.list(outside), "umoci wrote outside the root");
    }

    @Test
    void absoluteNamesAreTakenRelativeToTheRoot(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("root");
        Flattener.flatten(one(new Tars().file("/etc/abs", "inside").file("./rel/./x", "dot")), new DirectorySink(root, w -> {}), Limits.defaults(), w -> {});
        assertEquals("inside", Files.readString(root.resolve("etc/abs")));
        assertEquals("dot", Files.readString(root.resolve("rel/x")));
    }

    @Test
    void tooManyEntries() {
        byte[] tar = new Tars().file("a", "1").file("b", "2").file("c", "3").bytes();
        var e = assertThrows(SkiffException.class, () -> Flattener.flatten(List.of(Tars.layer("L1", tar)), new RecordingSink(),
                Limits.defaults().withMaxEntries(2), w -> {}));
        assertEquals("the image has more than 2 entries (at layer L1, entry 'c'): refusing to convert it"
                + " (raise [convert] max-entries in config.toml if it is genuine)", e.getMessage());
        assertEquals(5, e.exitCode().code);
    }

    @Test
    void decompressionBombs() {
        // 80 MiB of zeros compress to almost nothing with zstd: over the default 1000:1 ratio.
        byte[] tar = new Tars().bigZeroFile("zeros", 80L << 20).bytes();
        LayerSource bomb = Tars.layer("L1", tar, Compression.ZSTD, Compression.ZSTD);
        var e = assertThrows(SkiffException.class, () -> Flattener.flatten(List.of(bomb), new RecordingSink(), Limits.defaults(), w -> {},
                2));
        assertEquals(5, e.exitCode().code);
        assertTrue(e.getMessage().startsWith("layer L1 expands more than 1000 times ("), e.getMessage());
        assertTrue(e.getMessage().endsWith("refusing to convert a possible decompression bomb (raise [convert] max-ratio in config.toml if the image is genuine)"), e.getMessage());

        // The total limit spans all layers.
        byte[] small = new Tars().file("f", "x".repeat(10_000)).bytes();
        var e2 = assertThrows(SkiffException.class, () -> Flattener.flatten(
                List.of(Tars.layer("L1", small), Tars.layer("L2", small)), new RecordingSink(),
                Limits.defaults().withMaxUncompressedBytes(small.length + 100), w -> {}));
        // (Layers are read concurrently: either may be the one that crosses the line.)
        assertTrue(e2.getMessage().matches("image layers expand to more than " + (small.length + 100) + " bytes \\(at layer L[12]\\): refusing to convert a"
                + " possible decompression bomb \\(raise \\[convert\\] max-bytes in config.toml if the image is genuine\\)"), e2.getMessage());
        assertEquals(5, e2.exitCode().code);
    }
}
