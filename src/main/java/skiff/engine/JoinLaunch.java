package skiff.engine;

import skiff.sys.Capabilities;
import skiff.sys.Exec;
import skiff.sys.Fds;
import skiff.sys.Flock;
import skiff.sys.SysException;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Env;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A rank's side of a shared container (see {@link JoinGroup}). The first rank of the group starts the holder:
 * unshare(1) and stage 2 exactly as for a container of its own, except that stage 2 ({@link JoinHolder}) stays
 * after pivot_root instead of exec'ing a payload. Every rank registers, waits until the whole group has and the
 * holder is ready, then execs nsenter(1) into the holder's user and mount namespaces, which execs the payload.
 * A JVM cannot join a user namespace itself (setns(CLONE_NEWUSER) wants a single-threaded caller); nsenter can, and
 * with --preserve-credentials it skips setgroups, which an unprivileged user namespace refuses. No fork on this
 * path: the payload keeps the rank's pid, its parent (slurmstepd, mpirun) and its inherited descriptors.
 */
final class JoinLaunch {
    private JoinLaunch() {}

    /** Seconds a rank waits for the others and for the container. */
    static final String TIMEOUT_ENV = "SKIFF_JOIN_TIMEOUT";
    static final int DEFAULT_TIMEOUT = 60;
    private static final int POLL_MS = 2;

    /** This rank has seen the whole group and the container ready. */
    private static volatile boolean complete;

