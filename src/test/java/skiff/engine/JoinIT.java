package skiff.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ranks sharing one container per node, without Slurm: several skiff run processes with --join (and with the
 * variables srun sets, faked), as the unprivileged test user. The proof that they share it is what MPI needs:
 * process_vm_readv (cross-memory attach) between two ranks, which the kernel refuses across sibling user
 * namespaces. After every ending, normal or not, nothing of the group may remain.
 */
class JoinIT {
    static RunFixture fx;
    static String hex;

    @BeforeAll
    static void image() throws Exception {
        fx = new RunFixture("skiff-join-it");
        Path tree = fx.tree("bb");
        Path src = Path.of(System.getProperty("skiff.home", ".")).resolve("src/test/c/cma.c");
        Cmd.of("gcc", "-static", "-O2", "-o", tree.resolve("bin/cma").toString(), src.toString()).run().ok();
        hex = fx.install(ImageBuilder.create(fx.base.resolve("img")).layerFromDir(tree), "bb").hex();
        Files.createDirectories(fx.base.resolve("x"));
        fx.handOver();
        Cmd.of("chmod", "1777", fx.base.resolve("x").toString()).run().ok();
    }

    @AfterAll
    static void cleanup() {
        fx.close();
    }

    static Path joinDir() {
        return fx.xdg.resolve("skiff/join");
    }

    static Cmd rank(String... args) {
        return fx.skiff(args).timeout(Duration.ofMinutes(2));
    }

    static String err(Process p) {
        try {
            return new String(p.getErrorStream().readAllBytes());
        } catch (IOException e) {
            return e.toString();
        }
    }

    static String out(Process p) throws IOException {
        return new String(p.getInputStream().readAllBytes());
    }

