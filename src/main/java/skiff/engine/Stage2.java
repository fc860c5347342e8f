package skiff.engine;

import skiff.sys.Capabilities;
import skiff.sys.Errno;
import skiff.sys.Exec;
import skiff.sys.Fds;
import skiff.sys.Mounts;
import skiff.sys.PivotRoot;
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


/**
 * Stage 2, run inside the new user and mount namespaces with the namespace's capabilities (by unshare(1) as a
 * JVM of its own on the full path, or in the warm path's one JVM through Engine.execute): the mount tree
 * ({@link MountTree}), the pivot, the hooks, every privilege dropped and the payload's exec, so the payload keeps
 * the pid of {@code skiff run}; with --pid this process stays as the payload's init ({@link PidInit}). Only java.base and skiff.sys on this path: it must start fast.
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
            MountTree.build(plan);
            long hostPid = hooks ? StageHooks.hostPid() : 0;
            if (hooks) StageHooks.run(plan, "created", hostPid, "prestart", "createRuntime", "createContainer");
            if (plan.pidInit()) PidInit.warmUp();
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
                halt(PidInit.run(exe, plan.args(), plan.env()));
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
            for (Class<?> c : List.of(MountTree.class, PidInit.class, PivotRoot.class, Capabilities.class, Fds.class, Exec.class, Errno.class, Underlay.class,
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

}
