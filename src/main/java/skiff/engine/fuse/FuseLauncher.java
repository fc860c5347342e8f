package skiff.engine.fuse;

import skiff.util.Procs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts the SquashFS server ({@link FuseMain}) as a detached JVM (setsid -f: its own session, no terminal, not a
 * child of the container) and waits until it has mounted, or has failed to.
 */
public final class FuseLauncher {
    private FuseLauncher() {}

    /**
     * C1 only: a cold mount (the first container reading an image) is served while the JIT warms up, and C2's
     * compilations then compete with the reader for the cores — find|cat of a cold 19 MB image took a median 1.4 s
     * with C1 alone against 2.2 s with tiered C2 (2 cores), and repeated reads are answered by the kernel's caches
     * either way. The serial collector and a bounded heap: the caches are bounded well below it (SquashfsReader),
     * so the resident size stays small and predictable.
     */
    static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xms8m", "-Xmx96m",
            "-Xss512k", "-XX:ReservedCodeCacheSize=16m", "--enable-native-access=ALL-UNNAMED");

    /** How long a server may take to mount: a JVM start and an image open, slow only on a loaded node. */
    static final long MOUNT_TIMEOUT_MS = 60_000;

    /**
     * Starts the server and waits for its "ready". The server's stdout goes to a status file, not a pipe: setsid
     * -f exits at once, and the JDK then drains and closes the pipe of that exited child, so a reader of the pipe
     * saw end of file before the grandchild said anything whenever the exit won the race (on a loaded node, most
     * of the time; the run then fell back to squashfuse). A shell in front of the JVM writes its pid first (exec
     * keeps it), so a server that dies before "ready" is noticed at once instead of at the timeout.
     */
    /** Returns the server's pid (its JVM's: the shell in front of it execs it). */
    public static long start(Path setsid, Path image, Path mnt, Path fusermount, Path log) throws IOException {
        Path status = log.resolveSibling(log.getFileName() + ".status");
        List<String> cmd = new ArrayList<>(List.of(setsid.toString(), "-f", "/bin/sh", "-c", "echo $$; exec \"$@\"", "skiff-fuse",
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(JVM_FLAGS);
        cmd.addAll(List.of("-cp", classPath(), FuseMain.class.getName(), image.toString(), mnt.toString(), fusermount.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(new java.io.File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(status.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        try {
            int rc = pb.start().waitFor();
            if (rc != 0) throw new IOException("setsid exited with status " + rc);
            long pid = -1;
            long t0 = System.nanoTime();
            while (true) {
                List<String> lines = Files.readAllLines(status, StandardCharsets.UTF_8);
                if (pid < 0 && !lines.isEmpty() && lines.getFirst().matches("[0-9]+")) pid = Long.parseLong(lines.getFirst());
                if (lines.contains("ready")) return pid;
                if (pid < 0 && !lines.isEmpty() && lines.getFirst().matches("[0-9]+")) pid = Long.parseLong(lines.getFirst());
                long waited = (System.nanoTime() - t0) / 1_000_000;
                if (pid > 0 && !Procs.running(pid)) {
                    // It may have said "ready" just before exiting (an unmount right away): read once more.
                    if (Files.readAllLines(status, StandardCharsets.UTF_8).contains("ready")) return pid;
                    throw new IOException(reason(log));
                }
                if (pid < 0 && waited > 10_000) throw new IOException("the server's shell did not start within 10 s");
                if (waited > MOUNT_TIMEOUT_MS) {
                    if (pid > 0) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                    throw new IOException("the server did not mount within " + MOUNT_TIMEOUT_MS / 1000 + " s");
                }
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the server was mounting");
        } finally {
            Files.deleteIfExists(status);
        }
    }

    /** The server's last "cannot" line from its log, which says why it did not mount. */
    private static String reason(Path log) throws IOException {
        String text = Files.exists(log) ? Files.readString(log) : "";
        return text.lines().filter(l -> l.startsWith("skiff-fuse: cannot")).reduce((a, b) -> b)
                .orElse("it exited before mounting; see " + log);
    }

    private static String classPath() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            if (!e.isEmpty()) out.add(Path.of(e).toAbsolutePath().toString());
        return String.join(java.io.File.pathSeparator, out);
    }
}