    /** The group's files, the runs' scratch directories and the holder are gone (the holder exits by itself). */
    static void nothingLeft() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline && (!groups().isEmpty() || !holders().isEmpty() || !runDirs().isEmpty()))
            Thread.sleep(100);
        assertEquals(List.of(), groups(), "a join group's files remain");
        assertEquals(List.of(), runDirs(), "a run directory remains");
        assertEquals("", holders(), "a holder process remains");
    }

    static List<String> groups() throws IOException {
        if (!Files.isDirectory(joinDir())) return List.of();
        try (Stream<Path> s = Files.list(joinDir())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.equals(".lock")).toList();
        }
    }

    static List<String> runDirs() throws IOException {
        Path runs = fx.xdg.resolve("skiff/run");
        if (!Files.isDirectory(runs)) return List.of();
        try (Stream<Path> s = Files.list(runs)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    static String holders() {
        return Cmd.of("pgrep", "-u", Cmd.TEST_USER, "-f", "Stage2 --hold .*" + joinDir()).run().out();
    }

    /**
     * Every process in the mount namespace {@code ns} ("mnt:[N]") whose environment holds {@code mark}: the kernel
     * reuses a dead namespace's inode number, and other containers (other tests) may run meanwhile.
     */
    static List<String> inNamespace(String ns, String mark) throws IOException {
        List<String> pids = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc"))) {
            for (Path p : s.toList()) {
                if (!p.getFileName().toString().matches("[0-9]+")) continue;
                try {
                    if (Files.readSymbolicLink(p.resolve("ns/mnt")).toString().equals(ns)
                            && ("\0" + new String(Files.readAllBytes(p.resolve("environ"))) + "\0").contains("\0" + mark + "\0"))
                        pids.add(p.getFileName().toString());
                } catch (IOException gone) {
                    // exited
                }
            }
        }
        return pids;
    }

    @Test
    void ranksShareOneUserAndMountNamespaceAndCrossMemoryAttachWorks() throws Exception {
        Path x = fx.base.resolve("x/shared");
        String show = "readlink /proc/self/ns/user; readlink /proc/self/ns/mnt; echo $$; ";
        Process a = rank("run", "--join", "g1", "--join-size", "2", "bb", "sh", "-c", show + "cma serve " + x).start();
        Process b = rank("run", "--join", "g1", "--join-size", "2", "bb", "sh", "-c", show + "cma read " + x).start();
        List<String> oa = out(a).lines().toList(), ob = out(b).lines().toList();
        assertTrue(a.waitFor(1, TimeUnit.MINUTES) && b.waitFor(1, TimeUnit.MINUTES));
        assertEquals(0, b.exitValue(), () -> ob + err(b));
        assertEquals(0, a.exitValue(), () -> oa + err(a));
        assertEquals(oa.get(0), ob.get(0), "the ranks' user namespaces differ");
        assertEquals(oa.get(1), ob.get(1), "the ranks' mount namespaces differ");
        assertNotEquals(oa.get(2), ob.get(2));
        assertEquals("cma ok", ob.get(3));
        assertEquals("served", oa.get(3));
        nothingLeft();

        // the same two ranks without --join: sibling user namespaces, where the kernel refuses the copy
        Path y = fx.base.resolve("x/separate");
        Process c = rank("run", "bb", "sh", "-c", show + "cma serve " + y).start();
        Process d = rank("run", "bb", "sh", "-c", show + "cma read " + y).start();
        List<String> oc = out(c).lines().toList(), od = out(d).lines().toList();
        assertTrue(c.waitFor(1, TimeUnit.MINUTES) && d.waitFor(1, TimeUnit.MINUTES));
        assertNotEquals(oc.get(0), od.get(0));
        assertEquals("cma failed: Operation not permitted", od.get(3));
    }

    @Test
    void underSrunTheStepsRanksShareOneContainerWithoutAnOption() throws Exception {
        // The variables srun gives two tasks of job 77 step 3 on this node (faked: Slurm itself is tested elsewhere).
        List<Process> ps = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            ps.add(rank("run", "bb", "sh", "-c", "readlink /proc/self/ns/user; echo $SLURM_PROCID; pwd")
                    .env("SLURM_JOB_ID", "77").env("SLURM_STEP_ID", "3").env("SLURM_STEP_TASKS_PER_NODE", "2")
                    .env("SLURM_NODEID", "0").env("SLURM_LOCALID", Integer.toString(i)).env("SLURM_PROCID", Integer.toString(i))
                    .dir(Path.of("/tmp")).start());
        }
        List<List<String>> outs = new ArrayList<>();
        for (Process p : ps) outs.add(out(p).lines().toList());
        for (Process p : ps) {
            assertTrue(p.waitFor(1, TimeUnit.MINUTES));
            assertEquals(0, p.exitValue(), () -> err(p));
        }
        assertEquals(outs.get(0).get(0), outs.get(1).get(0), "srun's ranks did not share a user namespace");
        assertEquals(List.of("0", "1"), List.of(outs.get(0).get(1), outs.get(1).get(1)), "each rank keeps its own environment");
        assertEquals("/tmp", outs.get(0).get(2), "the working directory is the rank's");
        nothingLeft();
    }

    @Test
    void aGroupThatNeverCompletesTimesOutOnEveryRankNamingHowManyJoined() throws Exception {
        Process a = rank("run", "--join", "g2", "--join-size", "3", "bb", "true").env("SKIFF_JOIN_TIMEOUT", "5").start();
        Process b = rank("run", "--join", "g2", "--join-size", "3", "bb", "true").env("SKIFF_JOIN_TIMEOUT", "5").start();
        for (Process p : List.of(a, b)) {
            assertTrue(p.waitFor(1, TimeUnit.MINUTES));
            String e = err(p);
            assertEquals(125, p.exitValue(), e);
            // (2 of 3, unless a loaded machine started the second rank after the first had given up)
            assertTrue(e.matches("skiff: --join g2: only [12] of 3 ranks of this node joined within 5 s: .*\\s*"), e);
            assertEquals(1, e.strip().lines().count(), e);
        }
        nothingLeft();
    }

    @Test
    void aRankStartingAfterTheGroupHasStartedGetsAnError() throws Exception {
        Process a = rank("run", "--join", "g3", "--join-size", "2", "bb", "sh", "-c", "echo up; sleep 5").start();
        Process b = rank("run", "--join", "g3", "--join-size", "2", "bb", "sh", "-c", "echo up; sleep 5").start();
        for (Process p : List.of(a, b))
            assertEquals("up", new BufferedReader(new InputStreamReader(p.getInputStream())).readLine(), () -> err(p));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!groups().isEmpty() && System.nanoTime() < deadline) Thread.sleep(20); // the holder has left
        Cmd.Result late = rank("run", "--join", "g3", "--join-size", "2", "bb", "true").env("SKIFF_JOIN_TIMEOUT", "2").run();
        assertEquals(125, late.exit(), late.toString());
        assertTrue(late.err().startsWith("skiff: --join g3: only 1 of 2 ranks of this node joined within 2 s"), late.err());
        for (Process p : List.of(a, b)) {
            assertTrue(p.waitFor(1, TimeUnit.MINUTES));
            assertEquals(0, p.exitValue(), () -> err(p));
        }
        nothingLeft();
    }

    @Test
    void killingTheProcessThatSetsTheContainerUpFailsTheWaitingRanksAtOnce() throws Exception {
        Process a = rank("run", "--join", "g4", "--join-size", "3", "bb", "true").start();
        Process b = rank("run", "--join", "g4", "--join-size", "3", "bb", "true").start();
        Path group = joinDir().resolve("n.g4");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(group.resolve("ready")) && System.nanoTime() < deadline) Thread.sleep(20);
        String holder = Files.readString(group.resolve("holder")).split(" ")[0];
        long t = System.nanoTime();
        Cmd.of("kill", "-KILL", holder).run().ok();
        for (Process p : List.of(a, b)) {
            assertTrue(p.waitFor(1, TimeUnit.MINUTES));
            String e = err(p);
            assertEquals(125, p.exitValue(), e);
            assertEquals("skiff: --join g4: the process setting up the container (pid " + holder + ") died before every"
                    + " rank had entered it; run the step again", e.strip());
        }
        assertTrue(System.nanoTime() - t < TimeUnit.SECONDS.toNanos(10), "the ranks waited for their timeout");
        nothingLeft();
    }

    @Test
    void killingTheFirstRankWhileOthersWaitFailsThemAtOnce() throws Exception {
        Process first = rank("run", "--join", "g5", "--join-size", "3", "bb", "true").start();
        Path ranks = joinDir().resolve("n.g5/ranks");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && !(Files.isDirectory(ranks) && count(ranks) == 1)) Thread.sleep(20);
        String firstPid;
        try (Stream<Path> s = Files.list(ranks)) {
            firstPid = s.findFirst().orElseThrow().getFileName().toString();
        }
        Process second = rank("run", "--join", "g5", "--join-size", "3", "bb", "true").start();
        while (System.nanoTime() < deadline && count(ranks) < 2) Thread.sleep(20);
        Cmd.of("kill", "-KILL", firstPid).run().ok();
        assertTrue(second.waitFor(30, TimeUnit.SECONDS), "the second rank hangs");
        String e = err(second);
        assertEquals(125, second.exitValue(), e);
        assertEquals("skiff: --join g5: rank pid " + firstPid + " died before all 3 ranks of this node had started;"
                + " the others give up", e.strip());
        first.waitFor(30, TimeUnit.SECONDS);
        nothingLeft();
    }

    static long count(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).count();
        }
    }

    @Test
    void sigkillOfARunningRankLeavesNoMountNamespaceHolderOrFileBehind() throws Exception {
        String mark = "JOIN_IT_MARK=" + ProcessHandle.current().pid();
        Process a = rank("run", "--join", "g6", "--join-size", "2", "-e", mark, "bb", "sh", "-c",
                "readlink /proc/self/ns/mnt; echo $$; sleep 60").start();
        Process b = rank("run", "--join", "g6", "--join-size", "2", "-e", mark, "bb", "sh", "-c",
                "readlink /proc/self/ns/mnt; echo $$; sleep 60").start();
        BufferedReader ra = new BufferedReader(new InputStreamReader(a.getInputStream()));
        BufferedReader rb = new BufferedReader(new InputStreamReader(b.getInputStream()));
        String ns = ra.readLine();
        assertEquals(ns, rb.readLine(), () -> err(b));
        String pa = ra.readLine(), pb = rb.readLine();
        // /proc is read while the shells fork their sleep: a read can miss a process once, so look again briefly
        java.util.Set<String> seen = java.util.Set.of();
        for (int i = 0; i < 50 && seen.size() < 2; i++) {
            seen = java.util.Set.copyOf(inNamespace(ns, mark).stream().filter(p -> p.equals(pa) || p.equals(pb)).toList());
            if (seen.size() < 2) Thread.sleep(100);
        }
        assertEquals(java.util.Set.of(pa, pb), seen);
        // one rank SIGKILLed, then the rest of the step as scancel ends it (SIGKILL after its grace period)
        Cmd.of("kill", "-KILL", pa).run().ok();
        assertTrue(a.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, a.exitValue());
        b.descendants().forEach(ProcessHandle::destroyForcibly);
        assertTrue(b.waitFor(30, TimeUnit.SECONDS));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!inNamespace(ns, mark).isEmpty() && System.nanoTime() < deadline) Thread.sleep(100);
        assertEquals(List.of(), inNamespace(ns, mark), "a process still holds the container's mount namespace");
        nothingLeft();
        // and the image's own mount goes after its idle period (1 s in tests), as after any container
        Path mnt = fx.xdg.resolve("skiff/mnt").resolve(hex);
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (Files.readString(Path.of("/proc/mounts")).contains(" " + mnt + " ") && System.nanoTime() < deadline)
            Thread.sleep(200);
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(" " + mnt + " "), "the image is still mounted");
    }

    @Test
    void optionsASharedContainerCannotHonourAreRefusedInOneLine() {
        for (String opt : List.of("--pid", "--fakeroot")) {
            Cmd.Result r = rank("run", "--join", "g7", "--join-size", "2", opt, "bb", "true").run();
            assertEquals(2, r.exit(), r.toString());
            assertTrue(r.err().startsWith("skiff: " + opt + " cannot be used in a container shared by several ranks (--join g7)"), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        Cmd.Result srun = rank("run", "--pid", "bb", "true").env("SLURM_JOB_ID", "5").env("SLURM_STEP_ID", "0")
                .env("SLURM_STEP_TASKS_PER_NODE", "4").run();
        assertEquals(2, srun.exit(), srun.toString());
        assertTrue(srun.err().contains("(Slurm job 5 step 0)") && srun.err().contains("add --no-join"), srun.err());
        // --no-join: a container of its own, as before
        Cmd.Result own = rank("run", "--no-join", "--pid", "bb", "true").env("SLURM_JOB_ID", "5").env("SLURM_STEP_ID", "0")
                .env("SLURM_STEP_TASKS_PER_NODE", "4").run();
        assertEquals(0, own.exit(), own.toString());
        Cmd.Result size = rank("run", "--join-size", "2", "bb", "true").run();
        assertEquals(2, size.exit(), size.toString());
        assertEquals("skiff: --join-size needs --join NAME outside a Slurm job step (srun)", size.err().strip());
    }

    @Test
    void aCommandMissingInTheImageIs127AndOneNotExecutableIs126() throws Exception {
        Process a = rank("run", "--join", "g8", "--join-size", "2", "bb", "no-such-command").start();
        Process b = rank("run", "--join", "g8", "--join-size", "2", "bb", "/etc/passwd").start();
        assertTrue(a.waitFor(1, TimeUnit.MINUTES) && b.waitFor(1, TimeUnit.MINUTES));
        assertEquals(127, a.exitValue());
        assertEquals("skiff: no-such-command: command not found in the container", err(a).strip());
        assertEquals(126, b.exitValue());
        assertEquals("skiff: /etc/passwd: permission denied (not an executable file)", err(b).strip());
        nothingLeft();
    }
}
