package skiff.policy;

import skiff.policy.cdi.CdiRegistry;
import skiff.policy.cdi.CdiTransform;
import skiff.policy.device.DeviceEdits;
import skiff.policy.device.DeviceProbe;
import skiff.policy.device.DeviceSpec;
import skiff.policy.gpu.GpuTransform;
import skiff.policy.gpu.NvidiaDriver;
import skiff.policy.hooks.HookDirs;
import skiff.policy.hooks.Stage;
import skiff.policy.launcher.PmixDirs;
import skiff.policy.mpi.MpiTransform;
import skiff.policy.site.BindPolicy;
import skiff.policy.site.ConfigLoader;
import skiff.policy.site.FileStamps;
import skiff.policy.site.EnvTransform;
import skiff.policy.site.Glob;
import skiff.policy.site.SiteConfig;
import skiff.policy.site.SiteConfig.MountEntry;
import skiff.spec.Hooks;
import skiff.spec.Mount;
import skiff.spec.Spec;
import skiff.spec.SpecBuilder;
import skiff.spec.Transform;
import skiff.util.ExitCode;
import skiff.util.HostPath;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The effective site policy (site.toml, site.d, user config), applied as Spec -> Spec transforms.
 *
 * <p>Order of {@link #apply}: image check; site mounts (site-wide, then [groups.*] and [users.*]
 * additions); the PMIx server's directories at the same path (MPI under Slurm or mpirun); modules (mounts,
 * devices, hooks); the current directory's bind, then the user's binds (config.toml [run], then -v), each
 * through the bind policy; --device nodes through the device allow-list; environment (site, groups, user,
 * modules, config.toml); --gpus; CDI devices; hooks.d hooks matched against the result.
 */
public final class Policy {
    /** What the host offers, replaceable in tests (fake /dev, fake ldconfig output, collected warnings). */
    public record Host(DeviceProbe probe, Path devDir, Supplier<String> ldconfigOutput, Consumer<String> warn) {
        public static Host real() {
            return new Host(DeviceProbe.HOST, Path.of("/dev"), null, System.err::println);
        }
    }

    private final ConfigLoader.Loaded config;
    private final Host host;
    /** The stamps of the files read, when loaded by {@link #loadRecorded} (for {@link #snapshot}); else null. */
    private final FileStamps stamps;
    private final Map<String, String> env;
    /** The hooks.d files, read once (first {@link #apply}, or {@link #snapshot}), or given by a snapshot. */
    private HookDirs hookDirs;
    /** What a snapshot's hooks.d reading warned about, repeated when they are first used; null once repeated. */
    private List<String> hookWarnings;
    private final List<String> hookWarningsSeen = new ArrayList<>();

    private Policy(ConfigLoader.Loaded config, Host host, FileStamps stamps, Map<String, String> env) {
        this.config = config;
        this.host = host;
        this.stamps = stamps;
        this.env = env;
    }

    /** Loads /etc/skiff/site.toml, /etc/skiff/site.d/*.toml and the user's config.toml. */
    public static Policy load(Map<String, String> env) {
        return load(env, Host.real());
    }

    public static Policy load(Map<String, String> env, Host host) {
        return new Policy(ConfigLoader.load(env, host.warn()), host, null, env);
    }

    /**
     * As {@link #load}, stamping every file it reads first ({@link FileStamps}), so that {@link #snapshot} can record
     * what was read for the warm path of skiff run. A file changed between the stamp and the read makes the snapshot
     * stale (its stamp no longer holds), never wrong.
     */
    public static Policy loadRecorded(Map<String, String> env) {
        return loadRecorded(env, Host.real());
    }

    public static Policy loadRecorded(Map<String, String> env, Host host) {
        FileStamps s = PolicySnapshot.configStamps(env);
        return new Policy(ConfigLoader.load(env, host.warn()), host, s, env);
    }

