package skiff.engine;

import skiff.spec.Spec;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One container to launch, as the CLI built it (as ch-run's launch request): the root filesystem ready, the final
 * spec (image config, run settings, standard mounts, site policy applied), its mounts, devices and hooks typed. The
 * engine only turns it into a launch plan and carries that out ({@link Engine#prepare}, {@link Engine#prepareHere}):
 * it knows nothing of stores, images or policy, and decodes nothing back out of option strings or annotations.
 *
 * @param launcher  the engine that makes the container
 * @param root      the root filesystem, mounted or converted already
 * @param rootKind  what {@code root} is: what may be written, what proot can keep read-only
 * @param runtime   the user's runtime directory (tools, shared mounts, join groups)
 * @param runDir    the run directory, created for this run (the generated identity files are in it); removed by the
 *                  engine when the launch fails, by stage 2 before the payload starts
 * @param spec      the final spec: the engine reads its process and annotations; its mounts, devices and hooks are
 *                  the typed lists below
 * @param cwd       where the payload starts, in the container
 * @param mounts    the spec's mounts, in order, typed
 * @param devices   the device nodes to bind from the host (none can be created in a user namespace)
 * @param hooks     the spec's OCI hooks, in lifecycle order (stage 2 runs the poststop ones only with {@code pid})
 * @param fakeroot  uid 0 in the container
 * @param pid       a new PID namespace with an init (--pid)
 * @param writableTmpfs a temporary writable overlay over the root
 * @param hostEnv   skiff's own environment (locale for stage 2, the join group's launch)
 * @param ending    how the launch ends
 * @param join      the shared container to enter (--join, srun), or null
 */
public record LaunchRequest(Launcher launcher, Path root, RootKind rootKind, Path runtime, Path runDir, Spec spec,
                            String cwd, List<Mount> mounts, List<Device> devices, List<LaunchPlan.PlanHook> hooks,
                            boolean fakeroot, boolean pid, boolean writableTmpfs, Map<String, String> hostEnv,
                            Engine.Ending ending, JoinGroup join) {

    public LaunchRequest {
        if (launcher == null) launcher = Launcher.NATIVE;
        mounts = List.copyOf(mounts);
        devices = List.copyOf(devices);
        hooks = List.copyOf(hooks);
    }

    /** What the root filesystem is. */
    public enum RootKind {
        /** The image's SquashFS, mounted through FUSE: read-only by nature. */
        IMAGE_MOUNT,
        /** The image's directory tree: the user's files, which the container must keep read-only. */
        IMAGE_TREE,
        /** A persistent container's own tree: writable. */
        CONTAINER_TREE
    }

    /** The root itself is writable: a persistent container (its tree belongs to the user). */
    boolean writableRoot() {
        return rootKind == RootKind.CONTAINER_TREE;
    }

    /** How a mount is made. */
    public enum Kind { BIND, PROC, TMPFS }

    /**
     * Who asked for a mount: the user (-v, config.toml, the current directory) is told in their own terms when it
     * cannot be made (and when its mount point costs them something); skiff's and the site's mounts are named as binds.
     */
    public enum Origin { USER, SYSTEM }

    /**
     * One mount of the container, its options parsed (see {@link MountOptions}).
     *
     * @param source host path for a bind, else null or the file system's name
     */
    public record Mount(Kind kind, String source, String destination, boolean readOnly, boolean recursive,
                        boolean nosuid, boolean nodev, boolean noexec, Origin origin) {

        public boolean user() {
            return origin == Origin.USER;
        }

        /**
         * A spec mount as the engine carries it out: its type one of the three the unprivileged engine makes, its
         * options from the one table (an option the engine does not know is an error, never dropped).
         */
        public static Mount of(skiff.spec.Mount m, Origin origin) {
            String dst = m.destination();
            if (dst == null || !dst.startsWith("/"))
                throw new SkiffException(ExitCode.USAGE, "mount destination " + dst + " must be an absolute path");
            Kind kind = switch (m.type() == null ? "bind" : m.type()) {
                case "proc" -> Kind.PROC;
                case "tmpfs" -> Kind.TMPFS;
                case "bind", "none" -> Kind.BIND;
                default -> {
                    if (m.isBind()) yield Kind.BIND;
                    throw new SkiffException(ExitCode.POLICY, "mount type " + m.type() + " on " + dst
                            + " is not supported by the unprivileged engine (bind, proc and tmpfs are)");
                }
            };
            MountOptions.Parsed p = MountOptions.parse(m.options(), dst);
            return new Mount(kind, m.source(), dst, p.readOnly(), p.recursive(), p.nosuid(), p.nodev(), p.noexec(), origin);
        }
    }

    /**
     * A device node of the host, shown at {@code path} in the container.
     *
     * @param writable the site allows writing to it (else it is bound read-only)
     */
    public record Device(Path hostPath, String path, boolean writable) {}
}
