package skiff.engine;

import skiff.sys.Mounts;
import skiff.sys.SysException;
import skiff.util.Warnings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

import static skiff.sys.Mounts.MS_BIND;
import static skiff.sys.Mounts.MS_NODEV;
import static skiff.sys.Mounts.MS_NOEXEC;
import static skiff.sys.Mounts.MS_NOSUID;
import static skiff.sys.Mounts.MS_PRIVATE;
import static skiff.sys.Mounts.MS_RDONLY;
import static skiff.sys.Mounts.MS_REC;

/**
 * The first part of a launch in the new namespaces: the container's mount tree, before the pivot (the init of
 * --pid is {@link PidInit}, the pivot and exec are {@link Stage2}'s). Also the mount tree of a shared container's
 * holder (JoinHolder).
 */
final class MountTree {
    private MountTree() {}

    /** The root bound (or overlaid) onto itself, read-only unless writable, then every mount of the plan, in order. */
    static void build(LaunchPlan plan) throws SysException, IOException, Stage2.Failure {
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
                    throw new Stage2.Failure(Stage2.LAUNCH, "cannot use an overlay: the path " + p + " contains ',', ':' or '\\'");
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
            throws SysException, IOException, Stage2.Failure {
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
                    throw new Stage2.Failure(Stage2.LAUNCH, "bind source " + m.source() + " does not exist");
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
            default -> throw new Stage2.Failure(Stage2.LAUNCH, "unsupported mount type " + m.kind() + " on " + m.destination());
        }
    }
}