    /**
     * The policy a snapshot recorded, for the warm path: the caller has checked {@link PolicySnapshot#mismatch} and
     * vouched for the files it trusted. Repeats the warnings the full path's reading gave.
     */
    public static Policy of(PolicySnapshot s, Map<String, String> env, Host host) {
        for (String w : s.config().warnings()) host.warn().accept(w);
        Policy p = new Policy(s.config(), host, null, env);
        p.hookDirs = new HookDirs(s.hooks());
        p.hookWarnings = s.hookWarnings();
        return p;
    }

    /**
     * This policy as read, for the warm path (needs {@link #loadRecorded}): the hooks.d and CDI directories are
     * stamped now and the hooks.d files read (the run applies the same ones).
     */
    public PolicySnapshot snapshot() {
        if (stamps == null) throw new IllegalStateException("the policy was not loaded with loadRecorded");
        PolicySnapshot.policyDirStamps(stamps, site());
        HookDirs h = hookDirs();
        return new PolicySnapshot(PolicySnapshot.siteDirEnv(env), PolicySnapshot.userConfigFile(env).toString(),
                stamps.stamps(), config, h.hooks(), List.copyOf(hookWarningsSeen));
    }

    /** The site's hooks.d files, read once. */
    private synchronized HookDirs hookDirs() {
        if (hookDirs == null) {
            hookDirs = HookDirs.load(site().hooks().dirs(), m -> {
                hookWarningsSeen.add(m);
                host.warn().accept(m);
            });
        } else if (hookWarnings != null) {
            hookWarnings.forEach(host.warn());
            hookWarnings = null;
        }
        return hookDirs;
    }

    public ConfigLoader.Loaded config() {
        return config;
    }

    /**
     * {@code [run] squashfs-mounter}: the user's config.toml, else the site's, else "skiff" (skiff's own server). Validated by the
     * engine (SharedMount.Mounter), which owns the meaning of the names.
     */
    public String squashfsMounter() {
        String u = config.user().run().squashfsMounter();
        if (u != null && !u.isBlank()) return u.strip();
        String s = config.site().run().squashfsMounter();
        return s == null || s.isBlank() ? "skiff" : s.strip();
    }

    /** {@code [run] engine}: the user's config.toml, else the site's, else null (auto). */
    public String engine() {
        String u = config.user().run().engine();
        if (u != null && !u.isBlank()) return u.strip();
        String s = config.site().run().engine();
        return s == null || s.isBlank() ? null : s.strip();
    }

    /** Where {@link #engine()} came from, for messages. */
    public String engineSource() {
        String u = config.user().run().engine();
        return u != null && !u.isBlank() ? "config.toml [run] engine" : "site.toml [run] engine";
    }

    /** {@code [run] engine-notice}, the site's alone: whether auto's fall-back to proot says so (default true). */
    public boolean engineNotice() {
        Boolean n = config.site().run().engineNotice();
        return n == null || n;
    }

    public SiteConfig site() {
        return config.site();
    }

    /** {@code [gateway] url}: the user's config.toml, else the site's; several URLs (comma-separated) in order. */
    public java.util.List<String> gatewayUrls() {
        String u = config.user().gateway().url();
        if (u == null || u.isBlank()) u = config.site().gateway().url();
        if (u == null || u.isBlank()) return java.util.List.of();
        return java.util.Arrays.stream(u.split(",")).map(String::strip).filter(x -> !x.isEmpty()).toList();
    }

    /** {@code [gateway] shared}: the user's config.toml, else the site's, else null (no gateway images for skiff run). */
    public java.nio.file.Path gatewayShared() {
        String u = config.user().gateway().shared();
        if (u == null || u.isBlank()) u = config.site().gateway().shared();
        return u == null || u.isBlank() ? null : java.nio.file.Path.of(u.strip());
    }

