package skiff.engine;

import skiff.sys.Capabilities;
import skiff.sys.Errno;
import skiff.sys.Exec;
import skiff.sys.Fds;
import skiff.sys.Mounts;
import skiff.sys.PivotRoot;
import skiff.sys.Processes;
import skiff.sys.SysException;
import skiff.util.Warnings;
import skiff.util.Env;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static skiff.sys.Mounts.MS_BIND;
import static skiff.sys.Mounts.MS_NODEV;
import static skiff.sys.Mounts.MS_NOEXEC;
import static skiff.sys.Mounts.MS_NOSUID;
import static skiff.sys.Mounts.MS_PRIVATE;
import static skiff.sys.Mounts.MS_RDONLY;
import static skiff.sys.Mounts.MS_REC;

/**
 * Stage 2, run by unshare(1) inside the new user and mount namespaces with the namespace's capabilities:
 * builds the container's mount tree, pivots into it, drops every privilege and execs the payload, so the
 * payload keeps the pid of {@code skiff run}. Only java.base and skiff.sys on this path: it must start fast.
 * Exit status 125 for a launch failure, 126/127 for a command that cannot run or does not exist.
 */
public final class Stage2 {
    private Stage2() {}

    static final int LAUNCH = 125, NOT_EXECUTABLE = 126, NOT_FOUND = 127;

    /** With --pid: the plan whose poststop hooks run once the payload has exited (the init's last act). */
    private static LaunchPlan poststop;
    private static long poststopPid;

    /**
     * Poststop hooks, once, from whichever of the init's threads ends it first. A failing one cannot stop
     * anything any more: it is reported and the payload's status kept (runtime-spec: warning only).
     */
    private static synchronized void runPoststop() {
        LaunchPlan p = poststop;
        poststop = null;
        if (p == null || !p.hooks().has("poststop")) return;
        try {
            StageHooks.run(p, "stopped", poststopPid, "poststop");
        } catch (Failure f) {
            Warnings.print(f.reason); // the payload ran: its consequence ("not started") does not apply
        }
    }

    /**
     * A failure with the exit status to report (docs/errors.md). {@link #reason} says what went wrong; the message
     * adds what it means for the run, which depends on when it happened, not on the text.
     */
    static final class Failure extends Exception {
        final int status;
        final String reason;

        Failure(int status, String reason) {
            this(status, reason, reason);
        }

        private Failure(int status, String reason, String message) {
            super(message);
            this.status = status;
            this.reason = reason;
        }

        /** A launch failure before the payload started (a hook of the first stages): the user is told so. */
        static Failure beforeStart(String reason) {
            return new Failure(LAUNCH, reason, reason + "; the container was not started");
        }
    }

    public static void main(String[] argv) {
        if (argv.length == 1 && argv[0].equals("--train")) {
            train();
            return;
        }
        if (argv.length > 0 && argv[0].equals("--hold")) {
            JoinHolder.main(argv);
            return;
        }
        LaunchPlan plan = null;
        try {
            Path planFile = Path.of(argv[0]);
            plan = LaunchPlan.read(planFile);
            Files.deleteIfExists(planFile);
        } catch (IOException e) {
            fail(plan, LAUNCH, "cannot start the container: " + describe(e));
        } catch (RuntimeException e) {
            fail(plan, LAUNCH, "cannot start the container: " + e.getMessage());
        }
        execute(plan, InheritedFds.parse(Env.get(InheritedFds.ENV)));
    }