    static int timeout(Map<String, String> env) {
        String v = env.get(TIMEOUT_ENV);
        if (v == null) return DEFAULT_TIMEOUT;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException ignored) {
            // below
        }
        throw new SkiffException(ExitCode.USAGE, TIMEOUT_ENV + " must be a whole number of seconds, at least 1, not '" + v + "'");
    }

    /**
     * Registers, waits, and execs the payload in the group's container; returns only by throwing.
     *
     * @param planFile   this rank's launch plan (the holder's, when this rank is the first)
     * @param holderArgv unshare ... Stage2, to which the holder's arguments are appended
     */
    static void enter(Path runtime, JoinGroup g, LaunchPlan plan, Path planFile, List<String> holderArgv,
                      List<String> holderEnv, Map<String, String> env) {
        long t0 = System.nanoTime();
        int timeout = timeout(env);
        Path nsenter = HostTools.find("nsenter"); // before registering: a rank that cannot enter must not count
        long deadline = t0 + timeout * 1_000_000_000L;
        long me = ProcessHandle.current().pid();
        String myStart = JoinFiles.startTime(me);
        Path base, group;
        boolean first;
        try {
            base = Files.createDirectories(runtime.resolve("join"));
            group = base.resolve(g.key());
            first = register(base, group, g, plan, me, myStart, deadline);
        } catch (IOException | SysException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot join the container of " + g.origin() + " under "
                    + runtime.resolve("join") + ": " + e.getMessage());
        }
        trace("join: registered" + (first ? " (first)" : "") + ", JVM started at "
                + ProcessHandle.current().info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L) + " ms");
        // scancel's SIGTERM while waiting: the registration goes (and the group, if nobody else is left to remove it)
        Path b = base, gr = group;
        // (not once past the barrier: then a rank that exits is one the holder counts as dead, not as never come)
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!complete) leave(b, gr, me);
        }));
        Path runDir = Path.of(plan.runDir());
        if (first) {
            startHolder(base, group, g, planFile, holderArgv, holderEnv, timeout);
        } else {
            try {
                Stage2.removeTree(runDir); // the first rank's plan builds the container; this one's is not needed
            } catch (IOException ignored) {
                // removed with the group, or by the next run with this pid
            }
        }
        long[] holder = await(base, group, g, me, deadline, timeout);
        complete = true;
        trace("join: group complete, container ready");
        String procRoot = "/proc/" + holder[0] + "/root";
        String cwd = plan.cwd();
        String exe;
        Path wd;
        try {
            wd = RootPath.resolve(Path.of(procRoot), cwd);
            if (!Files.isDirectory(wd))
                throw new SkiffException(ExitCode.LAUNCH, "working directory " + cwd + " in the container: no such directory");
            exe = resolveCommand(Path.of(procRoot), cwd, plan.args().get(0), Stage2.pathOf(plan.env()));
        } catch (IOException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot look into the container of " + g.origin() + ": " + e.getMessage());
        }
        List<String> argv = new ArrayList<>(List.of(nsenter.toString(), "--preserve-credentials",
                "-U", "-m", "-t", Long.toString(holder[0]),
                // nsenter opens --wd's directory before it enters the namespaces: through the holder's root, the
                // directory of the container's own tree, made the working directory once inside
                "--wd=" + wd, "--"));
        argv.add(exe);
        argv.addAll(plan.args().subList(1, plan.args().size()));
        try {
            closeJvmFds();
            // Per thread, and inherited across execve: set in the thread that execs, before nsenter (which gains every
            // capability of the container's user namespace by entering it) and the payload
            Capabilities.noNewPrivs();
            trace("join: exec " + argv.get(0));
            System.out.flush();
            System.err.flush();
            Exec.execve(argv.get(0), argv, plan.env());
        } catch (SysException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot enter the container of " + g.origin() + ": " + e.getMessage());
        }
        throw new SkiffException(ExitCode.LAUNCH, "execve returned");
    }

    /** Whether this rank is the group's first (then it starts the holder). */
    private static boolean register(Path base, Path group, JoinGroup g, LaunchPlan plan, long me, String myStart,
                                    long deadline) throws IOException, SysException {
        String root = plan.root() + (plan.overlay() ? " overlay" : "") + (plan.writable() ? " writable" : "");
        while (true) {
            try (Flock l = Flock.exclusive(base.resolve(JoinFiles.LOCK).toString())) {
                sweep(base);
                if (!JoinFiles.exists(group)) {
                    Files.createDirectories(group.resolve(JoinFiles.RANKS));
                    JoinFiles.write(group.resolve(JoinFiles.ROOT), root);
                    JoinFiles.write(group.resolve(JoinFiles.RUNDIR), plan.runDir());
                    add(group, me, myStart, g.rankId());
                    return true;
                }
                String failed = JoinFiles.read(group.resolve(JoinFiles.FAILED));
                if (!failed.isEmpty()) throw failure(failed);
                List<JoinFiles.Rank> ranks = JoinFiles.ranks(group);
                if (ranks.size() >= g.size()) {
                    // A rank with this one's index ran already: the step runs skiff again (srun ... sh -c 'skiff run
                    // ...; skiff run ...'), and the previous group is about to go; else this rank is one too many.
                    boolean again = g.rankId() != null && ranks.stream().anyMatch(r -> g.rankId().equals(r.rankId()));
                    if (!again) throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": all " + g.size()
                            + " ranks of this node have started already: this rank came late, or the group is larger"
                            + " than " + g.size() + " (" + sizeHint(g) + ")");
                } else {
                    String theirs = JoinFiles.read(group.resolve(JoinFiles.ROOT));
                    if (!theirs.equals(root))
                        throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": the other ranks on this node run "
                                + theirs + ", this one " + root + ": ranks sharing a container must run the same image"
                                + " with the same options");
                    add(group, me, myStart, g.rankId());
                    return false;
                }
            }
            if (System.nanoTime() > deadline)
                throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": the previous run of this group did not end");
            sleep();
        }
    }

    private static void add(Path group, long me, String start, String rankId) throws IOException {
        Path tmp = group.resolve(".reg-" + me);
        Files.writeString(tmp, start + " " + (rankId == null ? "-" : rankId) + "\n");
        Files.move(tmp, group.resolve(JoinFiles.RANKS).resolve(Long.toString(me)), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Removes groups nobody is left to remove: no live holder and no live rank (the holder was killed with
     * the step, as proctrack/cgroup does).
     */
    private static void sweep(Path base) {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(base)) {
            for (Path d : s) {
                if (d.getFileName().toString().startsWith(".") || !Files.isDirectory(d)) continue;
                if (JoinFiles.holderAlive(JoinFiles.holder(d))) continue;
                if (JoinFiles.ranks(d).stream().anyMatch(JoinFiles.Rank::alive)) continue;
                JoinFiles.remove(d);
            }
        } catch (IOException ignored) {
            // nothing to sweep
        }
    }

    private static void startHolder(Path base, Path group, JoinGroup g, Path planFile, List<String> holderArgv,
                                    List<String> holderEnv, int timeout) {
        String why;
        try {
            List<String> cmd = new ArrayList<>();
            // Detached (its own session, re-parented when setsid's fork exits): not a child this rank's payload would
            // have to reap, and not killed with this rank, so a SIGKILL of the first rank does not strand the others.
            cmd.add(HostTools.find("setsid").toString());
            cmd.add("-f");
            cmd.addAll(holderArgv);
            cmd.addAll(List.of("--hold", planFile.toString(), group.toString(), Integer.toString(g.size()),
                    Integer.toString(timeout)));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.appendTo(group.resolve(JoinFiles.LOG).toFile()));
            pb.environment().clear();
            for (String e : holderEnv) pb.environment().put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1));
            int rc = pb.start().waitFor();
            if (rc == 0) return;
            why = "setsid exited with status " + rc;
        } catch (IOException | RuntimeException e) {
            why = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            why = "interrupted";
        }
        try {
            JoinFiles.write(group.resolve(JoinFiles.FAILED), ExitCode.LAUNCH.code + " cannot start the process that sets up"
                    + " the container: " + why);
        } catch (IOException ignored) {
            // the others time out instead
        }
        leave(base, group, ProcessHandle.current().pid());
        throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": cannot start the process that sets up the container: " + why);
    }

    /** Waits for the whole group and a ready holder; returns the holder's {pid, start time}. */
    private static long[] await(Path base, Path group, JoinGroup g, long me, long deadline, int timeout) {
        long[] holder = null;
        while (true) {
            String failed = JoinFiles.read(group.resolve(JoinFiles.FAILED));
            if (!failed.isEmpty()) {
                leave(base, group, me);
                throw failure(failed);
            }
            if (!JoinFiles.exists(group)) // removed under us: only when the group was abandoned
                throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": the group was abandoned while this rank waited");
            List<JoinFiles.Rank> ranks = JoinFiles.ranks(group);
            if (holder == null) holder = JoinFiles.holder(group);
            boolean ready = holder != null && JoinFiles.exists(group.resolve(JoinFiles.READY));
            if (holder != null && !JoinFiles.holderAlive(holder)) {
                leave(base, group, me);
                throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": the process setting up the container (pid "
                        + holder[0] + ") died before every rank had entered it; run the step again");
            }
            if (ranks.size() >= g.size() && ready) return holder;
            for (JoinFiles.Rank r : ranks) {
                if (!r.alive()) {
                    leave(base, group, me);
                    throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": rank pid " + r.pid() + " died before all "
                            + g.size() + " ranks of this node had started; the others give up");
                }
            }
            if (System.nanoTime() > deadline) {
                leave(base, group, me);
                throw new SkiffException(ExitCode.LAUNCH, g.origin() + ": only " + ranks.size() + " of " + g.size()
                        + " ranks of this node joined within " + timeout + " s" + (ready ? "" : " (the container was not ready either)")
                        + ": " + sizeHint(g) + ", or set " + TIMEOUT_ENV + " for slower starts");
            }
            sleep();
        }
    }

    private static String sizeHint(JoinGroup g) {
        return g.origin().startsWith("--join")
                ? "--join-size (or the launcher's local rank count) must be the number of ranks on this node started with --join"
                : "every task of the step on this node must run skiff run; else add --no-join";
    }

    /** This rank gives up: its registration goes; the group too when nobody else is left to remove it. */
    private static void leave(Path base, Path group, long me) {
        try (Flock l = Flock.exclusive(base.resolve(JoinFiles.LOCK).toString())) {
            Files.deleteIfExists(group.resolve(JoinFiles.RANKS).resolve(Long.toString(me)));
            if (JoinFiles.holderAlive(JoinFiles.holder(group))) return;
            if (JoinFiles.ranks(group).stream().anyMatch(JoinFiles.Rank::alive)) return;
            JoinFiles.remove(group);
        } catch (IOException | SysException | RuntimeException ignored) {
            // best effort: the next group of this user sweeps it
        }
    }

    private static SkiffException failure(String failed) {
        int sp = failed.indexOf(' ');
        int status = ExitCode.LAUNCH.code;
        try {
            status = Integer.parseInt(failed.substring(0, sp));
        } catch (RuntimeException ignored) {
            // keep 125
        }
        String msg = failed.substring(sp + 1);
        ExitCode code = status == ExitCode.NOT_FOUND.code ? ExitCode.NOT_FOUND
                : status == ExitCode.NOT_EXECUTABLE.code ? ExitCode.NOT_EXECUTABLE : ExitCode.LAUNCH;
        return new SkiffException(code, msg);
    }

    /**
     * As execvp(3) would find {@code cmd} inside the container, looked up through the holder's root: a missing or
     * non-executable command is reported as by a container of its own (127, 126), before anything is exec'd.
     * Returns the container path to exec.
     */
    static String resolveCommand(Path root, String cwd, String cmd, String path) throws IOException {
        if (cmd.isEmpty()) throw new SkiffException(ExitCode.NOT_FOUND, "empty command: command not found in the container");
        if (cmd.contains("/")) {
            String abs = cmd.startsWith("/") ? cmd : cwd + "/" + cmd;
            Path p = RootPath.resolve(root, abs);
            if (!Files.exists(p)) throw new SkiffException(ExitCode.NOT_FOUND, cmd + ": no such file or directory in the container");
            if (Files.isDirectory(p) || !Files.isExecutable(p))
                throw new SkiffException(ExitCode.NOT_EXECUTABLE, cmd + ": permission denied (not an executable file)");
            return abs;
        }
        String denied = null;
        for (String dir : path.split(":", -1)) {
            String d = dir.isEmpty() ? cwd : dir.startsWith("/") ? dir : cwd + "/" + dir;
            String abs = d + "/" + cmd;
            Path p = RootPath.resolve(root, abs);
            if (Files.isRegularFile(p)) {
                if (Files.isExecutable(p)) return abs;
                if (denied == null) denied = abs;
            }
        }
        if (denied != null) throw new SkiffException(ExitCode.NOT_EXECUTABLE, denied + ": permission denied (not executable)");
        throw new SkiffException(ExitCode.NOT_FOUND, cmd + ": command not found in the container");
    }

    /**
     * Only what the rank inherited (PMI_FD's socket, a launcher's pipes; {@link InheritedFds}, recorded at start)
     * reaches nsenter and the payload: every descriptor the JVM opened is marked close-on-exec (a host directory's
     * descriptor would reach outside the container, cf. runc CVE-2024-21626).
     */
    static void closeJvmFds() throws SysException {
        Fds.closeOnExecAbove2();
        List<Integer> keep = InheritedFds.captured();
        int[] fds = new int[keep.size()];
        for (int i = 0; i < fds.length; i++) fds[i] = keep.get(i);
        Fds.keepOnExec(fds);
    }

    private static final boolean TRACE = Env.is("SKIFF_TRACE", "1");

    /** SKIFF_TRACE=1: wall-clock points, comparable across the ranks of a node (bench/mpi.sh). */
    private static void trace(String what) {
        if (TRACE) System.err.println("skiff-trace: pid " + ProcessHandle.current().pid() + " at "
                + System.currentTimeMillis() + " ms " + what);
    }

    private static void sleep() {
        try {
            Thread.sleep(POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