    /**
     * Image policy for pull and run: the repository of {@code normalisedRef} (tag and digest stripped)
     * must match one of [images] allow, and with digest_pinned_only the user must have named a digest.
     */
    public void checkImage(String normalisedRef, boolean pinnedByDigest) {
        String repo = repository(normalisedRef);
        SiteConfig.Images img = site().images();
        if (img.allow().stream().noneMatch(g -> Glob.matches(g, repo)))
            throw new SkiffException(ExitCode.POLICY, "image " + normalisedRef + " denied: the site allows only images matching "
                    + String.join(", ", img.allow()) + "; use one of those or ask the administrator");
        if (img.digestPinnedOnly() && !pinnedByDigest)
            throw new SkiffException(ExitCode.POLICY, "image " + normalisedRef + " denied: the site requires images named by digest; write NAME@sha256:...");
    }

    static String repository(String ref) {
        int at = ref.indexOf('@');
        String r = at >= 0 ? ref.substring(0, at) : ref;
        int colon = r.lastIndexOf(':');
        if (colon > r.lastIndexOf('/')) r = r.substring(0, colon);
        return r;
    }

    /**
     * Validates the request against site policy (binds, devices, image) and returns {@code base} with the
     * user's mounts, site mounts and environment, modules, devices, GPUs, CDI edits and hooks applied.
     * Throws SkiffException(POLICY) on a violation, with nothing mounted.
     */
    public Spec apply(Spec base, RunRequest request) {
        return applyForLaunch(base, request).spec();
    }

    /**
     * The final spec, and which of its mounts are the user's own binds (-v, config.toml [run] mounts, the current
     * directory): the bind policy rewrites their source and destination (real paths), so the launch request cannot
     * recognise them by what was asked. The engine tells the user, not the site, when such a mount cannot be made.
     *
     * @param userBinds the user's binds as they stand in {@code spec}'s mounts (compared by value)
     */
    public record Applied(Spec spec, List<Mount> userBinds) {
        public Applied {
            userBinds = List.copyOf(userBinds);
        }

        public boolean isUserBind(Mount m) {
            // Field by field rather than Mount.equals: a record's equals is bound through an invokedynamic bootstrap
            // on its first call, work the warm path's one JVM need not do for this.
            for (Mount u : userBinds) {
                if (u == m || (Objects.equals(u.destination(), m.destination()) && Objects.equals(u.source(), m.source())
                        && Objects.equals(u.type(), m.type()) && u.options().equals(m.options()))) return true;
            }
            return false;
        }
    }

    /** {@link #apply}, saying which mounts are the user's (see {@link Applied}). */
    public Applied applyForLaunch(Spec base, RunRequest request) {
        List<Mount> userBinds = new ArrayList<>();
        Spec spec = compose(transforms(request, userBinds)).apply(base);
        return new Applied(spec, userBinds);
    }

    static Transform compose(List<Transform> steps) {
        return spec -> {
            for (Transform t : steps) spec = t.apply(spec);
            return spec;
        };
    }

    /** The [groups.*] then [users.*] sections that concern the requesting user. */
    List<SiteConfig.Profile> profiles(RunRequest r) {
        List<SiteConfig.Profile> out = new ArrayList<>();
        for (var g : site().groups().entrySet()) if (r.groupNames().contains(g.getKey())) out.add(g.getValue());
        if (r.userName() != null && site().users().containsKey(r.userName())) out.add(site().users().get(r.userName()));
        return out;
    }

    /** Module names in effect: site defaults, group/user sections, config.toml [run], then --module and --mpi. */
    public List<String> modules(RunRequest r) {
        return List.copyOf(selectModules(r).keySet());
    }