    /**
     * The container from {@code plan}, in this process, which runs in the new namespaces with their capabilities:
     * the mount tree, the pivot, the hooks, then the payload's exec (or with --pid, this process as its init).
     * Never returns: the payload replaces this process, or it halts with the status of docs/errors.md.
     *
     * @param keep descriptors the payload inherits (skiff's caller passed them on)
     */
    static void execute(LaunchPlan plan, int[] keep) {
        try {
            boolean hooks = !plan.hooks().hooks().isEmpty();
            if (hooks) StageHooks.prepare(plan);
            buildRoot(plan);
            long hostPid = hooks ? StageHooks.hostPid() : 0;
            if (hooks) StageHooks.run(plan, "created", hostPid, "prestart", "createRuntime", "createContainer");
            if (plan.pidInit()) Init.warmUp();
            removeTree(Path.of(plan.runDir()));
            PivotRoot.into(plan.root());
            enterWorkingDir(plan);
            String exe = resolveCommand(plan.args().get(0), pathOf(plan.env()));
            if (hooks) {
                StageHooks.run(plan, "created", hostPid, "startContainer");
                StageHooks.run(plan, "running", hostPid, "poststart");
            }
            Capabilities.dropAll();
            Capabilities.noNewPrivs();
            if (plan.pidInit()) {
                poststop = plan;
                poststopPid = hostPid;
                halt(Init.run(exe, plan.args(), plan.env()));
            }
            Fds.closeOnExecAbove2();
            Fds.keepOnExec(keep);
            System.out.flush();
            try {
                Exec.execve(exe, plan.args(), plan.env());
            } catch (SysException e) {
                throw execFailure(plan.args().get(0), e);
            }
        } catch (Failure f) {
            fail(plan, f.status, f.getMessage());
        } catch (IOException e) {
            fail(plan, LAUNCH, "cannot start the container: " + describe(e));
        } catch (SysException | RuntimeException e) {
            fail(plan, LAUNCH, "cannot start the container: " + e.getMessage());
        }
    }

    /**
     * AOT training run (ci/aot-stage2.sh, -XX:AOTCacheOutput): loads and links what a launch uses, including the
     * downcall handles, without touching any namespace or mount.
     */
    static void train() {
        try {
            Path dir = Files.createTempDirectory("skiff-stage2-train");
            LaunchPlan p = new LaunchPlan(dir.toString(), false, false, dir.toString(), false,
                    List.of(new LaunchPlan.PlanMount("bind", "/tmp", "/tmp", true, true, true, true, false, false, true)),
                    List.of("true"), List.of("PATH=/usr/bin:/bin"), "/");
            p.write(dir.resolve("plan"));
            LaunchPlan q = LaunchPlan.read(dir.resolve("plan"));
            RootPath.resolve(dir, "/a/../b/c");
            resolveCommand(q.args().get(0), pathOf(q.env()));
            Mounts.flags(dir.toString());
            for (Class<?> c : List.of(PivotRoot.class, Capabilities.class, Fds.class, Exec.class, Errno.class, Underlay.class,
                    InheritedFds.class, JoinHolder.class, JoinFiles.class, JoinFiles.Rank.class,
                    skiff.sys.Flock.class))
                Class.forName(c.getName(), true, Stage2.class.getClassLoader());
            Errno.text(Errno.ENOENT);
            InheritedFds.parse("3");
            JoinFiles.ranks(dir);
            JoinFiles.mountNs("self");
            describe(new java.nio.file.NoSuchFileException("x"));
            removeTree(dir);
        } catch (Exception e) {
            System.err.println("skiff: stage 2 training: " + e);
        }
    }

    /**
     * Runtime.halt, not System.exit: after pivot_root the JDK's own files are out of reach, and exit's shutdown
     * logging would try to load classes from them.
     */
    static void halt(int status) {
        runPoststop();
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(status);
    }

