package skiff.layer;

import com.fasterxml.jackson.databind.JsonNode;
import skiff.image.MediaTypes;
import skiff.rootfs.DirectorySink;
import skiff.testing.Cmd;
import skiff.util.Json;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Test helpers: the layers of an image in a umoci-made OCI layout, flattening into a directory. */
public final class Images {
    private Images() {}

    /** The layers of {@code layout:tag}, read straight from the layout (independent of skiff's store). */
    static List<LayerSource> layers(Path layout, String tag) throws IOException {
        JsonNode index = Json.MAPPER.readTree(layout.resolve("index.json").toFile());
        for (JsonNode m : index.get("manifests")) {
            JsonNode ann = m.get("annotations");
            if (ann == null || !tag.equals(ann.path("org.opencontainers.image.ref.name").asText())) continue;
            JsonNode manifest = Json.MAPPER.readTree(blob(layout, m.get("digest").asText()).toFile());
            List<LayerSource> out = new ArrayList<>();
            for (JsonNode l : manifest.get("layers")) {
                Path p = blob(layout, l.get("digest").asText());
                out.add(new LayerSource(l.get("digest").asText(), MediaTypes.layerCompression(l.get("mediaType").asText()),
                        () -> Files.newInputStream(p)));
            }
            return out;
        }
        throw new IllegalArgumentException("no tag " + tag + " in " + layout);
    }

    static Path blob(Path layout, String digest) {
        String[] d = digest.split(":");
        return layout.resolve("blobs").resolve(d[0]).resolve(d[1]);
    }

    static Flattener.Stats flatten(List<LayerSource> layers, Path out, List<String> warnings) throws IOException {
        return Flattener.flatten(layers, new DirectorySink(out, warnings::add), Limits.defaults(), warnings::add);
    }

    /** umoci's own flattening of the same image into {@code rootfs}, as an independent reference. */
    public static Path umociUnpack(Path layout, String tag, Path rootfs) {
        Cmd.of("umoci", "raw", "unpack", "--rootless", "--image", layout + ":" + tag, rootfs.toString()).run().ok();
        return rootfs;
    }
}