    /**
     * {@link #modules}, each with whether the user asked for it (--module, --mpi, config.toml) rather than the
     * site (default, group or user section): a host MPI the site switches on by default leaves alone an image
     * that has no MPI, one the user asked for does not. --no-mpi takes the site's MPI modules away.
     */
    Map<String, Boolean> selectModules(RunRequest r) {
        Map<String, Boolean> names = new LinkedHashMap<>();
        site().modules().forEach((n, m) -> { if (m.isDefault()) names.put(n, false); });
        for (SiteConfig.Profile p : profiles(r)) for (String n : p.modules()) addConfigured(names, n, "the site configuration", false);
        for (String n : config.user().run().modules()) addConfigured(names, n, "your config.toml", true);
        for (String n : r.modules()) {
            if (!site().modules().containsKey(n))
                throw new SkiffException(ExitCode.USAGE, "unknown module '" + n + "'; 'skiff modules' lists those this site offers");
            names.put(n, true);
        }
        if (Boolean.TRUE.equals(r.mpi())) names.put(mpiModule(), true);
        if (Boolean.FALSE.equals(r.mpi())) {
            for (String n : List.copyOf(names.keySet())) {
                if (!site().modules().get(n).isMpi()) continue;
                if (r.modules().contains(n))
                    throw new SkiffException(ExitCode.USAGE, "--no-mpi and --module " + n + " contradict each other: module " + n
                            + " replaces the image's MPI with the host's; drop one of them");
                names.remove(n);
            }
        }
        List<String> mpis = new ArrayList<>();  // a loop, not a stream: every rank of a job runs this cold
        for (String n : names.keySet()) if (site().modules().get(n).isMpi()) mpis.add(n);
        if (mpis.size() > 1)
            throw new SkiffException(ExitCode.USAGE, "modules " + String.join(" and ", mpis) + " would both replace the image's MPI;"
                    + " enable only one (--module NAME), or --no-mpi for none");
        return names;
    }

    /** The module --mpi means: the site's only MPI module, or among several the one on by default. */
    private String mpiModule() {
        List<String> all = site().modules().entrySet().stream().filter(e -> e.getValue().isMpi()).map(Map.Entry::getKey).toList();
        if (all.isEmpty())
            throw new SkiffException(ExitCode.POLICY, "--mpi: this site offers no host MPI (no module with an mpi table in its site"
                    + " configuration); run without --mpi to use the image's own MPI, or ask the administrator");
        if (all.size() == 1) return all.getFirst();
        List<String> defaults = all.stream().filter(n -> site().modules().get(n).isDefault()).toList();
        if (defaults.size() == 1) return defaults.getFirst();
        throw new SkiffException(ExitCode.USAGE, "--mpi: this site offers several host MPIs (" + String.join(", ", all)
                + "); choose one with --module NAME");
    }

    private void addConfigured(Map<String, Boolean> names, String n, String where, boolean byUser) {
        if (site().modules().containsKey(n)) names.put(n, byUser || Boolean.TRUE.equals(names.get(n)));
        else host.warn().accept(Warnings.line("module '" + n + "' named in " + where + " does not exist; ignored"));
    }

