package skiff.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import skiff.image.Descriptor;
import skiff.image.ImageConfig;
import skiff.image.Platform;
import skiff.store.Store;
import skiff.store.StoredImage;
import skiff.util.ExitCode;
import skiff.util.Json;
import skiff.util.SkiffException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show an image's manifest, platform, config and layers as JSON.",
                "REF is an image name (ubuntu:24.04, host:5000/a/b@sha256:...) or an image id prefix (see 'skiff images').",
                "One REF prints an object, several print an array."})
public final class InspectCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(arity = "1..*", paramLabel = "REF", description = "Image name or id.")
    List<String> refs;

    /** The JSON skiff inspect prints. */
    public record Inspected(String name, List<String> names, String id, String digest, String mediaType, String repoDigest,
                            Platform platform, long size, com.fasterxml.jackson.databind.JsonNode config, List<Layer> layers, List<String> formats) {}

    public record Layer(String digest, long size, String mediaType, String diffId) {}

    @Override
    public Integer call() throws Exception {
        Store store = main.store();
        List<Inspected> found = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String ref : refs) {
            List<StoredImage> images = StoredImage.find(store, ref);
            if (images.isEmpty()) missing.add(ref);
            else found.add(inspected(store, images));
        }
        if (!found.isEmpty()) System.out.println(Json.pretty(refs.size() == 1 ? found.getFirst() : found));
        if (!missing.isEmpty())
            throw new SkiffException(ExitCode.IMAGE, "no image " + String.join(", ", missing.stream().map(m -> "'" + m + "'").toList())
                    + " in the store " + store.storage() + " (see 'skiff images')");
        return 0;
    }

    static Inspected inspected(Store store, List<StoredImage> images) throws java.io.IOException {
        StoredImage i = images.getFirst();
        ImageConfig c = i.config();
        List<Layer> layers = new ArrayList<>();
        var diffIds = c.rootfs() != null && c.rootfs().diffIds() != null ? c.rootfs().diffIds() : List.<skiff.image.Digest>of();
        List<Descriptor> ls = i.manifest().layers();
        for (int k = 0; k < ls.size(); k++) {
            Descriptor l = ls.get(k);
            layers.add(new Layer(l.digest().toString(), l.size(), l.mediaType(), k < diffIds.size() ? diffIds.get(k).toString() : null));
        }
        // Every name of this manifest, not just the one asked for.
        List<String> names = new ArrayList<>();
        for (Descriptor d : store.index())
            if (d.digest().equals(i.entry().digest()) && d.annotation(Descriptor.REF_NAME) != null) names.add(d.annotation(Descriptor.REF_NAME));
        // The config as stored: every field, not only those skiff models.
        var rawConfig = Json.MAPPER.readTree(store.readMetadataBlob(i.configDigest()));
        String mt = i.manifest().mediaType() != null ? i.manifest().mediaType() : i.entry().mediaType();
        return new Inspected(i.name(), names, i.configDigest().toString(), i.manifestDigest().toString(), mt,
                i.repoDigest().toString(), Platform.of(c.os(), c.architecture(), c.variant()), i.size(), rawConfig, layers,
                ImagesCommand.formats(store, i.manifestDigest()));
    }
}
