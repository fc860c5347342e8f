package skiff.engine;

import skiff.sys.Capabilities;
import skiff.sys.Fds;
import skiff.sys.Flock;
import skiff.sys.PivotRoot;
import skiff.sys.SysException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Stage 2 for a shared container ({@link JoinLaunch}): started detached by the group's first rank, inside new user
 * and mount namespaces made exactly as for a container of its own. Builds the mount tree and pivots as
 * {@link Stage2} does, announces itself ready, and stays only until every registered rank has entered its
 * namespaces (its /proc/PID/ns/mnt is this one's) or died; then it removes the group's files and exits. The
 * namespaces live on in the ranks and die with the last one: nothing of skiff stays resident.
 */
final class JoinHolder {
    private JoinHolder() {}

    /** Seconds the holder waits beyond the ranks' own timeout before it gives the group up. */
    private static final int GRACE = 10;

    /** argv: --hold PLAN GROUP_DIR SIZE TIMEOUT_S */
    static void main(String[] argv) {
        Path planFile = Path.of(argv[1]);
        Path hostGroup = Path.of(argv[2]);
        int size = Integer.parseInt(argv[3]);
        long deadline = System.nanoTime() + (Long.parseLong(argv[4]) + GRACE) * 1_000_000_000L;
        long me = ProcessHandle.current().pid();
        Path group = hostGroup;
        Path lock = hostGroup.resolveSibling(JoinFiles.LOCK);
        LaunchPlan plan = null;
        boolean pivoted = false;
        try {
            // The join directory stays reachable through this descriptor once pivot_root has hidden its path.
            int baseFd = Fds.openDirectory(hostGroup.getParent().toString());
            Path base = Path.of("/proc/self/fd/" + baseFd);
            group = base.resolve(hostGroup.getFileName().toString());
            lock = base.resolve(JoinFiles.LOCK);
            JoinFiles.write(group.resolve(JoinFiles.HOLDER), me + " " + JoinFiles.startTime(me));
            plan = LaunchPlan.read(planFile);
            Files.deleteIfExists(planFile);
            boolean hooks = !plan.hooks().hooks().isEmpty();
            if (hooks) StageHooks.prepare(plan);
            MountTree.build(plan);
            long hostPid = hooks ? StageHooks.hostPid() : 0;
            if (hooks) StageHooks.run(plan, "created", hostPid, "prestart", "createRuntime", "createContainer");
            Stage2.removeTree(Path.of(plan.runDir()));
            loadAhead(group);
            PivotRoot.into(plan.root());
            pivoted = true;
            if (hooks) {
                StageHooks.run(plan, "created", hostPid, "startContainer");
                StageHooks.run(plan, "running", hostPid, "poststart");
            }
            Capabilities.dropAll();
            Capabilities.noNewPrivs();
            JoinFiles.write(group.resolve(JoinFiles.READY), Long.toString(me));
        } catch (Stage2.Failure f) {
            failed(group, f.status, f.getMessage());
        } catch (IOException e) {
            failed(group, Stage2.LAUNCH, "cannot start the container: " + Stage2.describe(e));
        } catch (SysException | RuntimeException e) {
            failed(group, Stage2.LAUNCH, "cannot start the container: " + e.getMessage());
        }
        if (plan != null && !pivoted) {
            try {
                Stage2.removeTree(Path.of(plan.runDir()));
            } catch (IOException | RuntimeException ignored) {
                // removed with the group
            }
        }
        try {
            watch(group, size, deadline);
        } catch (RuntimeException | Error e) {
            System.err.println("skiff: holder: " + e);
        }
        try (Flock l = Flock.exclusive(lock.toString())) {
            JoinFiles.remove(group);
        } catch (SysException | RuntimeException | Error e) {
            JoinFiles.remove(group);
        }
        Stage2.halt(0);
    }

    /**
     * Loads, while skiff's jar is still reachable, every class used after pivot_root: a class first needed after it
     * cannot be found (with the AOT cache, classes outside it are read from the jar by path), and a holder that
     * dies of that leaves the group's files behind.
     */
    private static void loadAhead(Path group) {
        for (Class<?> c : List.of(Flock.class, JoinFiles.class, JoinFiles.Rank.class, Capabilities.class, SysException.class,
                Stage2.Failure.class, skiff.util.Procs.class, java.nio.file.StandardCopyOption.class))
            try {
                Class.forName(c.getName(), true, JoinHolder.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
        JoinFiles.ranks(group);
        JoinFiles.mountNs("self");
        JoinFiles.holderAlive(JoinFiles.holder(group));
        JoinFiles.exists(group);
    }

    private static void failed(Path group, int status, String message) {
        try {
            JoinFiles.write(group.resolve(JoinFiles.FAILED), status + " " + message);
        } catch (IOException | RuntimeException ignored) {
            // the ranks time out instead
        }
    }

    /**
     * Until no registered rank is still on its way in (alive, not yet in this mount namespace), once the group is
     * complete, or broken (a rank died, setting up failed, everyone left).
     */
    private static void watch(Path group, int size, long deadline) {
        String mine = JoinFiles.mountNs("self");
        boolean gaveUp = false;
        long stop = Long.MAX_VALUE;
        while (true) {
            List<JoinFiles.Rank> ranks = JoinFiles.ranks(group);
            int pending = 0;
            boolean dead = false;
            for (JoinFiles.Rank r : ranks) {
                if (!r.alive()) dead = true;
                else if (mine == null || !mine.equals(JoinFiles.mountNs(Long.toString(r.pid())))) pending++;
            }
            boolean failed = JoinFiles.exists(group.resolve(JoinFiles.FAILED));
            if (pending == 0 && (ranks.size() >= size || dead || failed || ranks.isEmpty())) return;
            long now = System.nanoTime();
            if (now > deadline && !gaveUp) {
                failed(group, Stage2.LAUNCH, "the group's " + size + " ranks did not all start in time: the container was given up");
                gaveUp = true;
                stop = now + 2_000_000_000L;
            }
            if (now > stop) return; // ranks that never read the verdict: not worth a resident process
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