    /** @param userBinds receives the user's binds as policy adds them to the spec (see {@link Applied}) */
    List<Transform> transforms(RunRequest r, List<Mount> userBinds) {
        List<Transform> steps = new ArrayList<>();
        if (r.image() != null) {
            boolean pinned = r.image().contains("@");
            steps.add(spec -> { checkImage(r.image(), pinned); return spec; });
        }
        List<SiteConfig.Profile> profiles = profiles(r);
        Map<String, Boolean> selected = selectModules(r);
        List<String> moduleNames = List.copyOf(selected.keySet());
        List<SiteConfig.Module> modules = moduleNames.stream().map(n -> site().modules().get(n)).toList();

        List<MountEntry> siteMounts = new ArrayList<>(site().mounts());
        profiles.forEach(p -> siteMounts.addAll(p.mounts()));
        steps.add(trustedMounts(siteMounts, "site mount"));
        // After the site's mounts (one may show the spool directory already), before the user's binds.
        steps.add(new PmixDirs(r.hostEnv()));
        for (int i = 0; i < modules.size(); i++) {
            SiteConfig.Module m = modules.get(i);
            String name = moduleNames.get(i);
            steps.add(trustedMounts(m.mounts(), "module " + name + " mount"));
            steps.add(moduleDevices(name, m));
            steps.add(moduleHooks(name, m));
        }

        List<String> allowBinds = new ArrayList<>(site().binds().allow());
        profiles.forEach(p -> allowBinds.addAll(p.allowBinds()));
        BindPolicy binds = new BindPolicy(allowBinds, site().binds().deny(), site().binds().forbiddenDestinations());
        List<Mount> userMounts = new ArrayList<>();
        for (MountEntry e : config.user().run().mounts()) userMounts.add(Mount.bind(e.source(), e.destination(), e.readonly()));
        userMounts.addAll(r.userMounts());
        steps.add(spec -> {
            List<Mount> out = new ArrayList<>(spec.mounts());
            List<Mount> user = new ArrayList<>();
            for (Mount m : userMounts) user.add(binds.check(m, r.rootfs()));
            // Before the user's binds, so that one of them inside the current directory stays on top.
            Mount cwd = cwdBind(r, binds, spec, user);
            if (cwd != null) {
                out.add(cwd);
                userBinds.add(cwd);
            }
            out.addAll(user);
            userBinds.addAll(user);
            return spec.withMounts(out);
        });

        List<String> allowDevices = new ArrayList<>(site().devices().allow());
        profiles.forEach(p -> allowDevices.addAll(p.allowDevices()));
        List<String> deviceArgs = new ArrayList<>(config.user().run().devices());
        deviceArgs.addAll(r.devices());
        List<String> cdiNames = new ArrayList<>();
        List<DeviceSpec> nodes = new ArrayList<>();
        for (String d : deviceArgs) {
            if (DeviceSpec.isCdi(d)) cdiNames.add(d);
            else nodes.add(DeviceSpec.parse(d));
        }
        steps.add(spec -> {
            for (DeviceSpec d : nodes) spec = userDevice(spec, d, allowDevices);
            return spec;
        });

        steps.add(new EnvTransform(site().env()));
        profiles.forEach(p -> steps.add(new EnvTransform(p.env())));
        modules.forEach(m -> steps.add(new EnvTransform(m.env())));
        steps.add(new EnvTransform(config.user().run().env()));

        for (int i = 0; i < modules.size(); i++) {
            SiteConfig.Module m = modules.get(i);
            String name = moduleNames.get(i);
            if (m.isMpi())
                steps.add(new MpiTransform(name, m.mpi(), selected.get(name), r.rootfs(), HOST_LD_CACHE, host.warn()));
        }
        if (GpuTransform.wanted(r.gpus())) {
            steps.add(spec -> new GpuTransform(r.gpus(), driver().discover(pathDirs(r)), r.hostEnv(), host.probe()).apply(spec));
        }
        List<String> moduleCdi = modules.stream().flatMap(m -> m.devices().stream()).filter(DeviceSpec::isCdi).toList();
        if (!cdiNames.isEmpty() || !moduleCdi.isEmpty()) {
            steps.add(spec -> {
                CdiRegistry reg = CdiRegistry.load(site().cdi().specDirs(), host.warn());
                List<CdiRegistry.Resolved> devs = new ArrayList<>();
                Set<String> warned = new LinkedHashSet<>();
                Consumer<String> once = m -> { if (warned.add(m)) host.warn().accept(m); };
                for (String n : moduleCdi) devs.addAll(reg.resolve(n, once));
                for (String n : cdiNames) devs.addAll(reg.resolve(n, once));
                return new CdiTransform(devs, host.probe()).apply(spec);
            });
        }
        steps.add(spec -> hookDirs().apply(spec));
        return steps;
    }

