package skiff.util;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The one search for host programs along a PATH. (A command inside the container is resolved by the engine as
 * execvp(3) does, relative to the container's root: a different search.)
 */
public final class HostPath {
    private HostPath() {}

    /** The directories of a PATH value in order; empty entries are dropped (on the host they would mean "."). */
    public static List<Path> dirs(String path) {
        List<Path> out = new ArrayList<>();
        if (path != null) for (String d : path.split(":")) if (!d.isEmpty()) out.add(Path.of(d));
        return out;
    }

    /** The directories of this process's PATH. */
    public static List<Path> processDirs() {
        return dirs(Env.get("PATH"));
    }

    /** The first executable regular file {@code name} in {@code dirs}, or null. */
    public static Path find(String name, List<Path> dirs) {
        for (Path d : dirs) {
            Path p = d.resolve(name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** {@code a} then {@code b}. */
    public static List<Path> concat(List<Path> a, List<Path> b) {
        List<Path> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
