package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.MpiFixture;
import skiff.testing.MpiImages;
import skiff.testing.MpiImages.Mpi;
import skiff.testing.Slurm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hybrid model on a real Slurm (ci/slurm.sh) with real MPI: the MPI library is the image's, the launcher is
 * the host's ({@code srun --mpi=pmix|pmi2}, or {@code mpirun} inside an allocation), every rank a {@code skiff run}
 * as the unprivileged test user.
 */
class MpiHybridIT {
    static MpiFixture fx;

    @BeforeAll
    static void setUp() throws IOException {
        fx = MpiFixture.create("skiff-mpi-hybrid");
        // The OpenMPI image with launcher variables of its own in its config, as images built on a cluster carry.
        Path layout = fx.base.resolve("layout-env");
        Cmd.of("cp", "-r", MpiImages.layout().toString(), layout.toString()).run().ok();
        Cmd.of("umoci", "config", "--image", layout + ":openmpi", "--tag", "pmixenv",
                "--config.env", "PMIX_RANK=99", "--config.env", "PMIX_SERVER_TMPDIR=/image/pmix",
                "--config.env", "PMIX_SERVER_URI41=pmix-server.1;tcp4://127.0.0.1:1", "--config.env", "SLURM_PROCID=99",
                "--config.env", "PMI_FD=99", "--config.env", "IMAGE_OWN=yes").run().ok();
        Cmd.of("skopeo", "copy", "--quiet", "oci:" + layout + ":pmixenv",
                "oci:" + fx.storage.resolve("oci") + ":docker.io/library/pmixenv:latest").run().ok();
        fx.handOver();
        fx.skiff("run", "pmixenv", "true").run().ok();
    }

    @AfterAll
    static void tearDown() {
        if (fx != null) fx.close();
    }

