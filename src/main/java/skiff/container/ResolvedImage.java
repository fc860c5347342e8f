package skiff.container;

import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.ImageConfig;
import skiff.image.ImageIndex;
import skiff.image.ImageManifest;
import skiff.image.MediaTypes;
import skiff.image.Platform;
import skiff.reference.Reference;
import skiff.store.Store;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;

/**
 * An image of the local store, resolved down to one platform manifest and its config.
 *
 * @param name     the normalised store name the user's argument resolved to
 * @param manifest digest of the platform manifest
 */
public record ResolvedImage(String name, Digest manifest, ImageManifest imageManifest, ImageConfig config) {

    /**
     * Resolves {@code arg} (a reference, normalised as Docker does) in {@code store}; a multi-platform
     * index resolves to the entry for this host's platform.
     */
    public static ResolvedImage resolve(Store store, String arg) throws IOException {
        String name = Reference.parse(arg).toString();
        Descriptor d = store.resolve(name).orElseThrow(() -> new SkiffException(ExitCode.IMAGE,
                "image '" + name + "' is not in the store " + store.layout() + " (pull it first: skiff pull " + arg + ")"));
        if (MediaTypes.isIndex(d.mediaType())) {
            ImageIndex idx = store.imageIndex(d.digest());
            Platform host = Platform.host();
            d = idx.manifests().stream()
                    .filter(m -> MediaTypes.isManifest(m.mediaType()) && host.matches(m.platform()))
                    .findFirst()
                    .orElseThrow(() -> new SkiffException(ExitCode.IMAGE, "image '" + name + "' has no manifest for "
                            + host + " (pull an image built for this platform)"));
        }
        if (!MediaTypes.isManifest(d.mediaType()))
            throw new SkiffException(ExitCode.IMAGE, "'" + name + "' is a " + d.mediaType() + ", not an image manifest");
        ImageManifest m = store.manifest(d.digest());
        return new ResolvedImage(name, d.digest(), m, store.config(m));
    }
}