    /**
     * The bind of the host's current directory at the same path, or null: none asked for, the site turned it off,
     * it is "/" (nothing to keep), or it is visible already through another bind (home, /tmp, a site mount, a -v).
     * It goes through the same bind policy as a -v; where that refuses it, one warning says where the command
     * starts instead, and the run goes on (the current directory is a convenience, not something the user asked).
     */
    private Mount cwdBind(RunRequest r, BindPolicy binds, Spec spec, List<Mount> userBinds) {
        String dir = r.cwd();
        if (dir == null || dir.equals("/") || !site().binds().currentDirectory()) return null;
        List<Mount> all = new ArrayList<>(spec.mounts());
        all.addAll(userBinds);
        if (SpecBuilder.visibleCwd(all, dir) != null) return null;
        try {
            return binds.check(Mount.bind(dir, dir, false), r.rootfs());
        } catch (SkiffException e) {
            String why = e.exitCode() == ExitCode.POLICY ? "the site's bind policy does not allow it" : e.getMessage();
            String start = spec.process() == null || spec.process().cwd() == null ? "/" : spec.process().cwd();
            host.warn().accept(Warnings.line("the current directory " + dir + " is not bound into the container ("
                    + why + "); the command starts in " + start + " (-w DIR chooses another, -v binds a path elsewhere)"));
            return null;
        }
    }

    /** The host's linker cache, where host MPI libraries named without a path are looked up. */
    static final Path HOST_LD_CACHE = Path.of("/etc/ld.so.cache");

    NvidiaDriver driver() {
        SiteConfig.Gpu g = site().gpu();
        Supplier<String> ld = host.ldconfigOutput() != null ? host.ldconfigOutput() : NvidiaDriver.ldconfig(g.ldconfig());
        return new NvidiaDriver(NvidiaDriver.libList(g.liblist()), ld, g.libDirs().stream().map(Path::of).toList(),
                g.binDirs().stream().map(Path::of).toList(), host.devDir());
    }

    private static List<Path> pathDirs(RunRequest r) {
        return HostPath.dirs(r.hostEnv().get("PATH"));
    }

    private Transform trustedMounts(List<MountEntry> entries, String what) {
        return spec -> {
            if (entries.isEmpty()) return spec;
            List<Mount> out = new ArrayList<>(spec.mounts());
            for (MountEntry e : entries) {
                if (e.source() == null || !e.source().startsWith("/") || !e.destination().startsWith("/"))
                    throw new SkiffException(ExitCode.POLICY, what + " " + e.source() + " -> " + e.destination()
                            + ": source and destination must be absolute paths; ask the administrator to fix the site configuration");
                if (!Files.exists(Path.of(e.source()))) {
                    if (e.optional()) continue;
                    throw new SkiffException(ExitCode.HOST, what + " " + e.source() + " does not exist on this host; ask the administrator (or mark it optional = true)");
                }
                out.add(Mount.bind(e.source(), BindPolicy.resolveDestination(e.destination(), null), e.readonly()));
            }
            return spec.withMounts(out);
        };
    }

    private Transform moduleDevices(String name, SiteConfig.Module m) {
        return spec -> {
            for (String d : m.devices()) {
                if (DeviceSpec.isCdi(d)) continue;
                DeviceSpec ds = DeviceSpec.parse(d);
                List<Path> hosts = expand(ds.hostPath());
                if (hosts.isEmpty())
                    throw new SkiffException(ExitCode.HOST, "module " + name + ": no device matches " + ds.hostPath() + " on this host");
                boolean glob = !hosts.getFirst().toString().equals(ds.hostPath());
                for (Path h : hosts)
                    spec = DeviceEdits.add(spec, h, glob ? h.toString() : ds.containerPath(), ds.permissions(), host.probe());
            }
            return spec;
        };
    }

