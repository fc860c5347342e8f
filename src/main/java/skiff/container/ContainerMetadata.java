package skiff.container;

import skiff.image.Digest;
import skiff.image.ImageConfig;

/**
 * The contents of {@code STORAGE/containers/NAME/container.json}. The directory name is authoritative for
 * the name; the copy here is for people and tools reading the file.
 *
 * @param id      64 random hex digits, as Docker container ids (ps shows the first 12)
 * @param created RFC 3339 UTC time of creation
 */
public record ContainerMetadata(String name, String id, String image, Digest manifest, String created, ImageConfig config) {

    public ContainerMetadata withName(String n) {
        return new ContainerMetadata(n, id, image, manifest, created, config);
    }

    public ContainerMetadata withId(String i) {
        return new ContainerMetadata(name, i, image, manifest, created, config);
    }

    public ContainerMetadata withCreated(String c) {
        return new ContainerMetadata(name, id, image, manifest, c, config);
    }
}
