package skiff.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real Debian {@code docker-registry} (distribution 2.8) on 127.0.0.1 with a free port, its own config
 * and storage: plain, with htpasswd Basic auth, or with token auth against a {@link RegistryTokenIssuer}.
 */
public final class RegistryFixture implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path dir;
    private final String user;
    private final String password;

    private RegistryFixture(Process process, int port, Path dir, String user, String password) {
        this.process = process;
        this.port = port;
        this.dir = dir;
        this.user = user;
        this.password = password;
    }

    public static RegistryFixture plain(Path dir) {
        return start(dir, "", null, null);
    }

    /** Basic auth with one user, through an htpasswd file made by {@code htpasswd -Bbn}. */
    public static RegistryFixture htpasswd(Path dir, String user, String password) {
        try {
            Files.createDirectories(dir);
            var r = Cmd.of("htpasswd", "-Bbn", user, password).run().ok();
            Path file = dir.resolve("htpasswd");
            Files.writeString(file, r.out());
            return start(dir, "auth:\n  htpasswd:\n    realm: skiff-test\n    path: " + file + "\n", user, password);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Token auth: the registry trusts tokens that {@code issuer} signs. */
    public static RegistryFixture token(Path dir, RegistryTokenIssuer issuer, String user, String password) {
        return start(dir, "auth:\n  token:\n    realm: " + issuer.realm() + "\n    service: " + RegistryTokenIssuer.SERVICE
                + "\n    issuer: " + RegistryTokenIssuer.ISSUER + "\n    rootcertbundle: " + issuer.certificate() + "\n", user, password);
    }

    private static RegistryFixture start(Path dir, String auth, String user, String password) {
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            try {
                Files.createDirectories(dir.resolve("data"));
                int port = freePort();
                Path cfg = dir.resolve("config.yml");
                Files.writeString(cfg, """
                        version: 0.1
                        log:
                          level: error
                          accesslog:
                            disabled: true
                        storage:
                          filesystem:
                            rootdirectory: %s
                          delete:
                            enabled: true
                        http:
                          addr: 127.0.0.1:%d
                          secret: skiff-test-secret
                        %s""".formatted(dir.resolve("data"), port, auth));
                Process p = new ProcessBuilder("/usr/bin/docker-registry", "serve", cfg.toString())
                        .redirectErrorStream(true)
                        .redirectOutput(dir.resolve("registry.log").toFile())
                        .start();
                RegistryFixture f = new RegistryFixture(p, port, dir, user, password);
                if (f.awaitReady()) return f;
                p.destroyForcibly();
                p.waitFor();
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        String log = "";
        try {
            log = Files.readString(dir.resolve("registry.log"));
        } catch (IOException ignored) {
            // no log
        }
        throw new IllegalStateException("docker-registry did not start: " + log, last);
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private boolean awaitReady() throws InterruptedException {
        try (HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            long end = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (System.nanoTime() < end) {
                if (!process.isAlive()) return false;
                try {
                    int s = c.send(HttpRequest.newBuilder(URI.create("http://" + host() + "/v2/")).timeout(Duration.ofSeconds(2)).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode();
                    if (s == 200 || s == 401) return true;
                } catch (IOException e) {
                    // not listening yet
                }
                Thread.sleep(50);
            }
        }
        return false;
    }

    /** 127.0.0.1:PORT */
    public String host() {
        return "127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    public Path dir() {
        return dir;
    }

    /** Pushes {@code source} (a skopeo reference such as {@code oci:DIR:tag}) to REPO:TAG here. */
    public void push(String source, String repoTag, String... skopeoArgs) {
        List<String> a = new ArrayList<>(List.of("skopeo", "copy", "--quiet", "--dest-tls-verify=false"));
        if (user != null) a.addAll(List.of("--dest-creds", user + ":" + password));
        a.addAll(List.of(skopeoArgs));
        a.add(source);
        a.add("docker://" + host() + "/" + repoTag);
        Cmd.of(a).run().ok();
    }

    /** PUTs a manifest or index (e.g. a multi-platform index made by the test). Plain registries only. */
    public void putManifest(String repo, String reference, String mediaType, byte[] body) {
        try (HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            var resp = c.send(HttpRequest.newBuilder(URI.create("http://" + host() + "/v2/" + repo + "/manifests/" + reference))
                    .header("Content-Type", mediaType).PUT(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (resp.statusCode() != 201) throw new IllegalStateException("PUT manifest: " + resp.statusCode() + " " + resp.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