    /** java.nio's exceptions often carry only the path as message: add what went wrong. */
    static String describe(IOException e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            String why = f.getReason() != null ? f.getReason() : switch (f) {
                case java.nio.file.AccessDeniedException a -> "permission denied";
                case java.nio.file.NoSuchFileException n -> "no such file or directory";
                case java.nio.file.FileAlreadyExistsException x -> "already exists";
                default -> f.getClass().getSimpleName();
            };
            return f.getFile() + ": " + why;
        }
        return e.toString();
    }

    static Failure execFailure(String cmd, SysException e) {
        return switch (e.errno()) {
            case Errno.ENOENT -> new Failure(NOT_FOUND, cmd + ": cannot execute: " + Errno.text(e.errno())
                    + " (its interpreter or dynamic loader is missing in the image)");
            default -> new Failure(NOT_EXECUTABLE, cmd + ": cannot execute: " + Errno.text(e.errno()));
        };
    }

    private static void fail(LaunchPlan plan, int status, String message) {
        System.err.println("skiff: " + message);
        System.err.flush();
        if (plan != null) {
            try {
                removeTree(Path.of(plan.runDir()));
            } catch (IOException | RuntimeException ignored) {
                // the run directory may be gone already (after pivot_root it is not reachable)
            }
        }
        halt(status);
    }

    static void buildRoot(LaunchPlan plan) throws SysException, IOException, Failure {
        // Nothing we mount may propagate back to the host (shared_subtree, systemd makes / shared).
        Mounts.mount(null, "/", null, MS_REC | MS_PRIVATE, null);
        String root = plan.root();
        Path rootPath = Path.of(root);
        if (plan.overlay()) {
            Path scratch = Path.of(plan.runDir(), "ovl");
            Files.createDirectories(scratch);
            Mounts.mount("tmpfs", scratch.toString(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
            Files.createDirectory(scratch.resolve("upper"));
            Files.createDirectory(scratch.resolve("work"));
            for (String p : List.of(root, scratch.toString()))
                if (p.contains(",") || p.contains(":") || p.contains("\\"))
                    throw new Failure(LAUNCH, "cannot use an overlay: the path " + p + " contains ',', ':' or '\\'");
            Mounts.mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, "lowerdir=" + root + ",upperdir="
                    + scratch.resolve("upper") + ",workdir=" + scratch.resolve("work"));
            // The overlay holds its own references to upper and work: the scratch mount can leave the tree.
            Mounts.umount(scratch.toString(), Mounts.MNT_DETACH);
        } else {
            Mounts.mount(root, root, null, MS_BIND | MS_REC, null);
            // writable without an overlay: a persistent container's own tree
            Mounts.restrict(root, (plan.writable() ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV);
        }
        Underlay underlay = new Underlay(Path.of(plan.runDir()));
        for (LaunchPlan.PlanMount m : plan.mounts()) mountOne(plan, rootPath, m, underlay);
        underlay.seal(!plan.writable());
    }

    private static void mountOne(LaunchPlan plan, Path root, LaunchPlan.PlanMount m, Underlay underlay)
            throws SysException, IOException, Failure {
        Path target = RootPath.resolve(root, m.destination());
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            // Also a device node under a new name (--device A:/dev/B, CDI hostPath): /dev is the host's, rbound;
            // the underlay keeps every other node and adds the new mount point.
            Underlay.HostUnderlay u = underlay.create(root, target, m.file());
            if (u != null && m.user()) {
                String at = "/" + root.relativize(u.at());
                Path missing = u.at().relativize(target);
                Warnings.print("mount point " + m.destination() + ": " + at + " is the host's "
                        + u.hostDir() + ", which lacks " + missing.getName(0) + " and cannot be written here, so "
                        + at + " takes no new entries in this run (create " + Path.of(u.hostDir()).resolve(missing)
                        + " to avoid this)");
            }
        }
        String t = target.toString();
        switch (m.kind()) {
            case "bind" -> {
                if (!Files.exists(Path.of(m.source())))
                    throw new Failure(LAUNCH, "bind source " + m.source() + " does not exist");
                Mounts.mount(m.source(), t, null, MS_BIND | (m.recursive() ? MS_REC : 0), null);
                long add = (m.readOnly() ? MS_RDONLY : 0) | (m.nosuid() ? MS_NOSUID : 0) | (m.nodev() ? MS_NODEV : 0)
                        | (m.noexec() ? MS_NOEXEC : 0);
                if (add != 0) Mounts.restrict(t, add);
                if (!m.file()) underlay.mounted(target, m.source());
            }
            case "proc" -> {
                Mounts.mount("proc", t, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
                underlay.mounted(target, "/proc");
            }
            case "tmpfs" -> {
                Mounts.mount("tmpfs", t, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
                underlay.mounted(target, null);
            }
            default -> throw new Failure(LAUNCH, "unsupported mount type " + m.kind() + " on " + m.destination());
        }
    }

    private static void enterWorkingDir(LaunchPlan plan) throws Failure, IOException {
        String cwd = plan.cwd();
        try {
            PivotRoot.chdir(cwd);
        } catch (SysException e) {
            if (plan.writable() && e.errno() == Errno.ENOENT) {
                Files.createDirectories(Path.of(cwd));
                try {
                    PivotRoot.chdir(cwd);
                    return;
                } catch (SysException again) {
                    e = again;
                }
            }
            throw new Failure(LAUNCH, "working directory " + cwd + " in the container: " + Errno.text(e.errno()));
        }
    }

    static String pathOf(List<String> env) {
        String path = null;
        for (String e : env) if (e.startsWith("PATH=")) path = e.substring(5);
        return path != null ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }

    /** As execvp(3): a name with a slash is used as is, otherwise the container's PATH is searched. */
    static String resolveCommand(String cmd, String path) throws Failure {
        if (cmd.isEmpty()) throw new Failure(NOT_FOUND, "empty command: command not found in the container");
        if (cmd.contains("/")) {
            Path p = Path.of(cmd);
            if (!Files.exists(p)) throw new Failure(NOT_FOUND, cmd + ": no such file or directory in the container");
            if (Files.isDirectory(p) || !Files.isExecutable(p))
                throw new Failure(NOT_EXECUTABLE, cmd + ": permission denied (not an executable file)");
            return cmd;
        }
        String denied = null;
        for (String dir : path.split(":", -1)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, cmd);
            if (Files.isRegularFile(p)) {
                if (Files.isExecutable(p)) return p.toString();
                if (denied == null) denied = p.toString();
            }
        }
        if (denied != null) throw new Failure(NOT_EXECUTABLE, denied + ": permission denied (not executable)");
        throw new Failure(NOT_FOUND, cmd + ": command not found in the container");
    }

    static void removeTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** The minimal init of --pid: starts the payload, forwards signals to it, reaps orphans, exits with its status. */
    static final class Init {
        private Init() {}

        /**
         * Loads what ProcessBuilder needs while the JDK's files are still reachable: after pivot_root its first
         * use would look up a System.Logger backend in the runtime image and fail.
         */
        static void warmUp() {
            System.getLogger("java.lang.ProcessBuilder").isLoggable(System.Logger.Level.DEBUG);
            if (Files.isExecutable(Path.of("/bin/true"))) {
                try {
                    new ProcessBuilder("/bin/true").start().waitFor();
                } catch (IOException e) {
                    // only a warm-up
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        static int run(String exe, List<String> args, List<String> env) throws IOException {
            List<String> cmd = new java.util.ArrayList<>(args);
            cmd.set(0, exe);
            ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
            pb.environment().clear();
            for (String e : env) {
                int eq = e.indexOf('=');
                if (eq > 0) pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
            }
            Process p = pb.start();
            long pid = p.pid();
            for (String sig : List.of("TERM", "INT", "HUP", "USR1", "USR2", "CONT", "WINCH")) {
                try {
                    sun.misc.Signal.handle(new sun.misc.Signal(sig), s -> Processes.kill(pid, s.getNumber()));
                } catch (IllegalArgumentException used) {
                    // the JVM reserves this one on this platform: it is not forwarded
                }
            }
            // Two reapers race for the payload: this loop (which must also reap orphans) and the JDK's. When this
            // loop wins, the JDK's waitpid fails with ECHILD and reports status 0: then the status recorded here
            // is the true one (RunIT's SIGTERM forwarding saw exit 0 instead of 44 under load).
            Thread waiter = Thread.ofPlatform().daemon().start(() -> {
                try {
                    int s = p.waitFor();
                    // (bounded, and short when the loop finds no child left: then the JDK's 0 is the real one)
                    for (int i = 0; s == 0 && reaped < 0 && !noChildren && i < 200; i++) Thread.sleep(1);
                    halt(reaped >= 0 ? reaped : s);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            while (true) {
                int[] r = Processes.waitAny();
                if (r[0] == pid) return reaped = decode(r[1]);
                if (r[0] == -Errno.ECHILD) {
                    noChildren = true;
                    break;
                }
            }
            try {
                waiter.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return LAUNCH;
        }

        /** The payload's exit status once this init's own loop has reaped it, else -1. */
        private static volatile int reaped = -1;
        private static volatile boolean noChildren;

        private static int decode(int status) {
            int sig = status & 0x7f;
            return sig == 0 ? (status >> 8) & 0xff : 128 + sig;
        }
    }
}
