package skiff.engine;

import skiff.util.ExitCode;
import skiff.util.HostPath;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The host programs the engine execs, and the one version requirement: util-linux unshare ≥ 2.38 for
 * --map-current-user. The answer is cached in the runtime directory, keyed by unshare's mtime and size, so the
 * common path costs one stat.
 */
public final class HostTools {
    private HostTools() {}

    private static final Pattern VERSION = Pattern.compile("util-linux\\s+(\\d+)\\.(\\d+)");

    /** The system directories come first: a user's PATH must not put a program of theirs in unshare's place. */
    private static final List<Path> SYSTEM_DIRS = Stream.of("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin")
            .map(Path::of).toList();

    public static Path find(String name) {
        Path p = HostPath.find(name, HostPath.concat(SYSTEM_DIRS, HostPath.processDirs()));
        if (p != null) return p;
        throw new SkiffException(ExitCode.HOST, name + " not found: install it (" + switch (name) {
            case "unshare", "nsenter", "setsid" -> "util-linux";
            case "squashfuse_ll", "squashfuse" -> "squashfuse";
            case "fusermount3" -> "fuse3";
            default -> name;
        } + ")");
    }

    /** Checks unshare supports --map-current-user (unless --fakeroot, which uses --map-root-user). */
    public static Path unshare(Path runtimeDir, boolean fakeroot) {
        Path u = find("unshare");
        if (fakeroot) return u;
        try {
            String key = u + " " + Files.getLastModifiedTime(u).toMillis() + " " + Files.size(u);
            Path cache = runtimeDir.resolve("unshare.ok");
            if (Files.exists(cache) && Files.readString(cache).equals(key)) return u;
            Process p = new ProcessBuilder(u.toString(), "--version").redirectErrorStream(true).start();
            String out;
            try (var in = p.getInputStream()) { // closed now: the payload this JVM execs into would inherit the pipe
                out = new String(in.readAllBytes());
            }
            p.waitFor();
            Matcher m = VERSION.matcher(out);
            if (!m.find()) throw new SkiffException(ExitCode.HOST, "cannot tell the version of " + u + " (" + out.strip()
                    + "): skiff needs util-linux 2.38 or later, or run with --fakeroot");
            int major = Integer.parseInt(m.group(1)), minor = Integer.parseInt(m.group(2));
            if (major < 2 || (major == 2 && minor < 38))
                throw new SkiffException(ExitCode.HOST, u + " is util-linux " + major + "." + minor
                        + ", which lacks --map-current-user (2.38+): upgrade util-linux, or run with --fakeroot");
            Files.writeString(cache, key);
            return u;
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "cannot run " + u + " --version: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SkiffException(ExitCode.HOST, "interrupted");
        }
    }
}
