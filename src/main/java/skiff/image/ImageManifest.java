package skiff.image;

import java.util.List;
import java.util.Map;

/** image-spec manifest.md; also reads Docker schema 2 manifests, which have the same shape. */
public record ImageManifest(
        int schemaVersion,
        String mediaType,
        String artifactType,
        Descriptor config,
        List<Descriptor> layers,
        Descriptor subject,
        Map<String, String> annotations) {

    public List<Descriptor> layers() {
        return layers == null ? List.of() : layers;
    }
}
