package skiff.cli;

import skiff.engine.Identity;
import skiff.engine.Launcher;
import skiff.engine.Proot;
import skiff.engine.RuntimeDir;
import skiff.engine.SharedMount;
import skiff.image.Digest;
import skiff.policy.Policy;
import skiff.rootfs.Rootfs;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.nio.file.Path;
import java.util.Map;

/**
 * The root filesystem step of skiff run's full path, before the launch request is built: the image's SquashFS
 * mounted (through the shared mount), or its directory tree converted, or a persistent container's own tree.
 */
final class ImageRoot {
    private ImageRoot() {}

    static Path of(Store store, Digest manifest, LaunchRequests.Options o, Policy policy, Map<String, String> env, Identity id) {
        if (o.containerRoot() != null) return o.containerRoot();
        return switch (o.format()) {
            case SQUASHFS -> mount(store, manifest, RuntimeDir.resolve(env, id.uid()), env, policy, o.launcher() == Launcher.PROOT);
            case DIR -> Rootfs.ensure(store, manifest, Rootfs.Format.DIR);
        };
    }

    /**
     * The image's SquashFS, mounted through FUSE on the host. The mount needs no user namespace (fusermount3 is
     * setuid root), so proot uses it too; where FUSE is unavailable as well, proot has no read-only image to run.
     */
    private static Path mount(Store store, Digest manifest, Path runtime, Map<String, String> env, Policy policy, boolean proot) {
        Path image = Rootfs.ensure(store, manifest, Rootfs.Format.SQUASHFS);
        try {
            return SharedMount.acquire(runtime, image, manifest.hex(), ProcessHandle.current().pid(), env,
                    SharedMount.Mounter.of(policy.squashfsMounter()));
        } catch (SkiffException e) {
            if (!proot || e.exitCode() != ExitCode.LAUNCH) throw e;
            throw new SkiffException(ExitCode.HOST, e.getMessage() + "; without user namespaces the image can only be"
                    + " run from its SquashFS through FUSE: ask the administrators for FUSE (see 'skiff doctor'), or run"
                    + " a persistent container of it ('skiff run --name NAME IMAGE')" + Proot.ENGINE);
        }
    }
}
