package skiff.rootfs;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Digest;
import skiff.reference.Reference;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.TreeDiff;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 'skiff convert' as a user runs it: bin/skiff, the unprivileged test user, real images. */
class ConvertIT {
    static final String IMAGE = "example.org/convert/box:1";

    /** A busybox image with a second layer that removes, replaces and hard-links things. */
    static Path image(Path tmp, Path storage, String name) throws Exception {
        Path tree = ImageBuilder.busyboxTree(tmp.resolve("tree"));
        Files.writeString(tree.resolve("etc/removed"), "gone\n");
        Files.createLink(tree.resolve("etc/group.link"), tree.resolve("etc/group"));
        Path ro = Files.createDirectories(tree.resolve("ro"));
        Files.writeString(ro.resolve("kept"), "in a read-only dir\n");
        Files.setAttribute(ro, "unix:mode", 0555);
        Path l2 = Files.createDirectories(tmp.resolve("l2/etc"));
        Files.writeString(l2.resolve(".wh.removed"), "");
        Files.writeString(l2.resolve("group"), "root:x:0:\nusers:x:100:\n");
        ImageBuilder b = ImageBuilder.create(tmp.resolve("img")).layerFromDir(tree).layerFromDir(l2.getParent()).copyInto(storage, name);
        return b.layout();
    }

    static void giveToTestUser(Path... paths) {
        for (Path p : paths) {
            Cmd.of("chown", "-R", Cmd.TEST_USER + ":" + Cmd.TEST_USER, p.toString()).run().ok();
            for (Path a = p.toAbsolutePath().getParent(); a != null && !a.equals(a.getRoot()); a = a.getParent())
                Cmd.of("chmod", "o+x", a.toString()).run().ok();
        }
    }

    static Digest manifest(Path storage, String name) throws Exception {
        return Store.open(storage).resolve(Reference.parse(name).toString()).orElseThrow().digest();
    }

    @Test
    void convertsToADirectoryUnprivilegedLikeUmociUnpacks(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Path layout = image(tmp, storage, Reference.parse(IMAGE).toString());
        Path outDir = Files.createDirectories(tmp.resolve("out"));
        giveToTestUser(storage, outDir);

        var r = Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).asTestUser().run().ok();
        Path p = Path.of(r.out().strip());
        assertEquals(storage.resolve("dir").resolve(manifest(storage, IMAGE).hex()), p);

        Path umoci = skiff.layer.Images.umociUnpack(layout, "latest", tmp.resolve("umoci"));
        TreeDiff.assertSame(TreeDiff.ownerAccess(TreeDiff.snapshot(umoci, false)), TreeDiff.snapshot(p, false));
        // Owned by the invoking user, whatever the image says.
        assertTrue(TreeDiff.snapshot(p, true).values().stream().allMatch(e -> e.uid() == 1500 && e.gid() == 1500));
        assertEquals("root:x:0:\nusers:x:100:\n", Files.readString(p.resolve("etc/group")));
        assertEquals("root:x:0:\n", Files.readString(p.resolve("etc/group.link")), "the hard link keeps the lower layer's content");
        assertFalse(Files.exists(p.resolve("etc/removed")));

        // SquashFS as the same user: a file of theirs, holding the image's owners.
        Path sqfs = Path.of(Cmd.skiff(storage, "convert", IMAGE).asTestUser().run().ok().out().strip());
        assertEquals(1500, (int) Files.getAttribute(sqfs, "unix:uid"));
        String listing = Cmd.of("unsquashfs", "-lln", sqfs.toString(), "ro/kept").run().ok().out();
        assertTrue(listing.contains("-rw-r--r-- 0/0"), listing);

        // By manifest digest, as 'skiff images --digests' shows it: the same cached tree.
        assertEquals(p.toString(), Cmd.skiff(storage, "convert", "--format", "dir", manifest(storage, IMAGE).toString())
                .asTestUser().run().ok().out().strip());

