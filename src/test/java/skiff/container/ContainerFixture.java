package skiff.container;

import skiff.image.Digest;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/** A busybox image with the awkward cases a copy or a tar must keep, in a store, ready for {@code skiff create}. */
final class ContainerFixture {
    static final String IMAGE = "example.org/fixture/box:1";

    private ContainerFixture() {}

    /** Builds the image (umoci/tar/skopeo, not skiff) into {@code storage} and makes its directory rootfs available. */
    static void image(Path work, Path storage) throws IOException {
        Path tree = ImageBuilder.busyboxTree(work.resolve("tree"));
        Files.createLink(tree.resolve("etc/passwd.link"), tree.resolve("etc/passwd"));
        Path deep = Files.createDirectories(tree.resolve("opt/" + "d".repeat(60) + "/" + "e".repeat(60)));
        Files.writeString(deep.resolve("long name with spaces and é.txt"), "deep\n");
        Path ro = Files.createDirectories(tree.resolve("ro"));
        Files.writeString(ro.resolve("kept"), "read-only dir\n");
        Files.createSymbolicLink(tree.resolve("etc/abs-link"), Path.of("/etc/passwd"));
        Files.setAttribute(ro, "unix:mode", 0555);
        ImageBuilder.create(work.resolve("img"))
                .layerFromDir(tree)
                .config("--config.cmd", "/bin/sh", "--config.env", "FIXTURE=1")
                .copyInto(storage, IMAGE);
        Store store = Store.open(storage);
        Digest manifest = store.resolve(IMAGE).orElseThrow().digest();
        // The image's directory rootfs in the cache, so create copies it (ContainersIT also covers no cache).
        Rootfs.ensure(store, manifest, Rootfs.Format.DIR);
    }

    /** Gives these trees to the unprivileged test user, and lets it reach them (JUnit's temp dirs are 0700). */
    static void chownToTestUser(Path... paths) throws IOException {
        for (Path p : paths) {
            Cmd.of("chown", "-R", Cmd.TEST_USER + ":" + Cmd.TEST_USER, p.toString()).run().ok();
            for (Path a = p.toAbsolutePath().getParent(); a != null && !a.equals(Path.of("/tmp")) && !a.equals(a.getRoot()); a = a.getParent()) {
                int mode = (Integer) Files.getAttribute(a, "unix:mode");
                if ((mode & 0001) == 0) Files.setAttribute(a, "unix:mode", mode | 0011);
            }
        }
    }

    /** Type, permission bits, content hash or link target of every entry: what a user sees of a tree, owners aside. */
    static Map<String, String> describe(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.equals(root)) out.put(root.relativize(dir).toString(), "dir " + mode(dir));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                String rel = root.relativize(file).toString();
                if (attrs.isSymbolicLink()) out.put(rel, "symlink -> " + Files.readSymbolicLink(file));
                else if (attrs.isRegularFile()) out.put(rel, "file " + mode(file) + " " + sha256(file));
                else out.put(rel, "other " + mode(file));
                return FileVisitResult.CONTINUE;
            }
        });
        return out;
    }

    private static String mode(Path p) throws IOException {
        return Integer.toOctalString((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
    }

    private static String sha256(Path p) {
        try {
            return HexFormat.of().formatHex(skiff.image.Digest.newSha256().digest(Files.readAllBytes(p)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int uid(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }
}
