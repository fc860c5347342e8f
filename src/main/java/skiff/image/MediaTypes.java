package skiff.image;

import java.util.Set;

/** Media types of the OCI image spec and of Docker's schema 2, which registries still serve. */
public final class MediaTypes {
    private MediaTypes() {}

    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
    public static final String OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
    public static final String OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
    public static final String OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

    public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
    public static final String DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public static final String DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    public static final Set<String> MANIFESTS = Set.of(OCI_MANIFEST, DOCKER_MANIFEST);
    public static final Set<String> INDEXES = Set.of(OCI_INDEX, DOCKER_MANIFEST_LIST);

    public static boolean isManifest(String mt) {
        return MANIFESTS.contains(mt);
    }

    public static boolean isIndex(String mt) {
        return INDEXES.contains(mt);
    }

    /** How a layer blob is compressed, from its media type. */
    public enum Compression { NONE, GZIP, ZSTD }

    public static Compression layerCompression(String mt) {
        if (mt.endsWith("+zstd")) return Compression.ZSTD;
        if (mt.endsWith("+gzip") || mt.endsWith(".tar.gzip") || mt.equals(DOCKER_LAYER_GZIP)) return Compression.GZIP;
        return Compression.NONE;
    }
}
