package skiff.image;

import java.util.List;
import java.util.Map;

/** image-spec image-index.md; also Docker manifest lists, and the store's own index.json. */
public record ImageIndex(
        int schemaVersion,
        String mediaType,
        String artifactType,
        List<Descriptor> manifests,
        Descriptor subject,
        Map<String, String> annotations) {

    public List<Descriptor> manifests() {
        return manifests == null ? List.of() : manifests;
    }

    public static ImageIndex of(List<Descriptor> manifests) {
        return new ImageIndex(2, MediaTypes.OCI_INDEX, null, manifests, null, null);
    }
}
