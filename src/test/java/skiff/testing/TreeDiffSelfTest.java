package skiff.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The comparator sees each kind of difference it promises to see, and none between copies. */
class TreeDiffSelfTest {
    static Path tree(Path d) throws Exception {
        Files.createDirectories(d.resolve("a/b"));
        Files.writeString(d.resolve("a/f"), "hello");
        Files.createLink(d.resolve("a/b/g"), d.resolve("a/f"));
        Files.createSymbolicLink(d.resolve("s"), Path.of("a/f"));
        return d;
    }

    @Test
    void identicalTreesAreTheSameAndEachDifferenceIsReported(@TempDir Path tmp) throws Exception {
        Path x = tree(tmp.resolve("x")), y = tree(tmp.resolve("y"));
        var sx = TreeDiff.snapshot(x, true);
        TreeDiff.assertSame(sx, TreeDiff.snapshot(y, true));
        assertEquals("a/f", sx.get("a/b/g").links());
        assertEquals("symlink", sx.get("s").type());
        assertEquals("a/f", sx.get("s").sha256());

        Files.setPosixFilePermissions(y.resolve("a/b"), PosixFilePermissions.fromString("rwx------"));
        Files.writeString(y.resolve("a/f"), "hellO");
        Files.delete(y.resolve("s"));
        Files.createSymbolicLink(y.resolve("s"), Path.of("a/b/g"));
        Files.writeString(y.resolve("new"), "");
        var d = TreeDiff.diff(sx, TreeDiff.snapshot(y, true));
        assertEquals(5, d.size(), String.join("\n", d)); // a/b mode, a/f and a/b/g content, s target, new
        assertTrue(d.stream().anyMatch(s -> s.startsWith("unexpected: new")));
        assertThrows(AssertionError.class, () -> TreeDiff.assertSame(sx, TreeDiff.snapshot(y, true)));
    }

    @Test
    void brokenHardLinkGroupIsADifference(@TempDir Path tmp) throws Exception {
        Path x = tree(tmp.resolve("x")), y = tree(tmp.resolve("y"));
        Files.delete(y.resolve("a/b/g"));
        Files.copy(y.resolve("a/f"), y.resolve("a/b/g"));
        var d = TreeDiff.diff(TreeDiff.snapshot(x, false), TreeDiff.snapshot(y, false));
        assertEquals(2, d.size(), String.join("\n", d));
    }
}
