package skiff.layer;

import skiff.image.Descriptor;
import skiff.image.MediaTypes;
import skiff.store.Store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One layer to flatten: a name for messages (its digest), the compression its media type announces, and
 * a way to open the (compressed) blob. The flattener may open each layer twice, so opening must be repeatable.
 */
public record LayerSource(String name, MediaTypes.Compression compression, Opener opener) {

    @FunctionalInterface
    public interface Opener {
        InputStream open() throws IOException;
    }

    /** A layer blob of the store, described by its manifest descriptor. */
    public static LayerSource of(Store store, Descriptor layer) {
        return new LayerSource(layer.digest().toString(), MediaTypes.layerCompression(layer.mediaType()),
                () -> store.openBlob(layer.digest()));
    }

    /** A layer tarball on disk (compression sniffed from its first bytes when {@code compression} is NONE). */
    public static LayerSource of(Path file, MediaTypes.Compression compression) {
        return new LayerSource(file.getFileName().toString(), compression, () -> Files.newInputStream(file));
    }
}
