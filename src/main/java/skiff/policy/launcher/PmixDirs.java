package skiff.policy.launcher;

import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.spec.Transform;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The PMIx server's directories, bound at the same path so a rank reaches them as on the host. Slurm's mpi/pmix
 * (and mpirun's PMIx server) puts its rendezvous files and the shared-memory data store in
 * {@code PMIX_SERVER_TMPDIR} (under SlurmdSpoolDir, which the image does not have); the data store may lie
 * elsewhere ({@code PMIX_DSTORE_<n>_BASE_PATH}). Without them the client still connects over TCP but falls back
 * from the data store to its hash component with an error message, or fails where TCP is off. A directory the
 * container already sees at the same path (under /tmp, bound whole) is not bound again; one that does not exist
 * on this host is skipped: the launcher's own error is then the clearer one. The mount point is created where the
 * image has none (standard mounts are the engine's to create).
 */
public final class PmixDirs implements Transform {
    private final Map<String, String> hostEnv;

    public PmixDirs(Map<String, String> hostEnv) {
        this.hostEnv = hostEnv;
    }

    /** The host directories PMIx names in {@code env}: absolute, normalised, existing, outermost only. */
    public static List<Path> directories(Map<String, String> env) {
        TreeSet<Path> dirs = new TreeSet<>();
        env.forEach((k, v) -> {
            boolean named = k.equals("PMIX_SERVER_TMPDIR") || k.matches("PMIX_DSTORE_[A-Z0-9]+_BASE_PATH");
            if (!named || v == null || !v.startsWith("/") || v.indexOf('\0') >= 0) return;
            Path p = Path.of(v).normalize();
            if (p.getNameCount() > 0 && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) dirs.add(p);
        });
        List<Path> out = new ArrayList<>();
        for (Path p : dirs) if (out.stream().noneMatch(p::startsWith)) out.add(p);
        return out;
    }

    @Override
    public Spec apply(Spec spec) {
        List<Path> dirs = directories(hostEnv);
        if (dirs.isEmpty()) return spec;
        List<Mount> mounts = new ArrayList<>(spec.mounts());
        for (Path d : dirs) {
            if (visible(spec.mounts(), d)) continue;
            mounts.add(new Mount(d.toString(), "bind", d.toString(), List.of("rbind", "nosuid", "nodev")));
        }
        return spec.withMounts(mounts);
    }

    /** An earlier recursive bind shows the host's {@code dir} at the same path already. */
    static boolean visible(List<Mount> mounts, Path dir) {
        for (Mount m : mounts) {
            if (!m.isBind() || m.source() == null || !m.source().equals(m.destination())) continue;
            if (!m.options().contains("rbind") && !Path.of(m.source()).equals(dir)) continue;
            if (dir.startsWith(Path.of(m.source()))) return true;
        }
        return false;
    }
}
