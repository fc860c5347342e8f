package skiff.engine;

import skiff.spec.Spec;
import skiff.sys.Exec;
import skiff.sys.Processes;
import skiff.sys.SysException;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Stage 1 of {@code skiff run} (the CLI's JVM), from the launch request the CLI built (root filesystem ready, final
 * spec, typed mounts; see {@link LaunchRequest}): the launch plan, then execve of unshare(1), which execs stage 2 in
 * the new namespaces, which execs the payload. Nothing stays resident: the payload ends up with the pid the user
 * started. Where user namespaces are unavailable the same request is carried out by proot instead ({@link Proot},
 * chosen by {@link Launcher}). The engine knows no store, image or policy (ArchitectureTest keeps it so).
 */
public final class Engine {
    private Engine() {}

    /**
     * How a prepared launch ends: {@code REPLACE} execs over this JVM (returns only with --pid, which waits),
     * {@code WAIT} runs it as a child and returns its exit status (skiff run --rm on a persistent container, which
     * must be removed afterwards).
     */
    public enum Ending { REPLACE, WAIT }

    /** The OCI stage that runs after the payload ended: only an init that outlives it (--pid) can run it. */
    static final String POSTSTOP = "poststop";

    /**
     * A container ready to start: everything done but the process-replacing step, which {@link #start} takes and
     * an AOT training run ({@link #rehearse}) does not.
     *
     * @param executable unshare(1), or proot(1)
     * @param argv       its command line
     * @param env        its environment
     * @param waits      run as a child and return its exit status
     * @param viaInit    signals go to the child's child (--pid's init)
     * @param runDir     the run directory (the plan for stage 2), removed if the start fails; null for proot,
     *                   which keeps none
     * @param join       the shared container to enter first (--join), or null
     */
    public record Launch(Path executable, List<String> argv, List<String> env, boolean waits, boolean viaInit,
                         Path runDir, Join join) {
        public Launch {
            argv = List.copyOf(argv);
            env = List.copyOf(env);
        }

        boolean proot() {
            return runDir == null;
        }
    }

    /** What {@link JoinLaunch#enter} needs: this node's ranks of {@code group} share one container. */
    record Join(Path runtime, JoinGroup group, LaunchPlan plan, Path planFile, Map<String, String> hostEnv) {}

    /**
     * Options the chosen engine cannot honour, refused before the CLI mounts or converts anything for the run.
     */
    public static void refuseEarly(Launcher launcher, boolean pid, boolean writableTmpfs, JoinGroup join) {
        if (launcher == Launcher.PROOT) Proot.refuseOptions(pid, writableTmpfs, join);
    }

    /**
     * The container of {@code r}, ready to {@link #start}: launch plan written to the run directory; in the request's
     * shared container when it names one (never returns normally then: the payload replaces this JVM, or a
     * SkiffException says why it could not). The run directory is removed if this fails.
     */
    public static Launch prepare(LaunchRequest r) {
        boolean wait = r.ending() == Ending.WAIT || (r.pid() && r.join() == null);
        try {
            refuseEarly(r.launcher(), r.pid(), r.writableTmpfs(), r.join());
            if (r.launcher() == Launcher.PROOT) return Proot.prepare(r, wait);
            Path unshare = HostTools.unshare(r.runtime(), r.fakeroot());
            long pid = ProcessHandle.current().pid();
            LaunchPlan plan = plan(r).withHooks(planHooks(r.hooks(), r.spec(), r.root(), pid, r.pid()));
            Path planFile = r.runDir().resolve("plan");
            plan.write(planFile);
            List<String> argv = unshareArgv(unshare, r.fakeroot(), r.pid(), planFile);
            return new Launch(unshare, argv, stage2Env(r.hostEnv()), wait && r.join() == null, r.pid(), r.runDir(),
                    r.join() == null ? null : new Join(r.runtime(), r.join(), plan, planFile, r.hostEnv()));
        } catch (IOException e) {
            cleanup(r.runDir());
            throw new SkiffException(ExitCode.LAUNCH, "cannot prepare the container: " + e.getMessage());
        } catch (RuntimeException e) {
            cleanup(r.runDir());
            throw e;
        }
    }

    /**
     * Starts a prepared launch: execs over this JVM, or with {@link Launch#waits} runs it as a child and returns its
     * exit status. Never returns otherwise.
     */
    public static int start(Launch l) {
        System.out.flush();
        System.err.flush();
        if (l.proot()) return Proot.start(l);
        try {
            if (l.join() != null) {
                Join j = l.join();
                List<String> holder = new ArrayList<>(l.argv().subList(0, l.argv().size() - 1)); // all but the plan
                JoinLaunch.enter(j.runtime(), j.group(), j.plan(), j.planFile(), holder, l.env(), j.hostEnv());
            }
            if (l.waits()) return waitFor(l.argv(), l.env(), l.viaInit());
            Exec.execve(l.executable().toString(), l.argv(), l.env());
            throw new SkiffException(ExitCode.LAUNCH, "execve returned");
        } catch (IOException e) {
            cleanup(l.runDir());
            throw new SkiffException(ExitCode.LAUNCH, "cannot start the container: " + e.getMessage());
        } catch (SysException e) {
            cleanup(l.runDir());
            throw new SkiffException(ExitCode.LAUNCH, "cannot start the container: " + e.getMessage());
        } catch (RuntimeException e) {
            cleanup(l.runDir());
            throw e;
        }
    }

