package skiff.cli;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import skiff.engine.Engine;
import skiff.engine.SharedMount;
import skiff.image.Digest;
import skiff.store.Gc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training run ci/aot.sh records the AOT cache from (JEP 483/514): the commands people start most,
 * each through {@link Main#run}, against a throw-away store holding one small image loaded from a
 * docker-archive made here, so the run needs no registry and no external tools. Classes these paths
 * load and link come from the cache at every later start. Not a user command.
 */
public final class AotTraining {
    private AotTraining() {}

    public static void main(String[] args) throws Exception {
        // bench/startup.sh fills its store from the same small archive.
        if (args.length == 2 && args[0].equals("--write-archive")) {
            archive(Path.of(args[1]));
            return;
        }
        // --run-only STORAGE: the cache bin/skiff uses for 'skiff run' alone, recorded against a store that ci/aot.sh
        // filled (and converted) beforehand in other JVMs. With AOT class linking every cached class is loaded at
        // start, so the general cache, which also holds the other commands' classes (Jackson among them), costs
        // each run ~1 600 classes it never uses.
        if (args.length == 2 && args[0].equals("--run-only")) {
            Path dir = Files.createTempDirectory("skiff-aot-run-");
            try {
                runs(args[1], dir);
            } finally {
                skiff.util.FileTrees.delete(dir);
            }
            return;
        }
        Path dir = Files.createTempDirectory("skiff-aot-");
        try {
            String st = dir.resolve("storage").toString();
            Path archive = archive(dir.resolve("image.tar"));
            Path saved = dir.resolve("saved.tar");
            String[][] first = {
                    {"--version"},
                    {"--help"},
                    {"--storage", st, "images"},
                    {"--storage", st, "load", "-i", archive.toString()},
            };
            String[][] then = {
                    {"--storage", st, "images"},
                    {"--storage", st, "images", "--digests"},
                    {"--storage", st, "images", "--format", "json"},
                    {"--storage", st, "images", "-q"},
                    {"--storage", st, "inspect", "training:1"},
                    {"--storage", st, "tag", "training:1", "training:2"},
                    {"--storage", st, "save", "-o", saved.toString(), "training:2"},
                    {"--storage", st, "rmi", "training:2"},
                    {"--storage", st, "inspect", "nosuch"},
                    // (not in runs(): its fallback loads Jackson, which the run cache is better without)
                    {"--storage", st, "run", "--rootfs-format", "dir", "nosuch:1", "/bin/true"},
                    {"--storage", st, "images", "--bogus"},
                    {"--storage", st, "rmi", "training:1"},
                    {"--storage", st, "prune"},
                    {"--storage", st, "load", "-i", saved.toString()},
                    {"--storage", st, "images"},
                    {"run", "--help"},
                    {"pull", "--help"},
                    {"completion"},
            };
            pulls(st);
            for (String[] r : first) Main.run(r);
            runs(st, dir);
            for (String[] r : then) Main.run(r);
            // the squashfs path's classes (linking them does not mount anything)
            Class.forName(SharedMount.class.getName(), true, AotTraining.class.getClassLoader());
        } finally {
            skiff.util.FileTrees.delete(dir);
        }
    }

    /** Where training aims skiff run's execve: a path that cannot exist, so the exec fails and this JVM stays. */
    static final Path NOWHERE = Path.of("/nonexistent/skiff-aot-training");

    /**
     * skiff run up to and through its execve: store, policy, spec, launch plan, FFM downcalls. Directory rootfs: no
     * squashfuse mount to leave behind. {@code scratch} is a directory to bind.
     */
    private static void runs(String st, Path scratch) {
        String[][] runs = {
                {"--storage", st, "run", "--rootfs-format", "dir", "training:1", "/bin/true"},
                {"--storage", st, "run", "--rootfs-format", "dir", "-e", "A=b", "-e", "HOME", "-w", "/etc",
                        "-v", scratch + ":/data:ro", "--writable-tmpfs", "--no-home", "training:1", "/bin/sh", "-c", "true"},
                {"--storage", st, "run", "--rootfs-format", "dir", "--fakeroot", "--pid", "training:1"},
                // an MPI rank's options (the join itself is not trained: it would start a holder)
                {"--storage", st, "run", "--rootfs-format", "dir", "--join", "training", "--join-size", "2", "training:1", "/bin/true"},
        };
        for (String[] r : runs) rehearse(r);
    }

    /**
     * skiff run's command line as a user's run goes (the fast path's parse, {@link RunCommand#prepare}), then the
     * engine's exec step aimed at {@link #NOWHERE} instead of {@link Engine#start}. Returns the exit status a user
     * would see up to that point (0 when everything before the exec went through).
     */
    static int rehearse(String... args) {
        RunCommand cmd = RunFastPath.parse(args);
        if (cmd == null) throw new IllegalArgumentException("not a command line skiff run's fast path takes: " + String.join(" ", args));
        try {
            Engine.rehearse(cmd.prepare().launch(), NOWHERE);
            return 0;
        } catch (Exception e) {
            return Main.handle(e, cmd.main.debug, new java.io.PrintWriter(System.err, true));
        }
    }

    /**
     * skiff pull, cold and up to date, from a minimal registry served in this JVM on 127.0.0.1 (plain HTTP, as for
     * any loopback registry): the HTTP transport, the registry client and the puller come from the cache too.
     */
    private static void pulls(String st) throws IOException {
        byte[] layer = "training layer\n".getBytes(StandardCharsets.UTF_8);
        Digest layerDigest = Digest.sha256(layer);
        byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + layerDigest + "\"]}}").getBytes(StandardCharsets.UTF_8);
        Digest configDigest = Digest.sha256(config);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + configDigest
                + "\",\"size\":" + config.length + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                + "\"digest\":\"" + layerDigest + "\",\"size\":" + layer.length + "}]}").getBytes(StandardCharsets.UTF_8);
        Digest manifestDigest = Digest.sha256(manifest);
        java.util.Map<String, byte[]> blobs = java.util.Map.of(layerDigest.toString(), layer, configDigest.toString(), config);
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/v2/", ex -> {
            String path = ex.getRequestURI().getPath();
            byte[] body = new byte[0];
            int status = 200;
            if (path.contains("/manifests/")) {
                body = manifest;
                ex.getResponseHeaders().set("Content-Type", "application/vnd.oci.image.manifest.v1+json");
                ex.getResponseHeaders().set("Docker-Content-Digest", manifestDigest.toString());
            } else if (path.contains("/blobs/")) {
                body = blobs.get(path.substring(path.lastIndexOf('/') + 1));
                if (body == null) {
                    body = new byte[0];
                    status = 404;
                }
            }
            boolean head = ex.getRequestMethod().equals("HEAD");
            ex.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
            if (!head) ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        try {
            String ref = "127.0.0.1:" + server.getAddress().getPort() + "/training/pulled:1";
            Main.run("--storage", st, "pull", "-q", "--convert", "none", ref);
            Main.run("--storage", st, "pull", "-q", "--convert", "none", ref);
            Main.run("--storage", st, "rmi", ref);
        } finally {
            server.stop(0);
        }
    }

    /** A docker-archive with one image "training:1" of one uncompressed layer. */
    private static Path archive(Path file) throws IOException {
        ByteArrayOutputStream layer = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(layer)) {
            byte[] hello = "hello\n".getBytes(StandardCharsets.UTF_8);
            TarArchiveEntry e = new TarArchiveEntry("etc/hello");
            e.setSize(hello.length);
            t.putArchiveEntry(e);
            t.write(hello);
            t.closeArchiveEntry();
        }
        byte[] layerBytes = layer.toByteArray();
        Digest diffId = Digest.sha256(layerBytes);
        byte[] config = ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + diffId + "\"]}}").getBytes(StandardCharsets.UTF_8);
        Digest cfg = Digest.sha256(config);
        byte[] manifest = ("[{\"Config\":\"" + cfg.hex() + ".json\",\"RepoTags\":[\"training:1\"],\"Layers\":[\"" + diffId.hex() + "/layer.tar\"]}]")
                .getBytes(StandardCharsets.UTF_8);
        try (OutputStream o = Files.newOutputStream(file); TarArchiveOutputStream t = new TarArchiveOutputStream(o)) {
            put(t, "manifest.json", manifest);
            put(t, cfg.hex() + ".json", config);
            put(t, diffId.hex() + "/layer.tar", layerBytes);
        }
        return file;
    }

    private static void put(TarArchiveOutputStream t, String name, byte[] data) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(data.length);
        t.putArchiveEntry(e);
        t.write(data);
        t.closeArchiveEntry();
    }
}