    /** A path whose last segment may be a glob, expanded in its directory (sorted). */
    static List<Path> expand(String pattern) {
        Path p = Path.of(pattern);
        String last = p.getFileName().toString();
        if (!last.contains("*") && !last.contains("?")) return Files.exists(p) ? List.of(p) : List.of();
        Path dir = p.getParent();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(c -> Glob.matches(last, c.getFileName().toString())).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private Transform moduleHooks(String name, SiteConfig.Module m) {
        return spec -> {
            Hooks h = spec.hooks();
            for (SiteConfig.ModuleHook mh : m.hooks()) {
                Stage st = mh.stage() == null ? null : Stage.of(mh.stage());
                if (st == null || mh.path() == null || !mh.path().startsWith("/"))
                    throw new SkiffException(ExitCode.POLICY, "module " + name + ": hook needs an absolute path and a stage among prestart, createRuntime, createContainer, startContainer, poststart, poststop; ask the administrator to fix it");
                h = st.plus(h, new Hooks.Hook(mh.path(), mh.args(), mh.env(), mh.timeout()));
            }
            return h == spec.hooks() ? spec : spec.withHooks(h);
        };
    }

    private Spec userDevice(Spec spec, DeviceSpec d, List<String> allow) {
        Path real;
        try {
            real = Path.of(d.hostPath()).toRealPath();
        } catch (IOException e) {
            throw new SkiffException(ExitCode.HOST, "--device " + d.hostPath() + ": no such device on this host");
        }
        String rs = real.toString();
        if (allow.stream().noneMatch(g -> Glob.matches(g, rs)))
            throw new SkiffException(ExitCode.POLICY, "--device " + d.hostPath() + (rs.equals(d.hostPath()) ? "" : " (" + rs + ")")
                    + " denied: the site allows only " + String.join(", ", allow) + "; ask the administrator");
        host.probe().stat(real);  // a device node at all, before where it goes
        String dest = BindPolicy.resolveDestination(d.containerPath(), null);
        if (!dest.startsWith("/dev/"))
            throw new SkiffException(ExitCode.POLICY, "--device " + d.hostPath() + ":" + d.containerPath()
                    + ": device nodes go under /dev in the container; choose a path such as /dev/" + real.getFileName());
        return DeviceEdits.add(spec, real, dest, d.permissions(), host.probe());
    }

    /**
     * For an engine that realises devices as bind mounts: one bind per {@code linux.devices} entry, host
     * node onto the container path, {@code nosuid} but never {@code nodev} (that would make the node
     * useless), read-only without 'w'. The mount point must be creatable as a file under /dev.
     */
    public static List<Mount> deviceBinds(Spec spec) {
        List<Mount> out = new ArrayList<>();
        if (spec.linux() == null) return out;
        for (skiff.spec.Linux.LinuxDevice d : spec.linux().devices()) {
            DeviceEdits.Source src = DeviceEdits.source(spec, d);
            out.add(new Mount(d.path(), "bind", src.hostPath().toString(),
                    src.writable() ? List.of("bind", "nosuid") : List.of("bind", "ro", "nosuid")));
        }
        return out;
    }

    /** Description of what a module adds, one line per item, for 'skiff modules'. */
    public static List<String> describe(SiteConfig.Module m) {
        List<String> out = new ArrayList<>();
        m.mounts().forEach(e -> out.add("mount " + e.source() + " -> " + e.destination() + (e.readonly() ? " (ro)" : " (rw)") + (e.optional() ? " optional" : "")));
        m.devices().forEach(d -> out.add("device " + d));
        m.env().unset().forEach(k -> out.add("env unset " + k));
        m.env().set().forEach((k, v) -> out.add("env " + k + "=" + v));
        m.env().prepend().forEach((k, v) -> out.add("env " + k + " prepend " + v));
        m.env().append().forEach((k, v) -> out.add("env " + k + " append " + v));
        m.hooks().forEach(h -> out.add("hook " + h.stage() + " " + h.path()));
        if (m.isMpi()) {
            m.mpi().libs().forEach(l -> out.add("mpi library " + l));
            m.mpi().dependencyLibs().forEach(l -> out.add("mpi dependency " + l));
            out.add("mpi compatibility " + m.mpi().compatibility());
        }
        return out;
    }
}
