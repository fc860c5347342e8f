package skiff.spec;

import java.util.List;
import java.util.Map;

/**
 * What {@code skiff run} was asked, in the terms the spec is built from (no CLI types here).
 *
 * @param command     the COMMAND [ARG...] after the image, empty when none was given
 * @param entrypoint  --entrypoint: null keeps the image's, "" clears it
 * @param workdir     -w, or null
 * @param env         -e values in order: K=V sets, a bare K copies the host's K (dropped when unset)
 * @param envFile     --env-file entries in order, same syntax as {@code env}; applied before -e
 * @param cleanEnv    --cleanenv
 * @param fakeroot    --fakeroot: uid/gid 0 inside
 * @param uid         invoking user
 * @param gid         invoking user's primary group
 * @param userName    invoking user's name
 * @param home        invoking user's home directory
 * @param hostEnv     the invoking environment
 */
public record RunSettings(List<String> command, String entrypoint, String workdir, List<String> env,
                          List<String> envFile, boolean cleanEnv, boolean fakeroot, int uid, int gid,
                          String userName, String home, Map<String, String> hostEnv) {}
