package skiff.container;

import skiff.image.Digest;
import skiff.image.ImageConfig;

import java.nio.file.Path;

/**
 * A persistent container as {@code skiff run NAME} needs it: a writable root filesystem owned by the
 * user, and the configuration of the image it was created from (entrypoint, env, workdir...).
 *
 * @param name     the container's name (its directory under STORAGE/containers)
 * @param rootfs   the writable root filesystem directory
 * @param image    the image name it was created from ("" when imported from a tarball without a name)
 * @param manifest the digest of that image's manifest
 * @param config   that image's configuration, copied at creation (the image may since be removed)
 */
public record Container(String name, Path rootfs, String image, Digest manifest, ImageConfig config) {}