    /**
     * For AOT training entry points only (skiff.cli.AotTraining): {@link #start}'s exec step, downcall included, aimed
     * at {@code nowhere} (a path that must not exist) so that it fails and this JVM stays; then the launch is
     * discarded (run directory removed). Nothing is started.
     */
    public static void rehearse(Launch l, Path nowhere) {
        try {
            if (Files.exists(nowhere, LinkOption.NOFOLLOW_LINKS))
                throw new IllegalArgumentException("rehearsal target exists: " + nowhere);
            if (l.proot()) Proot.rehearse(l, nowhere);
            else Exec.execve(nowhere.toString(), l.argv(), l.env());
        } catch (SysException expected) {
            // the path does not exist: the JVM goes on
        } finally {
            if (!l.proot()) cleanup(l.runDir());
        }
    }

    /**
     * The warm path of skiff run (skiff.cli.WarmRun): this JVM was started by unshare(1) in the new user and mount
     * namespaces, and the request's root (the image's shared mount, copied into this namespace, or its directory
     * tree) is ready. The container as one launch plan, for {@link #execute} in this same JVM: one JVM from
     * bin/skiff to the payload. The run directory is removed if this fails.
     */
    public static LaunchPlan prepareHere(LaunchRequest r) {
        if (r.pid() || r.launcher() != Launcher.NATIVE || r.writableRoot() || r.join() != null)
            throw new IllegalArgumentException("the warm path runs images natively without --pid");
        try {
            return plan(r).withHooks(planHooks(r.hooks(), r.spec(), r.root(), ProcessHandle.current().pid(), false));
        } catch (IOException e) {
            cleanup(r.runDir());
            throw new SkiffException(ExitCode.LAUNCH, "cannot prepare the container: " + e.getMessage());
        } catch (RuntimeException e) {
            cleanup(r.runDir());
            throw e;
        }
    }

    /**
     * Carries out {@code plan} in this process, which must run in the new namespaces with their capabilities (see
     * {@link #prepareHere}): the mount tree, the pivot, the hooks, the exec. Never returns.
     *
     * @param keep descriptors the payload inherits
     */
    public static void execute(LaunchPlan plan, int[] keep) {
        System.out.flush();
        System.err.flush();
        Stage2.execute(plan, keep);
    }

    /**
     * Loads and links what {@link #execute} uses (the mount, pivot and exec calls' downcall handles included)
     * without executing anything: for the AOT training run of the warm path (skiff.cli.WarmTraining).
     */
    public static void loadExecutionPath() {
        Stage2.train();
    }

    /** Removes the run directory of a plan that will not be executed (AOT training). */
    public static void discard(LaunchPlan plan) {
        cleanup(Path.of(plan.runDir()));
    }

    /**
     * The request's OCI hooks for stage 2, which runs them (StageHooks says where each stage runs), with what their
     * state JSON needs: the container's id, its bundle (the root) and the spec's annotations. Poststop hooks only
     * with --pid: otherwise no skiff process outlives the payload (the CLI warned).
     */
    static LaunchPlan.PlanHooks planHooks(List<LaunchPlan.PlanHook> all, Spec spec, Path root, long pid, boolean pidInit) {
        List<LaunchPlan.PlanHook> hooks = new ArrayList<>();
        for (LaunchPlan.PlanHook h : all) if (pidInit || !h.stage().equals(POSTSTOP)) hooks.add(h);
        if (hooks.isEmpty()) return LaunchPlan.PlanHooks.NONE;
        List<String> ann = new ArrayList<>();
        if (spec.annotations() != null) new TreeMap<>(spec.annotations()).forEach((k, v) -> { ann.add(k); ann.add(v); });
        return new LaunchPlan.PlanHooks(hooks, "skiff-" + pid, root.toString(), ann);
    }

