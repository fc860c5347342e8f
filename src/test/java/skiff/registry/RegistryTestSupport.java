package skiff.registry;

import skiff.image.Digest;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Helpers shared by the registry ITs: fixture images, store checks, and skiff runs with an isolated home. */
final class RegistryTestSupport {
    private RegistryTestSupport() {}

    /** An image of {@code layers} layers, each one file of {@code bytes} random (incompressible) bytes. */
    static ImageBuilder randomImage(Path work, String tag, int layers, int bytes, long seed) {
        ImageBuilder b = ImageBuilder.create(work, tag);
        Random r = new Random(seed);
        try {
            for (int i = 0; i < layers; i++) {
                Path d = Files.createDirectories(work.resolve("tree-" + tag + "-" + i));
                byte[] data = new byte[bytes];
                r.nextBytes(data);
                Files.write(d.resolve("file" + i), data);
                b.layerFromDir(d);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b.config("--config.cmd", "/bin/sh");
    }

    /** skiff with the storage and a private HOME (so no real ~/.config or ~/.docker is read). */
    static Cmd skiff(Path storage, Path home, String... args) {
        return Cmd.skiff(storage, args).env("HOME", home.toString()).env("XDG_CONFIG_HOME", home.resolve(".config").toString());
    }

    /** Every blob in the store's layout hashes to its name. Returns how many there are. */
    static int assertBlobsVerify(Path storage) throws IOException {
        Path dir = storage.resolve("oci/blobs/sha256");
        if (!Files.isDirectory(dir)) return 0;
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.toList();
        }
        for (Path f : files) {
            assertTrue(!f.getFileName().toString().startsWith(".tmp"), "leftover temp file in blobs: " + f);
            assertEquals(f.getFileName().toString(), sha256(f), "blob " + f + " does not match its name");
        }
        return files.size();
    }

    static String sha256(Path f) throws IOException {
        MessageDigest md = Digest.newSha256();
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** skopeo (independent of skiff) reads the image from the store's layout, config included. */
    static String skopeoInspect(Path storage, String name) {
        return Cmd.of("skopeo", "inspect", "oci:" + storage.resolve("oci") + ":" + name).run().ok().out();
    }

    /** GETs a manifest from a plain registry; returns its bytes. */
    static byte[] getManifest(String host, String repo, String ref, String accept) {
        try (HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            var resp = c.send(HttpRequest.newBuilder(URI.create("http://" + host + "/v2/" + repo + "/manifests/" + ref))
                    .header("Accept", accept).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, resp.statusCode(), new String(resp.body()));
            return resp.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static List<String> lines(String s) {
        return new ArrayList<>(s.lines().toList());
    }
}
