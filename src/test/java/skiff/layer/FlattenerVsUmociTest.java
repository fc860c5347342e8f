package skiff.layer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.TreeDiff;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Layers made by GNU tar (gnu and pax formats) and stacked by umoci: skiff's flattened directory must
 * equal umoci's independent unpack of the same image, path by path.
 */
class FlattenerVsUmociTest {

    static void write(Path p, String s) throws Exception {
        Files.createDirectories(p.getParent());
        Files.writeString(p, s);
    }

    static final String LONG_DIRS = "long/" + "d".repeat(120) + "/" + "e".repeat(120) + "/" + "n".repeat(200);
    static final String LONG_TARGET = "../" + "t".repeat(150) + "/" + "u".repeat(150);

    /** The tricky image: GNU tar (gnu format) layers and a pax one, stacked by umoci. */
    static ImageBuilder trickyImage(Path tmp) throws Exception {
        String longDirs = LONG_DIRS, longTarget = LONG_TARGET;

        Path l1 = Files.createDirectories(tmp.resolve("l1"));
        write(l1.resolve("a/f1"), "original content of f1");
        write(l1.resolve("a/exec"), "#!/bin/sh\necho hi\n");
        Files.setPosixFilePermissions(l1.resolve("a/exec"), PosixFilePermissions.fromString("rwxr-x---"));
        write(l1.resolve("a/b/deep"), "deep");
        Files.createLink(l1.resolve("h1"), l1.resolve("a/f1"));
        Files.createLink(l1.resolve("a/b/h2"), l1.resolve("a/b/deep"));
        write(l1.resolve("keep/one"), "a surviving hard-link group");
        Files.createLink(l1.resolve("keep/two"), l1.resolve("keep/one"));
        Files.createLink(l1.resolve("three"), l1.resolve("keep/one"));
        Files.createSymbolicLink(l1.resolve("rel"), Path.of("a/f1"));
        Files.createSymbolicLink(l1.resolve("abs"), Path.of("/a/f1"));
        Files.createSymbolicLink(l1.resolve("dangling"), Path.of("nowhere/at/all"));
        Files.createSymbolicLink(l1.resolve("longlink"), Path.of(longTarget));
        write(l1.resolve(longDirs), "long name");
        write(l1.resolve("dir2file/inner"), "goes away");
        write(l1.resolve("file2dir"), "becomes a dir");
        Files.createDirectories(l1.resolve("tmp"));
        Files.setPosixFilePermissions(l1.resolve("tmp"), PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setAttribute(l1.resolve("tmp"), "unix:mode", 01777);
        write(l1.resolve("empty"), "");
        write(l1.resolve("o/x"), "hidden by opaque");
        write(l1.resolve("o/sub/y"), "hidden by opaque");
        write(l1.resolve("w/inside"), "whited out with its dir");
        write(l1.resolve("gone"), "whited out");
        Files.setPosixFilePermissions(l1.resolve("a/b"), PosixFilePermissions.fromString("r-xr-xr-x"));

        Path l2 = Files.createDirectories(tmp.resolve("l2"));
        write(l2.resolve(".wh.gone"), "");
        write(l2.resolve(".wh.w"), "");
        write(l2.resolve("o/.wh..wh..opq"), "");
        write(l2.resolve("o/new"), "only this in o");
        write(l2.resolve("dir2file"), "now a file");
        write(l2.resolve("file2dir/child"), "now a dir");
        write(l2.resolve("a/f1"), "REPLACED; h1 keeps the original");
        write(l2.resolve("a/exec"), "#!/bin/sh\necho changed\n");
        Files.setPosixFilePermissions(l2.resolve("a/exec"), PosixFilePermissions.fromString("r-x------"));
        write(l2.resolve("a/b/.wh.deep"), ""); // h2 keeps deep's content under its own name

        Path l3 = Files.createDirectories(tmp.resolve("l3"));
        write(l3.resolve("w/new"), "w recreated");
        write(l3.resolve(".wh.dir2file"), "");
        write(l3.resolve("dir2file/again"), "a dir again");
        Path l4 = Files.createDirectories(tmp.resolve("l4-empty"));

        // pax format, with its own long names
        Path l5 = Files.createDirectories(tmp.resolve("l5"));
        write(l5.resolve("pax/" + "p".repeat(180) + "/" + "q".repeat(180)), "pax long name");
        Files.createSymbolicLink(l5.resolve("paxlink"), Path.of("/" + "x".repeat(300)));
        Path paxTar = tmp.resolve("l5.tar");
        Cmd.of("tar", "--format=pax", "--numeric-owner", "-C", l5.toString(), "-cf", paxTar.toString(), ".").run().ok();

        for (Path d : List.of(l1, l2, l3, l5))
            try (var s = Files.walk(d)) {
                for (Path p : (Iterable<Path>) s::iterator)
                    Files.getFileAttributeView(p, java.nio.file.attribute.BasicFileAttributeView.class, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                            .setTimes(FileTime.fromMillis(1_600_000_000_000L), null, null);
            }

        ImageBuilder img = ImageBuilder.create(tmp.resolve("img"))
                .layerFromDir(l1).layerFromDir(l2).layerFromDir(l3).layerFromDir(l4).layerFromTar(paxTar);
        Files.setPosixFilePermissions(l1.resolve("a/b"), PosixFilePermissions.fromString("rwxr-xr-x"));
        return img;
    }

    @Test
    void trickyLayersFlattenLikeUmoci(@TempDir Path tmp) throws Exception {
        String longDirs = LONG_DIRS, longTarget = LONG_TARGET;
        ImageBuilder img = trickyImage(tmp);
        List<String> warnings = new ArrayList<>();
        Path ours = tmp.resolve("ours");
        Flattener.Stats stats = Images.flatten(Images.layers(img.layout(), "latest"), ours, warnings);
        Path theirs = Images.umociUnpack(img.layout(), "latest", tmp.resolve("umoci-rootfs"));

        var expected = TreeDiff.ownerAccess(TreeDiff.snapshot(theirs, false));
        var actual = TreeDiff.ownerAccess(TreeDiff.snapshot(ours, false));
        TreeDiff.assertSame(expected, actual);

        // The cases themselves, so a shared misreading with umoci cannot pass unnoticed.
        assertEquals("original content of f1", Files.readString(ours.resolve("h1")));
        assertEquals("REPLACED; h1 keeps the original", Files.readString(ours.resolve("a/f1")));
        assertEquals("deep", Files.readString(ours.resolve("a/b/h2")));
        assertFalse(Files.exists(ours.resolve("a/b/deep")));
        assertFalse(Files.exists(ours.resolve("gone")));
        assertFalse(Files.exists(ours.resolve("w/inside")));
        assertEquals("w recreated", Files.readString(ours.resolve("w/new")));
        assertEquals(List.of("new"), list(ours.resolve("o")));
        assertEquals(List.of("again"), list(ours.resolve("dir2file")));
        assertEquals("now a dir", Files.readString(ours.resolve("file2dir/child")));
        assertEquals(Path.of(longTarget), Files.readSymbolicLink(ours.resolve("longlink")));
        assertEquals("long name", Files.readString(ours.resolve(longDirs)));
        assertEquals(Path.of("/" + "x".repeat(300)), Files.readSymbolicLink(ours.resolve("paxlink")));
        assertEquals(01777, (int) Files.getAttribute(ours.resolve("tmp"), "unix:mode") & 07777);
        assertEquals(0500 | 0600, (int) Files.getAttribute(ours.resolve("a/exec"), "unix:mode") & 07777);
        assertTrue(actual.keySet().stream().noneMatch(p -> p.contains(".wh.")), "no whiteout file survives");
        assertEquals(1_600_000_000L, TreeDiff.mtimes(ours).get("a/f1"));
        // h1 and a/b/h2 lost their partners (plain files now); keep/one, keep/two and three stay one inode.
        assertEquals(2, stats.hardlinks(), stats.toString());
        assertEquals("keep/one,keep/two", actual.get("three").links());
        assertEquals("", actual.get("h1").links());
        assertEquals(List.of(), warnings);
    }

    @Test
    void trickyLayersIntoSquashfsReadBackByUnsquashfsLikeUmoci(@TempDir Path tmp) throws Exception {
        ImageBuilder img = trickyImage(tmp);
        List<String> warnings = new ArrayList<>();
        var expected = TreeDiff.ownerAccess(TreeDiff.snapshot(Images.umociUnpack(img.layout(), "latest", tmp.resolve("umoci-rootfs")), false));
        Path sqfs = tmp.resolve("image.sqfs");
        try (var w = new skiff.squashfs.SquashfsWriter(sqfs, new skiff.squashfs.SquashfsWriter.Options(
                skiff.squashfs.SquashfsWriter.Compression.ZSTD, null, 2, warnings::add))) {
            Flattener.flatten(Images.layers(img.layout(), "latest"), w, Limits.defaults(), warnings::add);
        }
        Path unsquashed = tmp.resolve("unsquashed");
        Cmd.of("unsquashfs", "-no-progress", "-d", unsquashed.toString(), sqfs.toString()).run().ok();
        TreeDiff.assertSame(expected, TreeDiff.ownerAccess(TreeDiff.snapshot(unsquashed, false)));
    }

    /**
     * A merged-/usr base (bin, lib, lib64 are links into usr, as in Debian 12 and Fedora), then layers
     * written by a tar-based build tool: GNU tar of single files, with no entries for their parent
     * directories, so "lib/libx.so" must go where lib leads.
     */
    static ImageBuilder usrmergeImage(Path tmp) throws Exception {
        Path base = Files.createDirectories(tmp.resolve("base"));
        write(base.resolve("usr/bin/sh"), "#!shell");
        write(base.resolve("usr/lib/x86_64-linux-gnu/libc.so.6"), "libc");
        write(base.resolve("usr/lib/old.so"), "removed by a whiteout through lib");
        write(base.resolve("usr/lib64/ld-linux-x86-64.so.2"), "loader");
        Files.createSymbolicLink(base.resolve("bin"), Path.of("usr/bin"));
        Files.createSymbolicLink(base.resolve("lib"), Path.of("usr/lib"));
        Files.createSymbolicLink(base.resolve("lib64"), Path.of("/usr/lib64"));
        Files.createSymbolicLink(base.resolve("sbin"), Path.of("usr/sbin")); // dangling until a layer writes below it

        Path l2 = Files.createDirectories(tmp.resolve("usrmerge-l2"));
        write(l2.resolve("lib/libx.so"), "libx");
        Files.createLink(l2.resolve("lib/libx.so.1"), l2.resolve("lib/libx.so"));
        write(l2.resolve("lib/x86_64-linux-gnu/liby.so"), "liby");
        write(l2.resolve("lib/.wh.old.so"), "");
        write(l2.resolve("bin/tool"), "#!tool");
        Files.setPosixFilePermissions(l2.resolve("bin/tool"), PosixFilePermissions.fromString("rwxr-xr-x"));
        write(l2.resolve("sbin/daemon"), "daemon");
        Path tar2 = tmp.resolve("usrmerge-l2.tar");
        Cmd.of("tar", "--numeric-owner", "-C", l2.toString(), "-cf", tar2.toString(), "lib/libx.so", "lib/libx.so.1",
                "lib/x86_64-linux-gnu/liby.so", "lib/.wh.old.so", "bin/tool", "sbin/daemon").run().ok();

        // A later layer that does list the directory: a real lib64 replaces the link, as in every tool.
        Path l3 = Files.createDirectories(tmp.resolve("usrmerge-l3"));
        write(l3.resolve("lib64/other.so"), "other");
        Path tar3 = tmp.resolve("usrmerge-l3.tar");
        Cmd.of("tar", "--numeric-owner", "--no-recursion", "-C", l3.toString(), "-cf", tar3.toString(), "lib64", "lib64/other.so").run().ok();

        for (Path d : List.of(base, l2, l3))
            try (var s = Files.walk(d)) {
                for (Path p : (Iterable<Path>) s::iterator)
                    Files.getFileAttributeView(p, java.nio.file.attribute.BasicFileAttributeView.class, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                            .setTimes(FileTime.fromMillis(1_600_000_000_000L), null, null);
            }
        return ImageBuilder.create(tmp.resolve("usrmerge-img")).layerFromDir(base).layerFromTar(tar2).layerFromTar(tar3);
    }

    @Test
    void usrmergeLayersFlattenLikeUmoci(@TempDir Path tmp) throws Exception {
        ImageBuilder img = usrmergeImage(tmp);
        List<String> warnings = new ArrayList<>();
        Path ours = tmp.resolve("ours");
        Images.flatten(Images.layers(img.layout(), "latest"), ours, warnings);
        Path theirs = Images.umociUnpack(img.layout(), "latest", tmp.resolve("umoci-rootfs"));
        var actual = TreeDiff.ownerAccess(TreeDiff.snapshot(ours, false));
        TreeDiff.assertSame(TreeDiff.ownerAccess(TreeDiff.snapshot(theirs, false)), actual);

        assertEquals(Path.of("usr/lib"), Files.readSymbolicLink(ours.resolve("lib")));
        assertEquals(Path.of("usr/bin"), Files.readSymbolicLink(ours.resolve("bin")));
        assertEquals("libx", Files.readString(ours.resolve("usr/lib/libx.so")));
        assertEquals("usr/lib/libx.so", actual.get("usr/lib/libx.so.1").links());
        assertEquals(List.of("libc.so.6", "liby.so"), list(ours.resolve("usr/lib/x86_64-linux-gnu")));
        assertFalse(Files.exists(ours.resolve("usr/lib/old.so")));
        assertEquals(0755 | 0600, (int) Files.getAttribute(ours.resolve("usr/bin/tool"), "unix:mode") & 07777);
        assertEquals("daemon", Files.readString(ours.resolve("usr/sbin/daemon")));
        assertTrue(Files.isDirectory(ours.resolve("lib64"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
        assertEquals(List.of("other.so"), list(ours.resolve("lib64")));
        assertEquals("loader", Files.readString(ours.resolve("usr/lib64/ld-linux-x86-64.so.2")));
        assertEquals(List.of(), warnings);
    }

    @Test
    void usrmergeLayersIntoSquashfsReadBackLikeUmoci(@TempDir Path tmp) throws Exception {
        ImageBuilder img = usrmergeImage(tmp);
        List<String> warnings = new ArrayList<>();
        var expected = TreeDiff.ownerAccess(TreeDiff.snapshot(Images.umociUnpack(img.layout(), "latest", tmp.resolve("umoci-rootfs")), false));
        Path sqfs = tmp.resolve("image.sqfs");
        Path serial = tmp.resolve("serial.sqfs");
        for (int threads : new int[] {4, 1})
            try (var w = new skiff.squashfs.SquashfsWriter(threads == 1 ? serial : sqfs, new skiff.squashfs.SquashfsWriter.Options(
                    skiff.squashfs.SquashfsWriter.Compression.ZSTD, null, threads, warnings::add))) {
                Flattener.flatten(Images.layers(img.layout(), "latest"), w, Limits.defaults(), warnings::add, threads);
            }
        Path unsquashed = tmp.resolve("unsquashed");
        Cmd.of("unsquashfs", "-no-progress", "-d", unsquashed.toString(), sqfs.toString()).run().ok();
        TreeDiff.assertSame(expected, TreeDiff.ownerAccess(TreeDiff.snapshot(unsquashed, false)));
        assertEquals(-1L, Files.mismatch(sqfs, serial), "the same image with 1 and 4 threads");
        assertEquals(List.of(), warnings);
    }

    static List<String> list(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
