package skiff.engine;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The descriptors the caller of {@code skiff run} passed on, which the payload keeps: Slurm's PMI-2 socket
 * ({@code PMI_FD}), a launcher's pipes, a shell's {@code 3>file}. Everything skiff itself opened must not reach the
 * payload (runc CVE-2024-21626: a leaked host directory descriptor escapes the container), and the JDK opens its
 * runtime image and jars without O_CLOEXEC, so "not close-on-exec" alone cannot tell them apart. They are taken as
 * the first thing skiff does ({@link #capture}), when the only descriptors not inherited are the JVM's own
 * bootstrap files; stage 2 marks every other descriptor close-on-exec.
 */
public final class InheritedFds {
    private InheritedFds() {}

    /** Stage 2's environment variable carrying the list, comma-separated. */
    static final String ENV = "SKIFF_INHERITED_FDS";

    private static final long O_CLOEXEC = 02000000;

    private static volatile List<Integer> captured = List.of();

    /**
     * Records the inherited descriptors. Call before opening any file: every descriptor above 2 that survives
     * execve and is not one of the JVM's (a file of its runtime, skiff's jars and AOT caches next to skiff.jar).
     */
    public static void capture() {
        captured = scan(Path.of("/proc/self/fd"), ownDirs());
    }

    /** The recorded descriptors, ascending. */
    public static List<Integer> captured() {
        return captured;
    }

    static List<Integer> scan(Path fdDir, List<Path> ownDirs) {
        List<Integer> fds = new ArrayList<>();
        Path self;
        try {
            self = fdDir.toRealPath();
        } catch (IOException e) {
            return List.of();
        }
        try (DirectoryStream<Path> d = Files.newDirectoryStream(fdDir)) {
            for (Path p : d) {
                int fd;
                try {
                    fd = Integer.parseInt(p.getFileName().toString());
                } catch (NumberFormatException e) {
                    continue;
                }
                if (fd <= 2) continue;
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue; // closed meanwhile: the directory stream's own descriptor
                }
                if (target.equals(self.toString()) || own(target, ownDirs) || closeOnExec(fdDir, fd)) continue;
                fds.add(fd);
            }
        } catch (IOException e) {
            return List.of(); // no /proc: keep nothing, as before
        }
        fds.sort(null);
        return List.copyOf(fds);
    }

    private static boolean own(String target, List<Path> ownDirs) {
        if (!target.startsWith("/")) return false; // socket:[..], pipe:[..], anon_inode:..
        Path t = Path.of(target);
        for (Path d : ownDirs) if (t.startsWith(d)) return true;
        return false;
    }

    private static boolean closeOnExec(Path fdDir, int fd) {
        try {
            for (String line : Files.readAllLines(fdDir.resolveSibling("fdinfo").resolve(Integer.toString(fd)))) {
                if (line.startsWith("flags:")) return (Long.parseLong(line.substring(6).strip(), 8) & O_CLOEXEC) != 0;
            }
        } catch (IOException | NumberFormatException e) {
            // unknown: treat as inherited, stage 2 checks it is still open
        }
        return false;
    }

    /** The JVM's runtime and the directory of skiff.jar (its lib/ jars and AOT caches lie there). */
    static List<Path> ownDirs() {
        List<Path> l = new ArrayList<>();
        l.add(Path.of(System.getProperty("java.home")));
        try {
            Path jar = Path.of(InheritedFds.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            l.add(Files.isDirectory(jar) ? jar : jar.getParent());
        } catch (java.net.URISyntaxException | RuntimeException e) {
            // no code source: only the runtime's files are known
        }
        return l;
    }

    /** The list as stage 2 receives it. */
    static String envValue() {
        StringBuilder sb = new StringBuilder();
        for (int fd : captured) sb.append(sb.isEmpty() ? "" : ",").append(fd);
        return sb.toString();
    }

    /** Parses {@link #envValue}; anything malformed is dropped (stage 2 then keeps nothing). */
    static int[] parse(String v) {
        if (v == null || v.isEmpty()) return new int[0];
        String[] parts = v.split(",");
        int[] out = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                out[i] = Integer.parseInt(parts[i]);
                if (out[i] <= 2) return new int[0];
            }
        } catch (NumberFormatException e) {
            return new int[0];
        }
        return out;
    }
}
