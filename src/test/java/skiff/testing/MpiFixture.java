package skiff.testing;

import skiff.testing.MpiImages.Mpi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an MPI integration test needs: the Slurm cluster up, a skiff store owned by the test user holding the
 * two MPI images as {@code openmpi} and {@code mpich} (root filesystems made by skiff itself on first use), a
 * runtime directory of its own, and launchers ({@code srun}, {@code salloc}, {@code sbatch}) as the test user with
 * the environment that reaches every rank.
 */
public final class MpiFixture implements AutoCloseable {
    public final Path base;
    public final Path storage;
    public final Path xdg;
    private final Map<String, String> extraEnv = new LinkedHashMap<>();

    private MpiFixture(Path base) {
        this.base = base;
        this.storage = base.resolve("storage");
        this.xdg = base.resolve("xdg");
    }

    /** A fixture under /tmp/{@code prefix}*, with both images installed and converted, owned by the test user. */
    public static MpiFixture create(String prefix) {
        try {
            Slurm.up();
            Path base = Files.createTempDirectory(Path.of("/tmp"), prefix);
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
            MpiFixture f = new MpiFixture(base);
            Files.createDirectories(f.xdg);
            for (Mpi m : Mpi.values()) MpiImages.copyInto(f.storage, m, name(m));
            f.handOver();
            // One conversion per image up front, so a test's ranks do not all wait for it (racing ranks are safe,
            // only slower; the first-run path has tests of its own).
            for (Mpi m : Mpi.values()) f.skiff("run", name(m), "true").run().ok();
            return f;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The image's name in the store (a full reference: skiff's short name {@code openmpi} resolves to it). */
    public static String name(Mpi m) {
        return "docker.io/library/" + m.tag + ":latest";
    }

    /** Gives the store and the runtime directory to the test user (again after adding images as root). */
    public void handOver() {
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", storage.toString()).run().ok();
        // Not recursive: the user's image mounts (FUSE, without allow_other) below it are closed to root.
        Cmd.of("chown", Cmd.TEST_USER + ":", xdg.toString()).run().ok();
        Cmd.of("chmod", "700", xdg.toString()).run().ok();
    }

    /** The environment skiff needs in every rank: its store and runtime directory, a 1 s mount idle time. */
    public Map<String, String> env() {
        Map<String, String> e = new LinkedHashMap<>();
        e.put("SKIFF_STORAGE", storage.toString());
        e.put("XDG_RUNTIME_DIR", xdg.toString());
        e.put("SKIFF_MOUNT_IDLE", "1");
        e.putAll(extraEnv);
        return e;
    }

    /** Adds a variable to {@link #env()} (every later command and rank gets it). */
    public MpiFixture withEnv(String k, String v) {
        extraEnv.put(k, v);
        return this;
    }

    /** bin/skiff ARGS as the test user, outside Slurm. */
    public Cmd skiff(String... args) {
        List<String> a = new ArrayList<>(List.of(Cmd.skiffBin().toString()));
        a.addAll(List.of(args));
        Cmd c = Cmd.of(a);
        env().forEach(c::env);
        return c.asTestUser().dir(Path.of("/"));
    }

    /**
     * {@code srun --mpi=X -n N [srunArgs...] bin/skiff run [runArgs...]} as the test user; {@code runArgs} are the
     * image and command (and skiff options before them).
     */
    public Cmd srun(Mpi mpi, int ranks, List<String> srunArgs, String... runArgs) {
        List<String> a = new ArrayList<>(List.of("srun", mpi.srunOption(), "-n", Integer.toString(ranks)));
        a.addAll(srunArgs);
        a.add(Cmd.skiffBin().toString());
        a.add("run");
        a.addAll(List.of(runArgs));
        return Slurm.asUser(env(), a).timeout(Duration.ofMinutes(3));
    }

    /** Any Slurm client command line as the test user with {@link #env()}. */
    public Cmd slurm(String... argv) {
        return Slurm.asUser(env(), List.of(argv)).timeout(Duration.ofMinutes(3));
    }

    /** Mount points under this fixture's runtime directory that are still mounted (host view). */
    public List<String> mountsLeft() {
        try {
            List<String> l = new ArrayList<>();
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo")))
                if (line.contains(" " + xdg + "/") || line.contains(" " + base + "/")) l.add(line);
            return l;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits for the mount reaper to unmount this fixture's images (idle 1 s), then removes everything. */
    @Override
    public void close() {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline && !mountsLeft().isEmpty()) Slurm.sleep(200);
        Cmd.of("rm", "-rf", base.toString()).run();
    }
}
