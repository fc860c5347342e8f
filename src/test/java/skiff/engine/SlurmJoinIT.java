package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.MpiFixture;
import skiff.testing.MpiImages.Mpi;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Under a real Slurm (ci/slurm.sh) with real MPI, no option: the step's ranks on the node share one container,
 * so OpenMPI's single-copy transport (CMA) and MPICH's UCX shared memory work, and scancel or a killed rank
 * leave nothing of the step behind.
 */
class SlurmJoinIT {
    static MpiFixture fx;

    @BeforeAll
    static void fixture() {
        fx = MpiFixture.create("skiff-slurm-join-it");
    }

    @AfterAll
    static void cleanup() {
        if (fx != null) fx.close();
    }

    static List<String> userNamespaces(String out) {
        return out.lines().filter(l -> l.startsWith("user:[")).toList();
    }

    @Test
    void openMpiRanksUseCrossMemoryAttachAt16MiB() {
        // No OMPI_MCA_btl_vader_single_copy_mechanism=none: in per-rank user namespaces this hangs at >= 4 MiB.
        Cmd.Result r = fx.srun(Mpi.OPENMPI, 2, List.of(), "openmpi", "sh", "-c",
                "readlink /proc/self/ns/user; exec mpi_pingpong " + (16 << 20)).run();
        assertEquals(0, r.exit(), r.toString());
        List<String> ns = userNamespaces(r.out());
        assertEquals(2, ns.size(), r.toString());
        assertEquals(ns.get(0), ns.get(1), "the ranks are in different user namespaces");
        assertTrue(r.out().contains("bandwidth bytes=16777216 "), r.toString());
        assertTrue(r.out().contains("pingpong ok"), r.toString());
        assertFalse(r.err().contains("single_copy_mechanism"), "OpenMPI found CMA unavailable: " + r.err());
    }

    @Test
    void mpichRanksPassMpiInitWithUcxSharedMemoryUnderPmi2() {
        Cmd.Result r = fx.srun(Mpi.MPICH, 2, List.of(), "mpich", "sh", "-c",
                "readlink /proc/self/ns/user; exec mpi_hello").run();
        assertEquals(0, r.exit(), r.toString());
        List<String> ns = userNamespaces(r.out());
        assertEquals(2, ns.size(), r.toString());
        assertEquals(ns.get(0), ns.get(1), r.toString());
        assertTrue(r.out().contains("hello ok size=2"), r.toString());
    }

    @Test
    void scancelOfARunningStepAndSigkillOfARankLeaveNothingBehind() throws Exception {
        for (boolean scancel : new boolean[] {true, false}) {
            Process p = fx.srun(Mpi.OPENMPI, 2, List.of("--job-name=skiff-join-" + scancel), "openmpi", "sh", "-c",
                    "echo $SLURM_JOB_ID $$ $(readlink /proc/self/ns/mnt); sleep " + (scancel ? 120 : 4)).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
            String[] a = out.readLine().split(" "), b = out.readLine().split(" ");
            assertEquals(a[2], b[2], "the ranks are in different mount namespaces");
            String ns = a[2], mark = "SLURM_JOB_ID=" + a[0];
            if (scancel) {
                Cmd.Result c = fx.slurm("scancel", a[0]).run();
                assertEquals(0, c.exit(), c.toString());
            } else {
                Cmd.of("kill", "-KILL", a[1]).run().ok(); // the other rank ends by itself
            }
            assertTrue(p.waitFor(2, TimeUnit.MINUTES), "srun did not end");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline && (!JoinIT.inNamespace(ns, mark).isEmpty() || !left().isEmpty())) Thread.sleep(200);
            List<String> remain = JoinIT.inNamespace(ns, mark);
            assertEquals(List.of(), remain, () -> (scancel ? "scancel" : "SIGKILL") + ": processes remain in the step's container: "
                    + Cmd.of("ps", "-o", "pid,ppid,stat,etime,args", "-p", String.join(",", remain)).run().out());
            assertEquals(List.of(), left(), "files of the step remain in skiff's runtime directory");
            assertEquals("", Cmd.of("pgrep", "-u", Cmd.TEST_USER, "-f", "Stage2 --hold .*" + fx.xdg).run().out(), "a holder remains");
            while (System.nanoTime() < deadline && !fx.mountsLeft().isEmpty()) Thread.sleep(200);
            assertEquals(List.of(), fx.mountsLeft(), "the image is still mounted after its idle period");
        }
    }

    /** Join groups and run directories under the fixture's runtime directory. */
    static List<String> left() throws IOException {
        List<String> l = new ArrayList<>();
        for (String d : List.of("skiff/join", "skiff/run")) {
            Path dir = fx.xdg.resolve(d);
            if (!Files.isDirectory(dir)) continue;
            try (Stream<Path> s = Files.list(dir)) {
                s.map(Path::toString).filter(n -> !n.endsWith("/.lock")).forEach(l::add);
            }
        }
        return l;
    }
}
