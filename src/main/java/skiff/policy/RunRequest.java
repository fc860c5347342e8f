package skiff.policy;

import skiff.image.Digest;
import skiff.spec.Mount;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the user asked of {@code skiff run} that site policy must judge or extend.
 *
 * <p>Contract with the engine for what policy adds to the Spec:
 * <ul>
 * <li>Bind mounts may have destinations under {@code /.skiff} (e.g. the GPU driver's files, one bind per
 * file, under {@code /.skiff/nvidia/lib} and {@code /.skiff/nvidia/bin}). The engine provides
 * {@code /.skiff} as an empty writable tmpfs in every container and creates each such mount point (an
 * empty file when the source is a file, a directory otherwise, parents as needed) before binding.
 * Users can never bind there themselves.
 * <li>Destinations of user binds are already resolved inside {@link #rootfs} (symlinks, {@code ..}); the
 * engine mounts exactly there, creating a missing mount point (parents included) without writing to the image.
 * <li>{@code linux.devices}: bind the host node given by {@code DeviceEdits.source(spec, device)} onto
 * the entry's path; read-only when its permissions lack 'w'.
 * </ul>
 *
 * @param image        normalised image name (Reference.toString()), for image policy and hooks
 * @param manifest     image manifest digest
 * @param userMounts   -v/--volume binds as the user wrote them (policy validates, then adds them)
 * @param devices      --device values (host paths or CDI names vendor.com/class=name)
 * @param gpus         --gpus value, or null
 * @param modules      --module names
 * @param hostEnv      the invoking environment
 * @param uid          invoking user
 * @param gid          invoking user's primary group
 * @param userName     invoking user's name
 * @param groupNames   invoking user's groups
 * @param rootfs       the image's root filesystem as the host sees it (mounted SquashFS or directory), in
 *                     which bind destinations are resolved; null: lexical normalisation only
 * @param cwd          the host directory skiff run was started from, to bind at the same path unless the site
 *                     turns that off or it is visible already; null: none (--no-cwd, -w)
 */
public record RunRequest(String image, Digest manifest, List<Mount> userMounts, List<String> devices, String gpus,
                         List<String> modules, Map<String, String> hostEnv, int uid, int gid, String userName,
                         List<String> groupNames, Path rootfs, String cwd) {

    public RunRequest(String image, Digest manifest, List<Mount> userMounts, List<String> devices, String gpus,
                      List<String> modules, Map<String, String> hostEnv, int uid, int gid, String userName,
                      List<String> groupNames, Path rootfs) {
        this(image, manifest, userMounts, devices, gpus, modules, hostEnv, uid, gid, userName, groupNames, rootfs, null);
    }

    /** Without a rootfs: destinations are normalised lexically only (the engine should pass the rootfs). */
    public RunRequest(String image, Digest manifest, List<Mount> userMounts, List<String> devices, String gpus,
                      List<String> modules, Map<String, String> hostEnv, int uid, int gid, String userName,
                      List<String> groupNames) {
        this(image, manifest, userMounts, devices, gpus, modules, hostEnv, uid, gid, userName, groupNames, null);
    }

    public List<Mount> userMounts() { return userMounts == null ? List.of() : userMounts; }
    public List<String> devices() { return devices == null ? List.of() : devices; }
    public List<String> modules() { return modules == null ? List.of() : modules; }
    public Map<String, String> hostEnv() { return hostEnv == null ? Map.of() : hostEnv; }
    public List<String> groupNames() { return groupNames == null ? List.of() : groupNames; }

    public RunRequest withRootfs(Path r) {
        return new RunRequest(image, manifest, userMounts, devices, gpus, modules, hostEnv, uid, gid, userName, groupNames, r, cwd);
    }

    public RunRequest withCwd(String dir) {
        return new RunRequest(image, manifest, userMounts, devices, gpus, modules, hostEnv, uid, gid, userName, groupNames, rootfs, dir);
    }
}
