package skiff.policy;

import skiff.image.Digest;
import skiff.spec.Mount;

import java.util.List;
import java.util.Map;

/**
 * What the user asked of {@code skiff run} that site policy must judge or extend.
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
 */
public record RunRequest(String image, Digest manifest, List<Mount> userMounts, List<String> devices, String gpus,
                         List<String> modules, Map<String, String> hostEnv, int uid, int gid, String userName,
                         List<String> groupNames) {}