    static List<String> lines(String text, String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).toList();
    }

    /** Every rank printed its line with the full size, and rank 0 saw the allreduce right. */
    static void assertHello(Cmd.Result r, int ranks) {
        assertEquals(0, r.exit(), r.toString());
        List<String> hello = lines(r.out(), "hello rank=");
        assertEquals(ranks, hello.size(), r.toString());
        Set<String> seen = new TreeSet<>();
        for (String l : hello) {
            assertTrue(l.contains(" size=" + ranks + " "), l);
            seen.add(l.replaceAll("hello rank=(\\d+).*", "$1"));
        }
        assertEquals(ranks, seen.size(), "each rank once: " + r);
        assertTrue(r.out().contains("hello ok size=" + ranks), r.toString());
    }

    @Test
    void openmpiRanksUnderSrunPmixFormOneWorld() {
        Cmd.Result r = fx.srun(Mpi.OPENMPI, 2, List.of(), "openmpi", "mpi_hello").run();
        assertHello(r, 2);
        // The PMIx client found the server's data store: no fallback message.
        assertFalse(r.err().contains("PMIX ERROR"), r.err());
    }

    @Test
    void mpichRanksUnderSrunPmi2FormOneWorld() {
        assertHello(fx.srun(Mpi.MPICH, 2, List.of(), "mpich", "mpi_hello").run(), 2);
    }

    @Test
    void largeMessagesPassIntactBetweenRanksOfOneNode() {
        // 16 MiB takes OpenMPI's single-copy path (CMA), which hangs between ranks in different user namespaces.
        Cmd.Result r = fx.srun(Mpi.OPENMPI, 2, List.of(), "openmpi", "mpi_pingpong", Integer.toString(16 << 20)).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("bandwidth bytes=16777216 ") && r.out().contains("pingpong ok"), r.toString());
        assertFalse(r.err().contains("single_copy_mechanism"), "CMA must be available between the ranks: " + r.err());
    }

    @Test
    void mpirunInsideAnAllocationStartsTheRanksThroughSkiff() {
        List<String> a = new ArrayList<>(List.of("salloc", "-n", "2", "mpirun.openmpi", "-n", "2",
                Cmd.skiffBin().toString(), "run", "openmpi", "mpi_hello"));
        assertHello(fx.slurm(a.toArray(String[]::new)).run(), 2);
    }

    @Test
    void thePmi2SocketReachesTheRankAndNothingOfSkiffsDoes() {
        // The shell tests its own descriptors with builtins: a $(...), a pipe or a redirection would add one.
        Cmd.Result r = fx.srun(Mpi.MPICH, 2, List.of(), "mpich", "sh", "-c",
                "o='0 1 2'; n=3; while [ $n -lt 64 ]; do [ -e /proc/$$/fd/$n ] && o=\"$o $n\"; n=$((n+1)); done;"
                        + " echo \"fd=$PMI_FD size=$PMI_SIZE type=$(stat -L -c %F /proc/self/fd/$PMI_FD) open=$o\"").run();
        assertEquals(0, r.exit(), r.toString());
        List<String> l = lines(r.out(), "fd=");
        assertEquals(2, l.size(), r.toString());
        Pattern p = Pattern.compile("fd=(\\d+) size=2 type=socket open=(.*)");
        for (String line : l) {
            Matcher m = p.matcher(line.strip());
            assertTrue(m.matches(), line);
            Set<String> open = new TreeSet<>(List.of(m.group(2).strip().split(" ")));
            assertEquals(new TreeSet<>(List.of("0", "1", "2", m.group(1))), open, "descriptors of the rank: " + line);
        }
    }

    @Test
    void thePmixServerDirectoryIsAMountPointAtTheSamePath() {
        String probe = "test -e " + Slurm.spool() + " && echo image-has-spool || echo no-spool";
        assertEquals("no-spool", fx.skiff("run", "openmpi", "sh", "-c", probe).run().ok().out().strip(),
                "the image must lack the spool directory, so the mount point is skiff's to create");
        Cmd.Result r = fx.srun(Mpi.OPENMPI, 1, List.of(), "openmpi", "sh", "-c",
                "d=${PMIX_SERVER_TMPDIR%/}; echo dir=$d; echo mounts=$(grep -c \" $d \" /proc/self/mountinfo); ls $d").run();
        assertEquals(0, r.exit(), r.toString());
        String dir = lines(r.out(), "dir=").get(0).substring(4);
        assertTrue(dir.startsWith(Slurm.spool() + "/pmix."), r.toString());
        assertNotEquals("mounts=0", lines(r.out(), "mounts=").get(0), r.toString());
        assertTrue(r.out().contains("pmix_dstor_"), "the data store's files are visible: " + r);
    }

    @Test
    void theImagesLauncherVariablesNeverOverrideTheHosts() {
        Cmd.Result r = fx.srun(Mpi.OPENMPI, 2, List.of(), "pmixenv", "sh", "-c",
                "echo \"env rank=$PMIX_RANK procid=$SLURM_PROCID tmpdir=$PMIX_SERVER_TMPDIR uri=$PMIX_SERVER_URI41 fd=${PMI_FD:-unset} own=$IMAGE_OWN\"; exec mpi_hello").run();
        assertHello(r, 2);
        List<String> env = new ArrayList<>(lines(r.out(), "env "));
        env.sort(null);
        assertEquals(2, env.size(), r.toString());
        for (int i = 0; i < 2; i++) {
            String l = env.get(i);
            assertTrue(l.startsWith("env rank=" + i + " procid=" + i + " tmpdir=" + Slurm.spool() + "/pmix."), l);
            assertFalse(l.contains("127.0.0.1:1 "), l);
            assertTrue(l.endsWith("fd=unset own=yes"), "the image's other variables apply, its PMI_FD does not: " + l);
        }
    }

    @Test
    void anImageMissingOnTheNodeFailsEveryRankBeforeMpiStarts() {
        Cmd.Result r = fx.srun(Mpi.OPENMPI, 2, List.of(), "no-such-mpi-image", "mpi_hello").run();
        assertNotEquals(0, r.exit(), r.toString());
        assertEquals(List.of(), lines(r.out(), "hello"), r.toString());
        List<String> errors = lines(r.err(), "skiff: ");
        assertEquals(2, errors.size(), "one clear line from each rank: " + r.err());
        for (String e : errors)
            assertTrue(e.contains("no-such-mpi-image") && e.contains("not in the store") && e.contains("skiff pull"), e);
        assertTrue(r.err().contains("Exited with exit code 3"), "each rank exits with skiff's 'not found' (3): " + r.err());
        assertFalse(r.err().contains("MPI_Init") || r.err().contains("PMIX ERROR"), r.err());
    }

    @Test
    void scancelOfARunningStepLeavesNoMountProcessOrRuntimeFile() throws Exception {
        String name = "skiff-scancel-" + ProcessHandle.current().pid();
        String marker = "3217";
        Process srun = fx.srun(Mpi.OPENMPI, 2, List.of("-J", name), "openmpi", "sh", "-c", "exec sleep " + marker).start();
        try {
            await(() -> payloads("sleep " + marker).size() == 2, "both ranks running");
            String id = Cmd.of("squeue", "-h", "-n", name, "-o", "%i").env("SLURM_CONF", Slurm.conf()).run().ok().out().strip();
            assertFalse(id.isEmpty(), "job " + name + " not in the queue");
            fx.slurm("scancel", id).run().ok();
            assertTrue(srun.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "srun did not end after scancel");
        } finally {
            srun.descendants().forEach(ProcessHandle::destroyForcibly);
            srun.destroyForcibly();
        }
        await(() -> payloads("sleep " + marker).isEmpty() && processes(fx.base.toString()).isEmpty()
                && fx.mountsLeft().isEmpty() && runtimeLeft().isEmpty(), "nothing left of the step");
    }

    /**
     * What is left in skiff's runtime directory beyond what outlives every run by design (the user-namespace probes,
     * lock and log files (the FUSE server's among them), the empty run, join and mount-user directories): a run directory, a join group, a
     * registered mount user, a mount point or its reaper's pid file.
     */
    static List<String> runtimeLeft() {
        List<String> left = new ArrayList<>();
        Path rt = fx.xdg.resolve("skiff");
        if (!Files.isDirectory(rt)) return left;
        try (Stream<Path> s = Files.walk(rt, 2)) {
            s.forEach(p -> {
                String rel = rt.relativize(p).toString();
                boolean keep = rel.isEmpty() || rel.equals("unshare.ok") || rel.equals("userns.probe") || rel.equals("run") || rel.equals("join")
                        || rel.equals("join/.lock") || rel.equals("mnt") || rel.matches("mnt/[0-9a-f]{64}\\.(lock|log|server\\.log)")
                        || rel.matches("mnt/[0-9a-f]{64}\\.users") && empty(p);
                if (!keep && !rel.matches("mnt/[0-9a-f]{64}\\.users/.*")) left.add(rel);
            });
        } catch (IOException | java.io.UncheckedIOException e) {
            left.add(rt + ": " + e);
        }
        return left;
    }

    static boolean empty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    /** Live processes whose command line is exactly {@code cmdline} (the ranks' payloads, not their launchers). */
    static List<String> payloads(String cmdline) {
        return processes(cmdline).stream().filter(p -> p.substring(p.indexOf(' ') + 1).strip().equals(cmdline)).toList();
    }

    /** Command lines of live processes containing {@code needle} (this JVM's own excluded). */
    static List<String> processes(String needle) {
        List<String> out = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(ph -> {
            if (ph.pid() == ProcessHandle.current().pid()) return;
            try {
                byte[] raw = Files.readAllBytes(Path.of("/proc/" + ph.pid() + "/cmdline"));
                String cmd = new String(raw, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ');
                if (cmd.contains(needle)) out.add(ph.pid() + " " + cmd);
            } catch (IOException e) {
                // gone
            }
        });
        return out;
    }

    static void await(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what + "; processes " + processes(fx.base.toString())
                        + payloads("sleep 3217") + ", mounts " + fx.mountsLeft() + ", runtime " + runtimeLeft());
            }
            Thread.sleep(200);
        }
    }
}