        // Again: reused, same path, quick.
        assertEquals(p.toString(), Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).asTestUser().run().ok().out().strip());

        // -o writes elsewhere, atomically, and refuses to overwrite a directory.
        Path o = outDir.resolve("rootfs");
        var r2 = Cmd.skiff(storage, "convert", "--format", "dir", "-o", o.toString(), IMAGE).asTestUser().run().ok();
        assertEquals(o.toString(), r2.out().strip());
        TreeDiff.assertSame(TreeDiff.snapshot(p, true), TreeDiff.snapshot(o, true));
        var r3 = Cmd.skiff(storage, "convert", "--format", "dir", "-o", o.toString(), IMAGE).asTestUser().run();
        assertEquals(2, r3.exit(), r3.toString());
        assertEquals("skiff: " + o + " already exists as a directory; remove it or choose another output path\n", r3.err());
        try (var s = Files.list(outDir)) {
            assertEquals(List.of(o), s.toList());
        }
    }

    @Test
    void unknownImagesAndBadOptions(@TempDir Path tmp) {
        Path storage = tmp.resolve("storage");
        var r = Cmd.skiff(storage, "convert", "--format", "dir", "nosuch:1").run();
        assertEquals(3, r.exit(), r.toString());
        assertEquals("skiff: no image 'nosuch:1' in the store (pull it first, or see 'skiff images')\n", r.err());
        var r2 = Cmd.skiff(storage, "convert", "--format", "tarball", "nosuch:1").run();
        assertEquals(2, r2.exit(), r2.toString());
        assertEquals("skiff: unknown --format 'tarball': use squashfs or dir\n", r2.err());
        var r3 = Cmd.skiff(storage, "convert", "--compression", "zstd", "--level", "40", "nosuch:1").run();
        assertEquals(2, r3.exit(), r3.toString());
        assertEquals("skiff: level 40 is out of range for zstd (1-22)\n", r3.err());
    }

    @Test
    void concurrentConversionsOfOneImageConvertOnce(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        image(tmp, storage, Reference.parse(IMAGE).toString());
        Process a = Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).start();
        Process b = Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).start();
        String outA = new String(a.getInputStream().readAllBytes()).strip();
        String outB = new String(b.getInputStream().readAllBytes()).strip();
        assertEquals(0, a.waitFor(), new String(a.getErrorStream().readAllBytes()));
        assertEquals(0, b.waitFor(), new String(b.getErrorStream().readAllBytes()));
        assertEquals(outA, outB);
        assertEquals("root:x:0:\n", Files.readString(Path.of(outA, "etc/group.link")));
        try (var s = Files.list(storage.resolve("tmp"))) {
            assertEquals(List.of(), s.toList());
        }
        try (var s = Files.list(storage.resolve("dir"))) {
            assertEquals(1, s.count());
        }
    }

    static final int FILES = 8000;

    @Test
    void aKilledConversionLeavesNothingVisibleAndTheNextOneSucceeds(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        // Many small files (a tarball written directly: quicker than files on disk) keep it busy a while.
        Path tar = tmp.resolve("many.tar");
        try (var t = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(Files.newOutputStream(tar))) {
            for (int i = 0; i < FILES; i++) {
                var e = new org.apache.commons.compress.archivers.tar.TarArchiveEntry("d/f" + i);
                e.setSize(1);
                t.putArchiveEntry(e);
                t.write('x');
                t.closeArchiveEntry();
            }
        }
        String name = Reference.parse(IMAGE).toString();
        ImageBuilder.create(tmp.resolve("img")).layerFromTar(tar).copyInto(storage, name);
        Path target = Rootfs.path(Store.open(storage), manifest(storage, IMAGE), Rootfs.Format.DIR);

        Process p = Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).start();
        Path tmpDir = storage.resolve("tmp");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline && p.isAlive()) {
            if (Files.isDirectory(tmpDir)) try (var s = Files.list(tmpDir)) {
                if (s.anyMatch(x -> x.getFileName().toString().startsWith("convert-"))) break;
            }
            Thread.sleep(20);
        }
        Assumptions.assumeTrue(p.isAlive(), "the conversion finished before it could be killed");
        p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
        assertFalse(Files.exists(target), "a half-converted tree is visible");

        var r = Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).run().ok();
        assertEquals(target.toString(), r.out().strip());
        try (var s = Files.list(target.resolve("d"))) {
            assertEquals(FILES, s.count());
        }
        try (var s = Files.list(tmpDir)) {
            assertEquals(List.of(), s.toList(), "the killed conversion's leftovers are removed");
        }
    }

    @Test
    void entriesBelowImageLinksStayInsideTheImage(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Path evil = Files.createDirectories(tmp.resolve("evil"));
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.createSymbolicLink(evil.resolve("link"), outside);
        Files.createDirectories(evil.resolve("usr/lib"));
        Files.createSymbolicLink(evil.resolve("lib"), Path.of("usr/lib"));
        Path l2 = Files.createDirectories(tmp.resolve("l2"));
        Files.createDirectories(l2.resolve("link"));
        Files.writeString(l2.resolve("link/planted"), "x");
        Files.createDirectories(l2.resolve("lib"));
        Files.writeString(l2.resolve("lib/libx.so"), "libx");
        // Only the files, no entries for "link" and "lib" themselves (those would replace the symlinks by directories).
        Path tar2 = tmp.resolve("l2.tar");
        Cmd.of("tar", "-C", l2.toString(), "-cf", tar2.toString(), "link/planted", "lib/libx.so").run().ok();
        String name = Reference.parse(IMAGE).toString();
        ImageBuilder.create(tmp.resolve("img")).layerFromDir(evil).layerFromTar(tar2).copyInto(storage, name);
        giveToTestUser(storage);

        Path dir = Path.of(Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).asTestUser().run().ok().out().strip());
        Path sqfs = Path.of(Cmd.skiff(storage, "convert", IMAGE).asTestUser().run().ok().out().strip());
        try (var s = Files.list(outside)) {
            assertEquals(List.of(), s.toList());
        }
        // The absolute link names a host path; inside the image that path is below the image's root.
        assertEquals("x", Files.readString(dir.resolve(outside.toString().substring(1)).resolve("planted")));
        assertEquals("libx", Files.readString(dir.resolve("usr/lib/libx.so")));
        assertEquals(Path.of("usr/lib"), Files.readSymbolicLink(dir.resolve("lib")));
        Path unpacked = tmp.resolve("unsquashed");
        Cmd.of("unsquashfs", "-no-progress", "-d", unpacked.toString(), sqfs.toString()).run().ok();
        TreeDiff.assertSame(TreeDiff.ownerAccess(TreeDiff.snapshot(unpacked, false)), TreeDiff.snapshot(dir, false));
    }

    @Test
    void aLinkLoopIsRefusedByTheCli(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        Path l1 = Files.createDirectories(tmp.resolve("l1"));
        Files.createSymbolicLink(l1.resolve("a"), Path.of("b"));
        Files.createSymbolicLink(l1.resolve("b"), Path.of("/a"));
        Path l2 = Files.createDirectories(tmp.resolve("l2/a"));
        Files.writeString(l2.resolve("x"), "x");
        Path tar2 = tmp.resolve("l2.tar");
        Cmd.of("tar", "-C", l2.getParent().toString(), "-cf", tar2.toString(), "a/x").run().ok();
        String name = Reference.parse(IMAGE).toString();
        ImageBuilder.create(tmp.resolve("img")).layerFromDir(l1).layerFromTar(tar2).copyInto(storage, name);
        String layer2 = Store.open(storage).manifest(manifest(storage, IMAGE)).layers().get(1).digest().toString();

        // The layer with the entry is the highest: one pass writes its file before the lower layer's links show the loop.
        for (String format : List.of("dir", "squashfs")) {
            var r = Cmd.skiff(storage, "convert", "--format", format, IMAGE).run();
            assertEquals(5, r.exit(), r.toString());
            assertEquals("skiff: layer " + layer2 + " has a hostile or broken entry 'a/x': its parent 'a' goes through more than 40"
                    + " symbolic links (too many levels of symbolic links: a loop?); refusing to convert the image (it was not built by"
                    + " a well-behaved tool)\n", r.err());
            try (var left = Files.list(storage.resolve("tmp"))) {
                assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith("convert-")).toList(),
                        "the temporary output of the refused conversion is gone");
            }
        }
        assertFalse(Files.exists(storage.resolve("dir").resolve(manifest(storage, IMAGE).hex())));
        assertFalse(Files.exists(storage.resolve("sqfs").resolve(manifest(storage, IMAGE).hex() + ".sqfs")));
    }

    @Test
    void squashfsOutputMatchesTheDirectoryOutput(@TempDir Path tmp) throws Exception {
        Path storage = tmp.resolve("storage");
        image(tmp, storage, Reference.parse(IMAGE).toString());
        var r = Cmd.skiff(storage, "convert", IMAGE).run().ok();
        Path sqfs = Path.of(r.out().strip());
        assertEquals(storage.resolve("sqfs").resolve(manifest(storage, IMAGE).hex() + ".sqfs"), sqfs);
        Path unpacked = tmp.resolve("unsquashed");
        Cmd.of("unsquashfs", "-no-progress", "-d", unpacked.toString(), sqfs.toString()).run().ok();
        Path dir = Path.of(Cmd.skiff(storage, "convert", "--format", "dir", IMAGE).run().ok().out().strip());
        Map<String, TreeDiff.Entry> fromSquashfs = TreeDiff.ownerAccess(TreeDiff.snapshot(unpacked, false));
        TreeDiff.assertSame(fromSquashfs, TreeDiff.snapshot(dir, false));
    }
}
