package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.container.Container;
import skiff.container.Containers;
import skiff.engine.Engine;
import skiff.engine.Identity;
import skiff.engine.JoinGroup;
import skiff.engine.Launcher;
import skiff.engine.RuntimeDir;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.image.ImageIndex;
import skiff.image.MediaTypes;
import skiff.image.Platform;
import skiff.policy.Policy;
import skiff.policy.RunRequest;
import skiff.reference.Reference;
import skiff.rootfs.Rootfs;
import skiff.spec.ContainerEnv;
import skiff.spec.Mount;
import skiff.spec.RunSettings;
import skiff.store.JobPins;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code skiff run}: runs a command in a new container from an image; the payload replaces this process. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run a command in a new container of IMAGE (read-only), or in the persistent CONTAINER (writable).",
                "The payload runs as you, and takes over this process.",
                "Options must come before IMAGE: everything after it is the command and its arguments."})
public final class RunCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Mixin
    PolicyOptions policyOptions;

    @Option(names = {"-e", "--env"}, paramLabel = "KEY[=VALUE]",
            description = "Set an environment variable; KEY alone copies the host's value (repeatable).")
    List<String> env = new ArrayList<>();

    @Option(names = "--env-file", paramLabel = "FILE", description = "Read KEY=VALUE lines from FILE (repeatable).")
    List<Path> envFiles = new ArrayList<>();

    @Option(names = "--cleanenv", description = "Start from an empty environment: image Env, TERM/HOME/USER/LOGNAME, -e.")
    boolean cleanEnv;

    @Option(names = "--entrypoint", paramLabel = "CMD", description = "Replace the image's Entrypoint (and drop its Cmd).")
    String entrypoint;

    @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory inside the container.")
    String workdir;

    @Option(names = {"-v", "--volume", "-B", "--bind"}, paramLabel = "SRC[:DST[:ro|rw]]",
            description = "Bind a host path into the container (repeatable). A DST the image lacks is created (the image stays read-only).")
    List<String> volumes = new ArrayList<>();

    @Option(names = "--no-home", description = "Do not bind your home directory.")
    boolean noHome;

    @Option(names = "--no-cwd", description = "Do not bind the current directory (nor start in it): start in the image's WorkingDir.")
    boolean noCwd;

    @Option(names = "--hostauth", description = "Bind the host's /etc/passwd and /etc/group instead of generated ones.")
    boolean hostAuth;

    @Option(names = "--fakeroot", description = "Run as uid 0 inside the container (still your uid outside).")
    boolean fakeroot;

    @Option(names = "--writable-tmpfs", description = "Put a temporary writable overlay over the image (discarded at exit).")
    boolean writableTmpfs;

    @Option(names = "--pid", description = "Run in a new PID namespace with a minimal init and a fresh /proc.")
    boolean pid;

    @Option(names = "--join", paramLabel = "NAME", description = "Share one container with the other ranks on this node started with the same NAME (mpirun); under srun the step's ranks share one without this option.")
    String join;

    @Option(names = "--join-size", paramLabel = "N", description = "How many ranks on this node share the --join container (default: OMPI_COMM_WORLD_LOCAL_SIZE or MPI_LOCALNRANKS; under srun the step's tasks on this node).")
    Integer joinSize;

    @Option(names = "--no-join", description = "A container of its own for this rank, even under srun.")
    boolean noJoin;

    @Option(names = "--rm", description = "Remove the persistent container after it exits (for images, nothing is kept anyway).")
    boolean rm;

    @Option(names = "--name", paramLabel = "NAME", description = "Create a persistent container NAME from IMAGE and run it (kept after the run unless --rm), as docker run --name.")
    String name;

    @Option(names = {"-i", "--interactive", "-t", "--tty"}, description = "Accepted for Docker compatibility: stdin and the terminal always pass through.")
    boolean dockerCompat;

    @Option(names = {"-q", "--quiet"}, description = "No progress when the image must be converted first.")
    boolean quiet;

    @Option(names = "--engine", paramLabel = "auto|native|proot", description = "How to make the container: user namespaces (native), proot (no namespaces, slower system calls), or auto: native where user namespaces work, else proot (default: [run] engine, else auto).")
    String engine;

    @Option(names = "--rootfs-format", paramLabel = "squashfs|dir", description = "Run from the SquashFS image (default) or a directory tree (the default with --writable-tmpfs).")
    String rootfsFormat;

    @Parameters(index = "0", paramLabel = "IMAGE|CONTAINER", description = "A persistent container's name, else an image name or reference.")
    String image;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "Command and arguments (default: the image's Entrypoint + Cmd).")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        Prepared p = prepare();
        int status = Engine.start(p.launch());
        p.after().run();
        return status;
    }

    /**
     * The launch this command makes, ready for {@link Engine#start} (which AOT training, {@link AotTraining}, leaves
     * out), and what to do once the payload ends if this JVM waits for it (removing a --rm container).
     */
    record Prepared(Engine.Launch launch, After after) {}

    /** Work after the payload ended (only when this JVM waited for it). */
    interface After {
        void run() throws IOException;
    }

    Prepared prepare() throws IOException {
        Trace.mark("run: options parsed");
        var hostEnv = main.env();
        JoinGroup group = JoinGroup.of(hostEnv, join, joinSize, noJoin);
        if (group != null) refuseWithJoin(group);
        Identity id = Identity.current(hostEnv);
        // --writable-tmpfs overlays the directory tree by default: it belongs to the user, so any file can be copied
        // up and changed. Over the SquashFS mount, files keep the image's owners (root, unmapped in the namespace),
        // which overlayfs cannot copy up, and root-owned directories refuse new entries.
        Rootfs.Format format = format();
        Store store = main.store();
        // A conversion this run needs (first run of an image, --writable-tmpfs, --name) runs in a JVM tuned for
        // bulk work; in this one only when bin/skiff cannot be found. Either way it shows progress.
        ConvertInChild.install(image, quiet, main.debug());
        Trace.mark("run: identity, store");
        // Stamped as read: a run record written below carries the policy to the warm path (PolicySnapshot).
        Policy policy = Policy.loadRecorded(hostEnv);
        Trace.mark("run: policy loaded");
        Launcher.Choice launcher = Launcher.choose(engine != null ? engine : policy.engine(),
                engine != null ? "--engine" : policy.engineSource(), RuntimeDir.resolve(hostEnv, id.uid()));
        if (launcher.fellBack() && policy.engineNotice())
            System.err.println("skiff: notice: " + launcher.why() + "; running with proot, whose system calls are slower"
                    + " (--engine proot says so without this notice)");
        // Under srun the step's ranks would share one container; without namespaces there is nothing to share, so
        // each rank runs alone. An explicit --join is refused by the engine.
        JoinGroup joinGroup = launcher.launcher() == Launcher.PROOT && group != null
                && !group.origin().startsWith("--join") ? null : group;
        Trace.mark("run: engine chosen");
        // A persistent container of that name first (its writable rootfs, its image's config), else an image.
        Containers containers = Containers.open(main.storageDir());
        Optional<Container> container = containers.find(image);
        String target = image; // the container this run keeps, when there is one
        if (name != null) {
            // As docker run --name: a new persistent container NAME from the image, run now, kept unless --rm.
            if (container.isPresent())
                throw new SkiffException(ExitCode.USAGE, "--name " + name + ": '" + image + "' is a container already;"
                        + " --name creates a new one from an image (run it with 'skiff run " + image + "')");
            containers.create(store, image, name, hostEnv, w -> Warnings.print(w));
            container = containers.find(name);
            target = name;
        }
        String imageName;
        String indexStamp = "";
        Digest manifestDigest;
        ImageConfig config;
        if (container.isPresent()) {
            Container c = container.get();
            imageName = c.image();
            manifestDigest = c.manifest();
            config = c.config();
        } else {
            Reference ref;
            try {
                ref = Reference.parse(image);
            } catch (SkiffException e) {
                throw new SkiffException(ExitCode.IMAGE, "'" + image + "' is neither a container nor a valid image name: " + e.getMessage());
            }
            imageName = ref.toString();
            indexStamp = RunRecord.stamp(store.layout().resolve("index.json"));
            // In a batch job a tag means what it meant the first time the job resolved it (JobPins).
            Optional<String> job = ref.digest() == null ? JobPins.job(hostEnv) : Optional.empty();
            Descriptor pinned = job.isEmpty() ? null : JobPins.resolve(store, job.get(), imageName, () -> {
                try {
                    return store.resolve(imageName);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).orElse(null);
            RunInputs.Resolved fast = pinned == null ? RunInputs.resolve(store, imageName)
                    : MediaTypes.isManifest(pinned.mediaType()) ? RunInputs.manifest(store, pinned.digest()) : null;
            // Not in the store as a single-platform image: the image gateway's shared index, when [gateway] shared is set.
            boolean published = false;
            if (fast == null && pinned == null) {
                fast = GatewayRun.resolve(policy, imageName);
                published = fast != null;
            }
            Descriptor indexed;
            if (fast != null) {
                manifestDigest = fast.manifest();
                config = fast.config();
                indexed = pinned != null ? pinned : fast.indexed();
            } else {
                Descriptor d = pinned != null ? pinned : store.resolve(ref.toString()).orElseThrow(() -> new SkiffException(ExitCode.IMAGE,
                        "image " + ref + " is not in the store: pull it first with 'skiff pull " + image + "'"));
                manifestDigest = manifestFor(store, d);
                config = store.config(store.manifest(manifestDigest));
                indexed = d;
            }
            policy.checkImage(imageName, ref.digest() != null);
            // The next run of this name can take the warm path (bin/skiff, WarmRun): natively, where nothing of
            // a job's pin differs from what the index says now. Not for a gateway image: bin/skiff's check compares
            // the record with the store's index.json only, so a tag the gateway moves would go on running the old file.
            if (launcher.launcher() == Launcher.NATIVE && !published && (pinned == null || pinned.digest().equals(indexed(store, imageName))))
                RunRecord.write(main.storageDir(), image, new RunRecord(imageName, ref.digest() != null, manifestDigest,
                        Rootfs.path(store, manifestDigest, Rootfs.Format.DIR), indexStamp, config == null ? null : config.config(),
                        indexed, policy.snapshot()));
        }

        Trace.mark("run: image resolved, config read");
        Built b = build(hostEnv, id, imageName, manifestDigest, format, container.map(Container::rootfs).orElse(null),
                launcher.launcher());
        LaunchRequests.Options options = b.options();
        if (rm && container.isPresent() && joinGroup != null) refuseWithJoin(joinGroup, "--rm");
        // Before anything is mounted or converted: what the chosen engine cannot do at all.
        Engine.refuseEarly(options.launcher(), options.pid(), options.writableTmpfs(), joinGroup);
        // The payload keeps this pid: 'skiff rm' and 'skiff ps' see the container run as long as it does.
        if (container.isPresent()) containers.markRunning(target, ProcessHandle.current().pid());
        // The one case where skiff must outlive the payload: to remove the container afterwards.
        boolean removeAfter = rm && container.isPresent();
        Path root = ImageRoot.of(store, manifestDigest, options, policy, hostEnv, id);
        ImageConfig.Config cfg = config == null ? null : config.config();
        if (removeAfter) {
            String kept = target;
            return new Prepared(Engine.prepare(LaunchRequests.build(root, cfg, b, policy, hostEnv, id, Engine.Ending.WAIT,
                    null)), () -> {
                containers.unmarkRunning(kept, ProcessHandle.current().pid());
                containers.remove(kept);
            });
        }
        if (joinGroup != null) {
            Trace.mark("run: engine starts (joining " + joinGroup.key() + ")");
            return new Prepared(Engine.prepare(LaunchRequests.build(root, cfg, b, policy, hostEnv, id, Engine.Ending.REPLACE,
                    joinGroup)), () -> {});
        }
        Trace.mark("run: engine starts");
        // Returns only with --pid (this JVM then waited, passing signals on), else the payload replaced it.
        return new Prepared(Engine.prepare(LaunchRequests.build(root, cfg, b, policy, hostEnv, id, Engine.Ending.REPLACE,
                null)), () -> {});
    }

    Rootfs.Format format() {
        String fmt = rootfsFormat != null ? rootfsFormat : writableTmpfs ? "dir" : "squashfs";
        return switch (fmt) {
            case "squashfs" -> Rootfs.Format.SQUASHFS;
            case "dir" -> Rootfs.Format.DIR;
            default -> throw new SkiffException(ExitCode.USAGE, "--rootfs-format must be squashfs or dir, not " + rootfsFormat);
        };
    }

    /** What the engine is given besides the image: as the full path and the warm path ({@link WarmRun}) build it. */
    record Built(RunRequest request, LaunchRequests.Options options) {}

    Built build(Map<String, String> hostEnv, Identity id, String imageName, Digest manifestDigest, Rootfs.Format format,
                Path containerRoot, Launcher launcher) {
        List<Mount> userMounts = new ArrayList<>();
        for (String v : volumes) userMounts.add(parseVolume(v));
        List<String> envFile = new ArrayList<>();
        for (Path f : envFiles) {
            try {
                envFile.addAll(ContainerEnv.parseEnvFile(Files.readString(f)));
            } catch (IOException e) {
                throw new SkiffException(ExitCode.USAGE, "--env-file " + f + ": cannot read it: " + e.getMessage());
            }
        }
        for (String e : env) if (e.isEmpty() || e.startsWith("=")) throw new SkiffException(ExitCode.USAGE, "-e '" + e + "': expected KEY=VALUE or KEY");
        RunSettings settings = new RunSettings(command, entrypoint, workdir, env, envFile, cleanEnv, fakeroot, id.uid(),
                id.gid(), id.name(), id.home(), hostEnv);
        if (workdir != null && !workdir.startsWith("/"))
            throw new SkiffException(ExitCode.USAGE, "-w " + workdir + ": the working directory must be an absolute path");
        RunRequest request = new RunRequest(imageName, manifestDigest, List.copyOf(userMounts),
                List.copyOf(policyOptions.devices), policyOptions.gpus, List.copyOf(policyOptions.modules), hostEnv,
                id.uid(), id.gid(), id.name(), id.groupNames())
                // -w names where to start: then the current directory is neither needed nor bound.
                .withCwd(noCwd || workdir != null ? null : System.getProperty("user.dir"))
                .withMpi(policyOptions.mpiChoice());
        return new Built(request, new LaunchRequests.Options(settings, noHome, hostAuth, writableTmpfs, pid, format,
                containerRoot, launcher));
    }

    /** Options a shared container cannot honour: one line, before anything starts. */
    private void refuseWithJoin(JoinGroup g) {
        refuseWithJoin(g, pid ? "--pid" : name != null ? "--name" : fakeroot ? "--fakeroot" : null);
    }

    private static void refuseWithJoin(JoinGroup g, String with) {
        if (with == null) return;
        String why = switch (with) {
            case "--pid" -> "the ranks enter the container's namespaces, and a PID namespace can only be made by its first process";
            case "--name" -> "every rank would create the same persistent container";
            case "--fakeroot" -> "ranks entering the container's user namespace as root would keep its capabilities";
            default -> "--rm on a persistent container waits for the payload to remove the container afterwards, which a rank entering a shared container does not";
        };
        throw new SkiffException(ExitCode.USAGE, with + " cannot be used in a container shared by several ranks ("
                + g.origin() + "): " + why + "; " + (g.origin().startsWith("--join") ? "drop --join" : "add --no-join")
                + " to give each rank a container of its own");
    }

    /** The digest the store's index gives {@code name} now, or null. */
    private static Digest indexed(Store store, String name) {
        try {
            return store.resolve(name).map(Descriptor::digest).orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private static Digest manifestFor(Store store, Descriptor d) throws IOException {
        String mt = d.mediaType();
        if (MediaTypes.OCI_INDEX.equals(mt) || MediaTypes.DOCKER_MANIFEST_LIST.equals(mt)) {
            ImageIndex idx = store.imageIndex(d.digest());
            Platform want = Platform.host();
            for (Descriptor m : idx.manifests()) if (want.matches(m.platform())) return m.digest();
            throw new SkiffException(ExitCode.IMAGE, "the image has no manifest for " + want);
        }
        return d.digest();
    }

    /** SRC[:DST[:ro|rw]], as Docker and Apptainer; SRC relative to the current directory. */
    static Mount parseVolume(String v) {
        String[] p = v.split(":", -1);
        if (p.length > 3 || p[0].isEmpty())
            throw new SkiffException(ExitCode.USAGE, "-v '" + v + "': expected SRC[:DST[:ro|rw]]");
        boolean ro = false;
        if (p.length == 3) {
            switch (p[2]) {
                case "ro" -> ro = true;
                case "rw" -> ro = false;
                default -> throw new SkiffException(ExitCode.USAGE, "-v '" + v + "': the mode must be ro or rw, not '" + p[2] + "'");
            }
        }
        Path src = Path.of(p[0]).toAbsolutePath().normalize();
        String dst = p.length >= 2 && !p[1].isEmpty() ? p[1] : src.toString();
        if (!dst.startsWith("/")) throw new SkiffException(ExitCode.USAGE, "-v '" + v + "': the destination must be an absolute path");
        if (!Files.exists(src))
            throw new SkiffException(ExitCode.LAUNCH, "-v '" + v + "': " + src + " does not exist on the host: create it first");
        return Mount.bind(src.toString(), Path.of(dst).normalize().toString(), ro);
    }
}
