package skiff.engine.fuse;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
     * Full JIT (decompression is the hot path), the serial collector and a bounded heap: the caches are bounded
     * well below it (SquashfsReader), so the resident size stays small and predictable.
     */
    static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xms8m", "-Xmx96m",
            "-Xss512k", "-XX:ReservedCodeCacheSize=48m", "--enable-native-access=ALL-UNNAMED");

    public static void start(Path setsid, Path image, Path mnt, Path fusermount, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(setsid.toString(), "-f",
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(JVM_FLAGS);
        cmd.addAll(List.of("-cp", classPath(), FuseMain.class.getName(), image.toString(), mnt.toString(), fusermount.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(new java.io.File("/"))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Process p = pb.start();
        boolean ready = false;
        StringBuilder said = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.equals("ready")) {
                    ready = true;
                    break;
                }
                said.append(line).append(' ');
            }
        }
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!ready) {
            String why = Files.exists(log) ? Files.readString(log).strip() : "";
            why = why.lines().filter(l -> l.startsWith("skiff-fuse: cannot")).reduce((a, b) -> b).orElse("");
            why = why.isEmpty() ? "it exited without a word" + (said.isEmpty() ? "" : ": " + said.toString().strip())
                    + " (setsid exit status " + p.exitValue() + ")" : why.lines().reduce((a, b) -> b).orElse(why);
            throw new IOException(why);
        }
    }

    private static String classPath() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            if (!e.isEmpty()) out.add(Path.of(e).toAbsolutePath().toString());
        return String.join(java.io.File.pathSeparator, out);
    }
}
