package skiff.policy.site;

import skiff.spec.Mount;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Judges a user's bind mount. The source is taken after {@code toRealPath} (so symlinks and {@code ..}
 * are resolved the way the kernel will), then must lie under an allowed prefix and under no denied one.
 * The destination is normalised and its symlinks are resolved inside the image's root filesystem
 * (absolute links restart at the rootfs, {@code ..} stops at its root), because that is where the kernel
 * will resolve it at mount time; the resolved path must not be, or lie under, a forbidden destination,
 * and the returned mount uses it.
 */
public final class BindPolicy {
    private static final int MAX_LINKS = 40;

    private final List<Path> allow;
    private final List<Path> deny;
    private final List<String> forbidden;

    public BindPolicy(List<String> allow, List<String> deny, List<String> forbiddenDestinations) {
        this.allow = allow.stream().map(BindPolicy::realOrNormal).toList();
        // A denied path may itself be a symlink (/var/run -> /run): deny both spellings.
        List<Path> d = new ArrayList<>();
        for (String s : deny) {
            d.add(Path.of(s).normalize());
            d.add(realOrNormal(s));
        }
        this.deny = d;
        this.forbidden = forbiddenDestinations.stream().map(s -> Path.of(s).normalize().toString()).toList();
    }

    private static Path realOrNormal(String s) {
        Path p = Path.of(s).toAbsolutePath().normalize();
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p;
        }
    }

    /** The validated mount (real source, resolved destination), or SkiffException(POLICY). */
    public Mount check(Mount m, Path rootfs) {
        Path source = realSource(m.source());
        if (allow.stream().noneMatch(a -> under(source, a)))
            throw new SkiffException(ExitCode.POLICY, "bind of " + m.source() + (source.toString().equals(m.source()) ? "" : " (" + source + ")")
                    + " denied: not under a host path the site allows users to bind (" + String.join(", ", allow.stream().map(Path::toString).toList())
                    + "); bind something under those, or ask the administrator");
        for (Path d : deny) {
            if (under(source, d))
                throw new SkiffException(ExitCode.POLICY, "bind of " + m.source() + (source.toString().equals(m.source()) ? "" : " (" + source + ")")
                        + " denied: the site forbids binding " + d + "; bind another path");
            // rbind would bring the denied path along (binding / or /etc exposes /etc/shadow, /proc...).
            if (under(d, source) && Files.exists(d))
                throw new SkiffException(ExitCode.POLICY, "bind of " + m.source() + (source.toString().equals(m.source()) ? "" : " (" + source + ")")
                        + " denied: it contains " + d + ", which the site forbids binding; bind a narrower path");
        }
        String dest = resolveDestination(m.destination(), rootfs);
        checkDestination(m.destination(), dest);
        return new Mount(dest, m.type(), source.toString(), m.options());
    }

    public void checkDestination(String asWritten, String resolved) {
        for (String f : forbidden) {
            if (resolved.equals(f) || (!f.equals("/") && resolved.startsWith(f + "/")))
                throw new SkiffException(ExitCode.POLICY, "bind destination " + asWritten
                        + (asWritten.equals(resolved) ? "" : " (" + resolved + " in the image)")
                        + " denied: it would cover " + f + ", which the site keeps as the image has it; choose a destination such as /data or /scratch");
        }
    }

    static Path realSource(String source) {
        if (source == null || source.isEmpty())
            throw new SkiffException(ExitCode.USAGE, "bind mount without a source path; write -v HOSTPATH:CONTAINERPATH");
        try {
            return Path.of(source).toAbsolutePath().toRealPath();
        } catch (NoSuchFileException e) {
            throw new SkiffException(ExitCode.USAGE, "bind source " + source + " does not exist; create it or fix the path");
        } catch (IOException e) {
            throw new SkiffException(ExitCode.POLICY, "bind source " + source + " cannot be resolved: " + e.getMessage());
        }
    }

    static boolean under(Path p, Path prefix) {
        return p.startsWith(prefix);
    }

    /**
     * The absolute container path {@code dest} names once {@code ..} and symlinks are resolved inside
     * {@code rootfs} (a host directory holding the image's tree; null: lexical normalisation only).
     * Components that do not exist yet are kept as written (the engine creates them as mount points).
     */
    public static String resolveDestination(String dest, Path rootfs) {
        if (dest == null || !dest.startsWith("/"))
            throw new SkiffException(ExitCode.USAGE, "bind destination '" + dest + "' must be an absolute container path");
        List<String> todo = new ArrayList<>(List.of(dest.split("/")));
        List<String> done = new ArrayList<>();
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.removeFirst();
            if (c.isEmpty() || c.equals(".")) continue;
            if (c.equals("..")) {
                if (!done.isEmpty()) done.removeLast();
                continue;
            }
            done.add(c);
            if (rootfs == null) continue;
            Path host = rootfs.resolve(String.join("/", done));
            if (!Files.isSymbolicLink(host)) continue;
            if (++links > MAX_LINKS)
                throw new SkiffException(ExitCode.POLICY, "bind destination " + dest + " has too many symbolic links in the image");
            String target;
            try {
                target = Files.readSymbolicLink(host).toString();
            } catch (IOException e) {
                throw new SkiffException(ExitCode.POLICY, "bind destination " + dest + ": cannot read link " + host + ": " + e.getMessage());
            }
            done.removeLast();
            if (target.startsWith("/")) done.clear();
            List<String> next = new ArrayList<>(List.of(target.split("/")));
            next.addAll(todo);
            todo = next;
        }
        return "/" + String.join("/", done);
    }
}
