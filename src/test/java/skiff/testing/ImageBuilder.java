package skiff.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds OCI images for tests with independent tools (umoci, GNU tar, skopeo), never with skiff itself,
 * so skiff is checked against images it did not make.
 */
public final class ImageBuilder {
    private final Path work;
    private final Path layout;
    private final String tag;
    private int layers;

    private ImageBuilder(Path work, String tag) {
        this.work = work;
        this.layout = work.resolve("layout");
        this.tag = tag;
    }

    /** A new empty image (no layers) in {@code work/layout}, tagged {@code tag}. */
    public static ImageBuilder create(Path work, String tag) {
        ImageBuilder b = new ImageBuilder(work, tag);
        if (!Files.exists(b.layout.resolve("oci-layout"))) Cmd.of("umoci", "init", "--layout", b.layout.toString()).run().ok();
        Cmd.of("umoci", "new", "--image", b.ref()).run().ok();
        return b;
    }

    public static ImageBuilder create(Path work) {
        return create(work, "latest");
    }

    /** Appends a layer made by GNU tar from the contents of {@code dir} (numeric owners kept). */
    public ImageBuilder layerFromDir(Path dir) {
        Path tar = work.resolve("layer" + (layers++) + ".tar");
        Cmd.of("tar", "--numeric-owner", "--xattrs", "-C", dir.toString(), "-cf", tar.toString(), ".").run().ok();
        return layerFromTar(tar);
    }

    /** Appends an uncompressed layer tarball as it is (umoci gzips it). */
    public ImageBuilder layerFromTar(Path tar) {
        Cmd.of("umoci", "raw", "add-layer", "--image", ref(), tar.toString()).run().ok();
        return this;
    }

    /** umoci config options, e.g. {@code config("--config.entrypoint", "/bin/sh", "--config.env", "A=1")}. */
    public ImageBuilder config(String... umociConfigArgs) {
        List<String> a = new ArrayList<>(List.of("umoci", "config", "--image", ref()));
        a.addAll(List.of(umociConfigArgs));
        Cmd.of(a).run().ok();
        return this;
    }

    public Path layout() {
        return layout;
    }

    /** {@code layout:tag}, the umoci image argument. */
    public String ref() {
        return layout + ":" + tag;
    }

    /** The skopeo transport reference, {@code oci:layout:tag}. */
    public String skopeoRef() {
        return "oci:" + ref();
    }

    /** Copies the image into skiff's store at {@code storage} under the image name {@code refName}. */
    public ImageBuilder copyInto(Path storage, String refName) {
        skiff.store.Store.open(storage);
        Cmd.of("skopeo", "copy", "--quiet", skopeoRef(), "oci:" + storage.resolve("oci") + ":" + refName).run().ok();
        return this;
    }

    /**
     * Fills {@code dir} with a minimal runnable root filesystem: a static busybox and links for the usual
     * commands, /etc/passwd and /etc/group with root only, /tmp. Needs Debian's busybox-static.
     */
    public static Path busyboxTree(Path dir) {
        try {
            Path bin = Files.createDirectories(dir.resolve("bin"));
            Files.copy(Path.of("/bin/busybox"), bin.resolve("busybox"));
            for (String c : List.of("sh", "ls", "cat", "id", "echo", "true", "false", "env", "pwd", "sleep", "touch",
                    "mkdir", "rm", "stat", "grep", "head", "wc", "find", "xargs", "whoami", "kill", "test", "printf",
                    "readlink", "mount", "cp", "chmod", "date", "uname", "ps", "sed", "tr", "dd", "hostname")) {
                Files.createSymbolicLink(bin.resolve(c), Path.of("busybox"));
            }
            Path etc = Files.createDirectories(dir.resolve("etc"));
            Files.writeString(etc.resolve("passwd"), "root:x:0:0:root:/root:/bin/sh\n");
            Files.writeString(etc.resolve("group"), "root:x:0:\n");
            Files.createDirectories(dir.resolve("tmp"));
            Files.createDirectories(dir.resolve("root"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
