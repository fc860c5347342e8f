package skiff.layer;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import skiff.image.MediaTypes.Compression;
import skiff.rootfs.DirectorySink;
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
 * Layers a hostile image could carry. Each is refused with exit 5 and a message naming the layer and the
 * entry, and nothing is written anywhere: neither inside the output (validation ends before the first
 * write) nor outside it (the directory the planted symlinks point to stays empty).
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

    static Stream<Case> cases() {
        return Stream.of(
                new Case("dot-dot", out -> one(new Tars().file("../evil", "x")),
                        "layer L1 has a hostile or broken entry '../evil': '..' would leave the root filesystem" + TAIL),
                new Case("dot-dot inside", out -> one(new Tars().dir("a", 0755).file("a/../../evil", "x")),
                        "layer L1 has a hostile or broken entry 'a/../../evil': '..' would leave the root filesystem" + TAIL),
                new Case("through a symlink of the same layer", out -> one(new Tars()
                                .symlink("link", out.toString()).file("link/evil", "x")),
                        "layer L1 has a hostile or broken entry 'link/evil': its parent 'link' is a symbolic link, and skiff does not follow links inside an image" + TAIL),
                new Case("through a symlink of an earlier layer", out -> List.of(
                                Tars.layer("L1", new Tars().dir("etc", 0755).symlink("etc/cron.d", "../../../../" + out).bytes()),
                                Tars.layer("L2", new Tars().file("etc/cron.d/evil", "x").bytes())),
                        "layer L2 has a hostile or broken entry 'etc/cron.d/evil': its parent 'etc/cron.d' is a symbolic link, and skiff does not follow links inside an image" + TAIL),
                new Case("relative symlink to ..", out -> one(new Tars().symlink("up", "..").dir("up/x", 0755)),
                        "layer L1 has a hostile or broken entry 'up/x/': its parent 'up' is a symbolic link, and skiff does not follow links inside an image" + TAIL),
                new Case("whiteout through a symlink", out -> List.of(
                                Tars.layer("L1", new Tars().symlink("link", out.toString()).bytes()),
                                Tars.layer("L2", new Tars().file("link/.wh.victim", "").bytes())),
                        "layer L2 has a hostile or broken entry 'link/.wh.victim': its parent 'link' is a symbolic link, and skiff does not follow links inside an image" + TAIL),
                new Case("hard link out with ..", out -> one(new Tars().hardlink("h", "../../etc/passwd")),
                        "layer L1 has a hostile or broken entry '../../etc/passwd': '..' would leave the root filesystem" + TAIL),
                new Case("hard link to a host file", out -> one(new Tars().hardlink("h", "/etc/shadow")),
                        "layer L1 has a hostile or broken entry 'h': a hard link to '/etc/shadow', which no earlier entry or layer created" + TAIL),
                new Case("hard link through a symlink", out -> one(new Tars().symlink("link", out.toString()).hardlink("h", "link/secret")),
                        "layer L1 has a hostile or broken entry 'h': its parent 'link' is a symbolic link, and skiff does not follow links inside an image" + TAIL),
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
    void refusedWithAClearMessageAndNothingWritten(Case c, @TempDir Path tmp) throws Exception {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Path root = tmp.resolve("work/root");
        Files.createDirectories(root.getParent());
        List<String> warnings = new ArrayList<>();
        var e = assertThrows(SkiffException.class,
                () -> Flattener.flatten(c.layers().apply(outside), new DirectorySink(root, warnings::add), Limits.defaults(), warnings::add));
        assertEquals(5, e.exitCode().code);
        if (c.message() != null) assertEquals(c.message(), e.getMessage());
        else assertTrue(e.getMessage().startsWith("layer L1 is "), e.getMessage());
        try (var s = Files.list(outside)) {
            assertEquals(List.of(), s.toList(), "written outside the root");
        }
        try (var s = Files.list(root)) {
            assertEquals(List.of(), s.toList(), "written before validation ended");
        }
        assertFalse(Files.exists(tmp.resolve("work/evil")) || Files.exists(tmp.resolve("evil")));
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
        var e = assertThrows(SkiffException.class, () -> Flattener.flatten(List.of(bomb), new RecordingSink(), Limits.defaults(), w -> {}));
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
