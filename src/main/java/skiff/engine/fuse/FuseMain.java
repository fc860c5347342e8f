package skiff.engine.fuse;

import skiff.sys.FuseDevice;
import skiff.squashfs.SquashfsReader;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The detached server process: {@code java -cp skiff.jar skiff.engine.fuse.FuseMain IMAGE MOUNTPOINT FUSERMOUNT}.
 * It opens the image, mounts through fusermount3, says "ready" on stdout (the launching skiff waits for that
 * line, or for end of file if this fails), points stdout at the log, and serves until the kernel reports the
 * file system unmounted. Exit status 0 after an unmount, 1 if the mount failed.
 */
public final class FuseMain {
    private FuseMain() {}

    public static void main(String[] args) {
        PrintStream log = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true, StandardCharsets.UTF_8);
        if (args.length != 3) {
            log.println("skiff-fuse: usage: FuseMain IMAGE MOUNTPOINT FUSERMOUNT");
            System.exit(2);
        }
        Path image = Path.of(args[0]), mnt = Path.of(args[1]), fusermount = Path.of(args[2]);
        log.println("skiff-fuse: " + java.time.Instant.now() + " pid " + ProcessHandle.current().pid() + " serving " + image + " at " + mnt);
        int fd;
        SquashfsReader reader;
        try {
            reader = new SquashfsReader(image);
            // fsname shows in /proc/mounts; fusermount3 splits options at commas.
            String options = "ro,nosuid,nodev,subtype=skiff,fsname=" + image.toString().replace(',', '_');
            fd = FuseDevice.mount(fusermount, mnt, options);
        } catch (Exception e) {
            log.println("skiff-fuse: cannot serve " + image + " at " + mnt + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        try {
            FuseServer server = new FuseServer(fd, reader, log);
            System.out.println("ready");
            System.out.flush();
            // The launcher stops reading after "ready": nothing may block on that pipe later.
            FuseDevice.redirectStdout(Path.of("/dev/null"));
            int threads = Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));
            server.serve(threads);
            log.println("skiff-fuse: " + java.time.Instant.now() + " pid " + ProcessHandle.current().pid() + " unmounted, exiting");
        } catch (Exception e) {
            log.println("skiff-fuse: " + e);
            System.exit(1);
        }
        System.exit(0);
    }
}
