package skiff.image;

import java.util.List;
import java.util.Map;

/** image-spec descriptor.md. */
public record Descriptor(
        String mediaType,
        Digest digest,
        long size,
        List<String> urls,
        Map<String, String> annotations,
        Platform platform,
        String artifactType) {

    public static final String REF_NAME = "org.opencontainers.image.ref.name";

    public static Descriptor of(String mediaType, Digest digest, long size) {
        return new Descriptor(mediaType, digest, size, null, null, null, null);
    }

    public Descriptor withAnnotations(Map<String, String> a) {
        return new Descriptor(mediaType, digest, size, urls, a, platform, artifactType);
    }

    public String annotation(String key) {
        return annotations == null ? null : annotations.get(key);
    }
}
