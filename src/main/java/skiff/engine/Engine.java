package skiff.engine;

import skiff.sys.Exec;
import skiff.sys.Processes;
import skiff.sys.SysException;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.policy.Policy;
import skiff.policy.hooks.Stage;
import skiff.policy.RunRequest;
import skiff.rootfs.Rootfs;
import skiff.policy.device.DeviceEdits;
import skiff.spec.Hooks;
import skiff.spec.Linux;
import skiff.spec.Mount;
import skiff.spec.RunSettings;
import skiff.spec.Spec;
import skiff.spec.SpecBuilder;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Stage 1 of {@code skiff run} (the CLI's JVM): root filesystem, spec, policy, launch plan, then execve of
 * unshare(1), which execs stage 2 in the new namespaces, which execs the payload. Nothing stays resident: the
 * payload ends up with the pid the user started. Where user namespaces are unavailable the same spec is carried
 * out by proot instead ({@link Proot}, chosen by {@link Launcher}).
 */
public final class Engine {
    private Engine() {}

    /**
     * The engine's options beyond the spec settings.
     *
     * @param userMounts    -v binds, handed to policy (never added to the spec here)
     * @param noHome        --no-home
     * @param hostAuth      --hostauth: the host's /etc/passwd and /etc/group
     * @param writableTmpfs --writable-tmpfs
     * @param pid           --pid
     * @param format        root filesystem format
     * @param containerRoot a persistent container's writable rootfs (used instead of the image's), or null
     * @param launcher      the engine that makes the container (see {@link Launcher#choose})
     */
    public record Options(RunSettings settings, List<Mount> userMounts, boolean noHome, boolean hostAuth,
                          boolean writableTmpfs, boolean pid, Rootfs.Format format, Path containerRoot,
                          Launcher launcher) {

        public Options {
            if (launcher == null) launcher = Launcher.NATIVE;
        }

        /** The root itself is writable: a persistent container (its tree belongs to the user). */
        boolean writableRoot() {
            return containerRoot != null;
        }
    }

    /**
     * How a prepared launch ends: {@code REPLACE} execs over this JVM (returns only with --pid, which waits),
     * {@code WAIT} runs it as a child and returns its exit status (skiff run --rm on a persistent container, which
     * must be removed afterwards).
     */
    public enum Ending { REPLACE, WAIT }

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
     * The container skiff run asks for, ready to {@link #start}: root filesystem (mounted if need be), spec, policy,
     * launch plan written to the run directory; in {@code join}'s shared container when that is not null (never
     * returns normally then: the payload replaces this JVM, or a SkiffException says why it could not).
     */
    public static Launch prepare(Store store, Digest manifest, ImageConfig config, Options o, Policy policy,
                                 RunRequest request, Map<String, String> env, Identity id, Ending ending, JoinGroup join) {
        boolean wait = ending == Ending.WAIT || (o.pid() && join == null);
        RunSettings s = o.settings();
        Path runtime = RuntimeDir.resolve(env, id.uid());
        boolean proot = o.launcher() == Launcher.PROOT;
        if (proot) Proot.refuseOptions(o, join);
        Path unshare = proot ? null : HostTools.unshare(runtime, s.fakeroot());
        long pid = ProcessHandle.current().pid();
        Path root = o.containerRoot() != null ? o.containerRoot() : switch (o.format()) {
            case SQUASHFS -> mountImage(store, manifest, runtime, pid, env, policy, proot);
            case DIR -> Rootfs.ensure(store, manifest, Rootfs.Format.DIR);
        };
        Path runDir = newRunDir(runtime, pid);
        try {
            Spec spec = spec(root, runDir, config == null ? null : config.config(), o, policy, request, id);
            String cwd = cwd(spec, request);
            if (proot) return Proot.prepare(spec, root, runDir, runtime, o, cwd, wait);
            LaunchPlan plan = plan(spec, root, runDir, o, cwd).withHooks(planHooks(spec, root, pid, o.pid()));
            Path planFile = runDir.resolve("plan");
            plan.write(planFile);
            List<String> argv = unshareArgv(unshare, s.fakeroot(), o.pid(), planFile);
            return new Launch(unshare, argv, stage2Env(env), wait && join == null, o.pid(), runDir,
                    join == null ? null : new Join(runtime, join, plan, planFile, env));
        } catch (IOException e) {
            cleanup(runDir);
            throw new SkiffException(ExitCode.LAUNCH, "cannot prepare the container: " + e.getMessage());
        } catch (RuntimeException e) {
            cleanup(runDir);
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
     * namespaces, and {@code root} (the image's shared mount, copied into this namespace, or its directory tree) is
     * ready. The container as one launch plan, for {@link #execute} in this same JVM: one JVM from bin/skiff to
     * the payload. Writes the run directory (the generated passwd and group), nothing else.
     */
    public static LaunchPlan prepareHere(Path root, ImageConfig.Config config, Options o, Policy policy, RunRequest request,
                                         Map<String, String> env, Identity id) {
        if (o.pid() || o.launcher() != Launcher.NATIVE || o.containerRoot() != null)
            throw new IllegalArgumentException("the warm path runs images natively without --pid");
        Path runtime = RuntimeDir.resolve(env, id.uid());
        long pid = ProcessHandle.current().pid();
        Path runDir = newRunDir(runtime, pid);
        try {
            Spec spec = spec(root, runDir, config, o, policy, request, id);
            return plan(spec, root, runDir, o, cwd(spec, request)).withHooks(planHooks(spec, root, pid, false));
        } catch (IOException e) {
            cleanup(runDir);
            throw new SkiffException(ExitCode.LAUNCH, "cannot prepare the container: " + e.getMessage());
        } catch (RuntimeException e) {
            cleanup(runDir);
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

    /** The final spec: the image's config, the run settings, the standard mounts, then policy. */
    private static Spec spec(Path root, Path runDir, ImageConfig.Config cfg, Options o, Policy policy,
                             RunRequest request, Identity id) throws IOException {
        List<Mount> standard = standardMounts(root, runDir, id, o);
        Spec spec = SpecBuilder.build(cfg, o.settings(), root.toString(), standard, o.pid());
        // The image root lets policy resolve bind destinations through the image's own symlinks.
        spec = policy.apply(spec, request.withRootfs(root));
        if (!o.pid() && !Stage.POSTSTOP.of(spec.hooks()).isEmpty())
            Warnings.print(Stage.POSTSTOP.of(spec.hooks()).size()
                    + " poststop hook(s) will not run: skiff execs the payload and keeps no process to run them (use --pid)");
        return spec;
    }

    /** Where the payload starts: the current directory where the container shows it, else the spec's. */
    private static String cwd(Spec spec, RunRequest request) {
        String cwd = spec.process().cwd();
        // No request cwd: -w (already the spec's) or --no-cwd (the image's WorkingDir).
        if (request.cwd() != null) {
            String visible = SpecBuilder.visibleCwd(spec.mounts(), request.cwd());
            if (visible != null) cwd = visible;
        }
        return cwd;
    }

    /**
     * The spec's OCI hooks for stage 2, which runs them (StageHooks says where each stage runs). Poststop hooks
     * only with --pid: otherwise no skiff process outlives the payload (warned about above).
     */
    static LaunchPlan.PlanHooks planHooks(Spec spec, Path root, long pid, boolean pidInit) {
        List<LaunchPlan.PlanHook> l = new ArrayList<>();
        for (Stage st : Stage.values()) {
            if (st == Stage.POSTSTOP && !pidInit) continue;
            for (Hooks.Hook h : st.of(spec.hooks()))
                l.add(new LaunchPlan.PlanHook(st.specName, h.path(), h.args() == null ? List.of() : h.args(),
                        h.env() == null ? List.of() : h.env(), h.timeout() == null ? 0 : h.timeout()));
        }
        if (l.isEmpty()) return LaunchPlan.PlanHooks.NONE;
        List<String> ann = new ArrayList<>();
        new java.util.TreeMap<>(spec.annotations()).forEach((k, v) -> { ann.add(k); ann.add(v); });
        return new LaunchPlan.PlanHooks(l, "skiff-" + pid, root.toString(), ann);
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

    private static Path newRunDir(Path runtime, long pid) {
        try {
            Path runs = Files.createDirectories(runtime.resolve("run"));
            Path d = runs.resolve(Long.toString(pid));
            if (Files.exists(d, LinkOption.NOFOLLOW_LINKS)) Stage2.removeTree(d); // left by a dead run with our pid
            return Files.createDirectory(d, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new SkiffException(ExitCode.LAUNCH, "cannot create a run directory under " + runtime + ": " + e.getMessage());
        }
    }

    /**
     * The image's SquashFS, mounted through FUSE on the host. The mount needs no user namespace (fusermount3 is
     * setuid root), so proot uses it too; where FUSE is unavailable as well, proot has no read-only image to run.
     */
    private static Path mountImage(Store store, Digest manifest, Path runtime, long pid, Map<String, String> env,
                                   Policy policy, boolean proot) {
        Path image = Rootfs.ensure(store, manifest, Rootfs.Format.SQUASHFS);
        try {
            return SharedMount.acquire(runtime, image, manifest.hex(), pid, env, SharedMount.Mounter.of(policy.squashfsMounter()));
        } catch (SkiffException e) {
            if (!proot || e.exitCode() != ExitCode.LAUNCH) throw e;
            throw new SkiffException(ExitCode.HOST, e.getMessage() + "; without user namespaces the image can only be"
                    + " run from its SquashFS through FUSE: ask the administrators for FUSE (see 'skiff doctor'), or run"
                    + " a persistent container of it ('skiff run --name NAME IMAGE')" + Proot.ENGINE);
        }
    }

    static void cleanupRunDir(Path runDir) {
        cleanup(runDir);
    }

    private static void cleanup(Path runDir) {
        try {
            Stage2.removeTree(runDir);
        } catch (IOException ignored) {
            // best effort: the next run with this pid removes it
        }
    }

    /** /tmp, /proc, /sys, /dev, host name resolution, identity files, home, in that order. */
    static List<Mount> standardMounts(Path root, Path runDir, Identity id, Options o) throws IOException {
        List<Mount> m = new ArrayList<>();
        // /tmp first: it must be recursive (the kernel refuses a non-recursive bind that would uncover what the
        // host mounted below it, e.g. this user's image mounts when XDG_RUNTIME_DIR is unset), and before /proc,
        // /sys and /dev exist under the root, so its copy of the tree stays small.
        m.add(Mount.bind("/tmp", "/tmp", false));
        m.add(o.pid() ? new Mount("/proc", "proc", "proc", List.of("nosuid", "nodev", "noexec"))
                : new Mount("/proc", "bind", "/proc", List.of("rbind")));
        m.add(Mount.bind("/sys", "/sys", true));
        m.add(new Mount("/dev", "bind", "/dev", List.of("rbind", "nosuid")));
        for (String f : List.of("/etc/hosts", "/etc/resolv.conf"))
            if (Files.exists(Path.of(f))) m.add(new Mount(f, "bind", f, List.of("bind", "ro", "nosuid", "nodev")));
        boolean fakeroot = o.settings().fakeroot();
        if (o.hostAuth()) {
            for (String f : List.of("/etc/passwd", "/etc/group"))
                m.add(new Mount(f, "bind", f, List.of("bind", "ro", "nosuid", "nodev")));
        } else {
            Path pw = Files.writeString(runDir.resolve("passwd"), UserDb.passwd(root, id, fakeroot));
            Path gr = Files.writeString(runDir.resolve("group"), UserDb.group(root, id, fakeroot));
            m.add(new Mount("/etc/passwd", "bind", pw.toString(), List.of("bind", "ro", "nosuid", "nodev")));
            m.add(new Mount("/etc/group", "bind", gr.toString(), List.of("bind", "ro", "nosuid", "nodev")));
        }
        if (!o.noHome() && id.home() != null && !id.home().equals("/") && Files.isDirectory(Path.of(id.home()))) {
            // The real path as source: the current directory (always a real path) below a linked home is then
            // recognised as visible, and not bound a second time.
            String real;
            try {
                real = Path.of(id.home()).toRealPath().toString();
            } catch (IOException e) {
                real = id.home(); // bound as named, as before: only the current directory's recognition suffers
            }
            m.add(Mount.bind(real, id.home(), false));
        }
        return m;
    }

    /**
     * The spec as stage 2 executes it. Mount points the image lacks, the user's included, are created by stage 2
     * without writing to the image or to a bound host directory (see Underlay).
     */
    static LaunchPlan plan(Spec spec, Path root, Path runDir, Options o, String cwd) throws IOException {
        boolean overlay = o.writableTmpfs() && !o.writableRoot();
        boolean creatable = o.writableTmpfs() || o.writableRoot();
        List<LaunchPlan.PlanMount> mounts = new ArrayList<>();
        for (Mount m : spec.mounts()) {
            boolean user = Policy.isUserMount(m);
            String dst = m.destination();
            if (dst == null || !dst.startsWith("/"))
                throw new SkiffException(ExitCode.USAGE, "mount destination " + dst + " must be an absolute path");
            String kind = switch (m.type() == null ? "bind" : m.type()) {
                case "proc" -> "proc";
                case "tmpfs" -> "tmpfs";
                case "bind", "none" -> "bind";
                default -> m.isBind() ? "bind" : throwUnsupported(m);
            };
            List<String> opt = m.options();
            if (kind.equals("bind") && (m.source() == null || !Files.exists(Path.of(m.source()))))
                throw new SkiffException(ExitCode.LAUNCH, (user ? "-v " : "bind ") + m.source() + ":" + dst
                        + ": " + m.source() + " does not exist on the host");
            boolean file = kind.equals("bind") && !Files.isDirectory(Path.of(m.source()));
            MountOptions.Parsed p = MountOptions.parse(opt, Policy.USER_MOUNT_OPTION, dst);
            mounts.add(new LaunchPlan.PlanMount(kind, m.source(), dst, p.readOnly(), p.recursive(), p.nosuid(), p.nodev(),
                    p.noexec(), file, user));
        }
        // Device nodes cannot be created in a user namespace: the host's node is bound (policy says which).
        if (spec.linux() != null) {
            for (Linux.LinuxDevice dev : spec.linux().devices()) {
                DeviceEdits.Source src = DeviceEdits.source(spec, dev);
                if (!Files.exists(src.hostPath()))
                    throw new SkiffException(ExitCode.LAUNCH, "device " + src.hostPath() + " does not exist on this host");
                mounts.add(new LaunchPlan.PlanMount("bind", src.hostPath().toString(), dev.path(), !src.writable(), false,
                        true, false, false, true, false));
            }
        }
        return new LaunchPlan(root.toString(), overlay, creatable, runDir.toString(), o.pid(), mounts,
                spec.process().args(), spec.process().env(), cwd);
    }

    private static String throwUnsupported(Mount m) {
        throw new SkiffException(ExitCode.POLICY, "mount type " + m.type() + " on " + m.destination()
                + " is not supported by the unprivileged engine (bind, proc and tmpfs are)");
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
