package skiff.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one-node Slurm of ci/slurm.sh (munged, slurmctld, slurmd on loopback; 8 CPUs declared), started on first
 * use and left running (ci/test.sh stops it). Jobs are submitted as {@link Cmd#TEST_USER}.
 */
public final class Slurm {
    private Slurm() {}

    /** Where ci/slurm.sh keeps configuration and state (its SKIFF_SLURM_DIR). */
    public static final Path DIR = Path.of(System.getenv().getOrDefault("SKIFF_SLURM_DIR", "/var/lib/skiff-slurm"));

    private static boolean up;

    /** Starts the cluster if it is not running (idempotent, ~0.2 s when it runs) and waits until the node takes jobs. */
    public static synchronized void up() {
        if (up) return;
        Path script = Path.of(System.getProperty("skiff.home", ".")).toAbsolutePath().resolve("ci/slurm.sh");
        Cmd.of("bash", script.toString(), "up").timeout(Duration.ofMinutes(1)).run().ok();
        up = true;
    }

    /** The SLURM_CONF every client command needs. */
    public static String conf() {
        return DIR.resolve("etc/slurm.conf").toString();
    }

    /** The spool directory under which slurmstepd makes each step's PMIx directory (PMIX_SERVER_TMPDIR). */
    public static Path spool() {
        return DIR.resolve("spool/slurmd");
    }

    /** A Slurm client command (srun, sbatch, salloc, scancel...) as the test user, with {@code env} added. */
    public static Cmd asUser(Map<String, String> env, List<String> argv) {
        up();
        Cmd c = Cmd.of(argv).env("SLURM_CONF", conf());
        env.forEach(c::env);
        return c.asTestUser().dir(Path.of("/"));
    }

    /** Submits {@code script} with sbatch as the test user and returns the job id. */
    public static String sbatch(Map<String, String> env, Path script, String... sbatchArgs) {
        List<String> a = new ArrayList<>(List.of("sbatch", "--parsable"));
        a.addAll(List.of(sbatchArgs));
        a.add(script.toString());
        String out = asUser(env, a).run().ok().out().strip();
        return out.contains(";") ? out.substring(0, out.indexOf(';')) : out;
    }

    /**
     * Waits until job {@code id} has left the queue (sbatch --wait polls every 2-10 s: too slow for tests) and
     * returns its final state (COMPLETED, FAILED, CANCELLED...).
     */
    public static String await(String id, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String state = null;
        while (System.nanoTime() < deadline) {
            Optional<String> s = state(id);
            if (s.isEmpty()) return state == null ? "UNKNOWN" : state;
            state = s.get();
            if (!state.equals("PENDING") && !state.equals("RUNNING") && !state.equals("CONFIGURING")
                    && !state.equals("COMPLETING")) return state;
            sleep(100);
        }
        throw new AssertionError("job " + id + " still " + state + " after " + timeout);
    }

    /** The job's state from scontrol, empty once the controller has forgotten it (MinJobAge). */
    public static Optional<String> state(String id) {
        Cmd.Result r = Cmd.of("scontrol", "-o", "show", "job", id).env("SLURM_CONF", conf()).run();
        Matcher m = Pattern.compile("JobState=(\\S+)").matcher(r.out());
        return r.exit() == 0 && m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** Text of a file the job wrote (its --output), readable by root. */
    public static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