    /**
     * Runs the launch as a child and returns its exit status, passing on the signals sent to skiff's own pid
     * (kill, timeout(1), a batch system signalling the job's first process): to the payload, or with --pid to its
     * init, because unshare's forking parent blocks SIGTERM and SIGINT while it waits. SIGINT is not passed on: a
     * terminal sends it to the whole process group, payload included; this JVM only keeps waiting.
     */
    static int waitFor(List<String> argv, List<String> env, boolean viaInit) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(argv).inheritIO();
        pb.environment().clear();
        for (String e : env) pb.environment().put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1));
        Process p = pb.start();
        for (String name : List.of("TERM", "HUP", "USR1", "USR2", "INT")) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> {
                    if (!name.equals("INT")) forward(p, viaInit, s.getNumber());
                });
            } catch (IllegalArgumentException reserved) {
                // the JVM keeps this one on this platform
            }
        }
        while (true) {
            try {
                return p.waitFor();
            } catch (InterruptedException e) {
                // keep waiting: the payload decides when it ends
            }
        }
    }

    /** Sends {@code sig} to the launched child, or with --pid to its child, the init (waiting a moment for its fork). */
    private static void forward(Process p, boolean viaInit, int sig) {
        long target = p.pid();
        if (viaInit) {
            for (int i = 0; i < 200 && p.isAlive(); i++) {
                java.util.Optional<ProcessHandle> init = p.toHandle().children().findFirst();
                if (init.isPresent()) {
                    target = init.get().pid();
                    break;
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        Processes.kill(target, sig);
    }

    static void cleanup(Path runDir) {
        RunDir.remove(runDir);
    }

    /**
     * The spec as stage 2 executes it. Mount points the image lacks, the user's included, are created by stage 2
     * without writing to the image or to a bound host directory (see Underlay).
     */
    static LaunchPlan plan(LaunchRequest r) throws IOException {
        boolean overlay = r.writableTmpfs() && !r.writableRoot();
        boolean creatable = r.writableTmpfs() || r.writableRoot();
        List<LaunchPlan.PlanMount> mounts = new ArrayList<>();
        for (LaunchRequest.Mount m : r.mounts()) {
            boolean bind = m.kind() == LaunchRequest.Kind.BIND;
            if (bind && (m.source() == null || !Files.exists(Path.of(m.source()))))
                throw new SkiffException(ExitCode.LAUNCH, (m.user() ? "-v " : "bind ") + m.source() + ":" + m.destination()
                        + ": " + m.source() + " does not exist on the host");
            boolean file = bind && !Files.isDirectory(Path.of(m.source()));
            mounts.add(new LaunchPlan.PlanMount(kindName(m.kind()), m.source(), m.destination(), m.readOnly(), m.recursive(),
                    m.nosuid(), m.nodev(), m.noexec(), file, m.user()));
        }
        // Device nodes cannot be created in a user namespace: the host's node is bound (policy said which).
        for (LaunchRequest.Device dev : r.devices()) {
            if (!Files.exists(dev.hostPath()))
                throw new SkiffException(ExitCode.LAUNCH, "device " + dev.hostPath() + " does not exist on this host");
            mounts.add(new LaunchPlan.PlanMount("bind", dev.hostPath().toString(), dev.path(), !dev.writable(), false,
                    true, false, false, true, false));
        }
        Spec spec = r.spec();
        return new LaunchPlan(r.root().toString(), overlay, creatable, r.runDir().toString(), r.pid(), mounts,
                spec.process().args(), spec.process().env(), r.cwd());
    }

    /** The plan's name of a mount kind (stage 2 reads it: bind, proc, tmpfs). */
    private static String kindName(LaunchRequest.Kind k) {
        return switch (k) {
            case BIND -> "bind";
            case PROC -> "proc";
            case TMPFS -> "tmpfs";
        };
    }

    static List<String> unshareArgv(Path unshare, boolean fakeroot, boolean pid, Path plan) {
        List<String> a = new ArrayList<>(List.of(unshare.toString(), "--user",
                fakeroot ? "--map-root-user" : "--map-current-user", "--keep-caps", "--mount"));
        if (pid) a.addAll(List.of("--pid", "--fork", "--kill-child"));
        a.add("--");
        a.addAll(Stage2Command.java());
        // Hooks after pivot_root (startContainer, poststart) and --pid's init start processes when the JDK's
        // jspawnhelper is out of reach; the property must be set before ProcessImpl's class initialisation reads
        // it, which StageHooks.prepare's System.setProperty did not always precede (SitePolicyIT's startContainer
        // hook failed with posix_spawn ENOENT).
        a.add("-Djdk.lang.Process.launchMechanism=FORK");
        a.addAll(List.of("-cp", Stage2Command.jar(), Stage2.class.getName(), plan.toString()));
        return a;
    }

    /**
     * Stage 2's JVM needs no environment; locale variables keep non-ASCII paths decodable, and the descriptors
     * skiff's caller passed on (see {@link InheritedFds}) say which of its descriptors the payload keeps.
     */
    static List<String> stage2Env(Map<String, String> env) {
        List<String> e = new ArrayList<>();
        for (String k : List.of("LANG", "LC_ALL", "LC_CTYPE")) if (env.containsKey(k)) e.add(k + "=" + env.get(k));
        String fds = InheritedFds.envValue();
        if (!fds.isEmpty()) e.add(InheritedFds.ENV + "=" + fds);
        return e;
    }
}
