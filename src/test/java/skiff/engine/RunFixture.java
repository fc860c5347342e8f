package skiff.engine;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.reference.Reference;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A store owned by the test user with images built by umoci (never by skiff), their SquashFS made by mksquashfs
 * and their directory tree by umoci raw unpack, at the places Rootfs.path names (until Rootfs.ensure converts
 * on demand, tests provide both formats themselves).
 */
final class RunFixture {
    final Path base;
    final Path storage;
    final Path xdg;

    RunFixture(String prefix) throws IOException {
        base = Files.createTempDirectory(Path.of("/tmp"), prefix);
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        storage = base.resolve("storage");
        xdg = Files.createDirectories(base.resolve("xdg"));
        Files.createDirectories(base.resolve("config"));
        Store.open(storage);
    }

    /** A busybox tree (with /home, without /proc /sys /dev: skiff must create mount points itself). */
    Path tree(String name) {
        Path t = ImageBuilder.busyboxTree(base.resolve("trees").resolve(name));
        try {
            Files.createDirectories(t.resolve("home"));
            Files.createDirectories(t.resolve("data"));
            Files.createDirectories(t.resolve("work/sub"));
            Files.writeString(t.resolve("etc/notexec.sh"), "echo no\n");
            Files.createDirectories(t.resolve("scratch"));
            // Owned by the test user: overlayfs cannot copy up a directory whose owner is not mapped in the
            // user namespace (EOVERFLOW: uid and gid), so --writable-tmpfs writes only where the image's owner is the user.
            Files.setAttribute(t.resolve("scratch"), "unix:uid", 1500);
            Files.setAttribute(t.resolve("scratch"), "unix:gid", 1500);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return t;
    }

    /** Copies the image into the store as {@code name} and lays out both root filesystem formats. */
    Digest install(ImageBuilder b, String name) throws IOException {
        String ref = Reference.parse(name).toString();
        b.copyInto(storage, ref);
        Store store = Store.open(storage);
        Descriptor d = store.resolve(ref).orElseThrow();
        Path dir = Rootfs.path(store, d.digest(), Rootfs.Format.DIR);
        Path sqfs = Rootfs.path(store, d.digest(), Rootfs.Format.SQUASHFS);
        Files.createDirectories(dir.getParent());
        Files.createDirectories(sqfs.getParent());
        Path bundle = base.resolve("bundle-" + d.digest().hex());
        Cmd.of("umoci", "raw", "unpack", "--image", b.ref(), bundle.toString()).run().ok();
        Cmd.of("mksquashfs", bundle.toString(), sqfs.toString(), "-comp", "gzip", "-noappend", "-quiet").run().ok();
        Files.move(bundle, dir);
        return d.digest();
    }

    /** Copies the image into the store as {@code name} only: skiff makes its root filesystems itself, as the user. */
    void installLayoutOnly(ImageBuilder b, String name) throws IOException {
        b.copyInto(storage, Reference.parse(name).toString());
    }

    /** Hands the store and runtime directory to the test user (the image trees keep their owners). */
    void handOver() {
        Cmd.of("find", storage.toString(), "-path", storage.resolve("dir") + "/*", "-prune", "-o", "-exec", "chown",
                Cmd.TEST_USER + ":", "{}", "+").run().ok();
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", xdg.toString()).run().ok();
        Cmd.of("chmod", "700", xdg.toString()).run().ok();
    }

    /**
     * bin/skiff ARGS as the test user, from "/" (a working directory not visible in the container), with an empty
     * XDG_CONFIG_HOME: the test user's own config.toml must not change what a test sees (a test may set its own).
     */
    Cmd skiff(String... args) {
        return Cmd.skiff(storage, args).env("XDG_RUNTIME_DIR", xdg.toString()).env("SKIFF_MOUNT_IDLE", "1")
                .env("XDG_CONFIG_HOME", base.resolve("config").toString())
                .asTestUser().dir(Path.of("/"));
    }

    /** Waits for the mount reaper to unmount this fixture's images (idle 1 s), then removes everything. */
    void close() {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
        try {
            while (System.nanoTime() < deadline
                    && Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + xdg + "/")) Thread.sleep(200);
        } catch (IOException e) {
            // remove what can be removed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Cmd.of("rm", "-rf", base.toString()).run();
    }
}
