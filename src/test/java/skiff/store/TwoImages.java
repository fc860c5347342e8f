package skiff.store;

import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test fixture: two images that share their base layer, made by umoci (image "base" has one layer,
 * image "app" is "base" plus a second layer) and copied into a store by skopeo.
 */
public record TwoImages(Path layout, String base, String app) {
    public static final String BASE = "docker.io/library/base:1";
    public static final String APP = "localhost:5000/team/app:2";

    public static TwoImages into(Path work, Path storage) {
        try {
            Path baseTree = ImageBuilder.busyboxTree(work.resolve("base-tree"));
            ImageBuilder b = ImageBuilder.create(work.resolve("img"), "base").layerFromDir(baseTree)
                    .config("--config.cmd", "/bin/sh", "--config.env", "A=1");
            Cmd.of("umoci", "tag", "--image", b.ref(), "app").run().ok();
            Path extra = Files.createDirectories(work.resolve("app-tree/opt/app"));
            Files.writeString(extra.resolve("hello.txt"), "hello from app\n");
            Path tar = work.resolve("app-layer.tar");
            Cmd.of("tar", "--numeric-owner", "-C", work.resolve("app-tree").toString(), "-cf", tar.toString(), ".").run().ok();
            String app = b.layout() + ":app";
            Cmd.of("umoci", "raw", "add-layer", "--image", app, tar.toString()).run().ok();
            Store.open(storage);
            Cmd.of("skopeo", "copy", "--quiet", "oci:" + b.ref(), "oci:" + storage.resolve("oci") + ":" + BASE).run().ok();
            Cmd.of("skopeo", "copy", "--quiet", "oci:" + app, "oci:" + storage.resolve("oci") + ":" + APP).run().ok();
            return new TwoImages(b.layout(), BASE, APP);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
