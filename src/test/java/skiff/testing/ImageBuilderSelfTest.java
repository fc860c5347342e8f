package skiff.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.reference.Reference;
import skiff.store.Store;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fixture builder and the store agree on the layout: an image copied in by skopeo resolves by name. */
class ImageBuilderSelfTest {
    @Test
    void skopeoCopiedImageResolvesInTheStore(@TempDir Path tmp) throws Exception {
        String name = Reference.parse("example.org/fixture/busybox:1").toString();
        ImageBuilder.create(tmp.resolve("img"))
                .layerFromDir(ImageBuilder.busyboxTree(tmp.resolve("tree")))
                .config("--config.cmd", "/bin/sh")
                .copyInto(tmp.resolve("storage"), name);
        Store store = Store.open(tmp.resolve("storage"));
        Descriptor d = store.resolve(name).orElseThrow();
        var manifest = store.manifest(d.digest());
        assertEquals(1, manifest.layers().size());
        assertEquals(java.util.List.of("/bin/sh"), store.config(manifest).config().cmd());
        assertTrue(store.hasBlob(manifest.layers().get(0).digest()));
    }
}
