package skiff.registry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.image.Descriptor;
import skiff.image.Digest;
import skiff.image.MediaTypes;
import skiff.util.ExitCode;
import skiff.util.SkiffException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol edges that a well-behaved docker-registry never produces, played by an in-process server:
 * a token the registry stops accepting, an oversized manifest, a blob longer than its descriptor, a
 * redirect to another host (credentials must not follow).
 */
class RegistryClientTest {
    HttpServer server;
    String base;
    final List<String> log = new CopyOnWriteArrayList<>();
    final AtomicInteger tokens = new AtomicInteger();
    volatile int expiresIn = 300;
    volatile boolean revokeT1 = true;
    byte[] blob;
    Digest blobDigest;

    @TempDir
    Path tmp;

    @BeforeEach
    void start() throws IOException {
        blob = new byte[100_000];
        new Random(1).nextBytes(blob);
        blobDigest = Digest.sha256(blob);
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        base = "http://127.0.0.1:" + server.getAddress().getPort();
        server.createContext("/", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            log.add(ex.getRequestMethod() + " " + path + " " + auth);
            if (path.equals("/token")) {
                byte[] b = ("{\"token\":\"t" + tokens.incrementAndGet() + "\",\"expires_in\":" + expiresIn + "}").getBytes();
                ex.sendResponseHeaders(200, b.length);
                ex.getResponseBody().write(b);
                return;
            }
            if (path.startsWith("/other/")) {
                ex.sendResponseHeaders(200, blob.length);
                ex.getResponseBody().write(blob);
                return;
            }
            // Token t1 is "revoked" after its first use: the client must fetch a new one and go on.
            boolean ok = "Bearer t2".equals(auth) || "Bearer t3".equals(auth)
                    || ("Bearer t1".equals(auth) && (!revokeT1 || log.stream().filter(l -> l.endsWith("Bearer t1")).count() == 1));
            if (!ok) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"" + base + "/token\",service=\"fake\"");
                ex.sendResponseHeaders(401, -1);
                return;
            }
            if (path.endsWith("/manifests/huge")) {
                ex.sendResponseHeaders(200, 0);
                byte[] chunk = new byte[1 << 20];
                for (int i = 0; i < 9; i++) ex.getResponseBody().write(chunk);
                return;
            }
            if (path.startsWith("/v2/redir/") && path.contains("/blobs/")) {
                ex.getResponseHeaders().set("Location", "http://localhost:" + server.getAddress().getPort() + "/other/blob");
                ex.sendResponseHeaders(307, -1);
                return;
            }
            if (path.contains("/blobs/")) {
                byte[] body = path.startsWith("/v2/long/") ? java.util.Arrays.copyOf(blob, blob.length + 10) : blob;
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                return;
            }
            ex.sendResponseHeaders(404, -1);
        }
    }

    RegistryClient client() {
        return new RegistryClient("127.0.0.1", List.of(URI.create(base)), null, null,
                new RegistryClient.RetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(50)));
    }

    @Test
    void aRejectedTokenIsReplacedAndCachedOtherwise() throws Exception {
        try (var c = client()) {
            Path a = tmp.resolve("a");
            c.downloadBlob("r", Descriptor.of(MediaTypes.OCI_LAYER_GZIP, blobDigest, blob.length), a, n -> { });
            Path b = tmp.resolve("b");
            c.downloadBlob("r", Descriptor.of(MediaTypes.OCI_LAYER_GZIP, blobDigest, blob.length), b, n -> { });
            assertArrayEquals(blob, Files.readAllBytes(b));
            Path d = tmp.resolve("d");
            c.downloadBlob("r", Descriptor.of(MediaTypes.OCI_LAYER_GZIP, blobDigest, blob.length), d, n -> { });
        }
        // t1 was used once, then refused once; t2 fetched on that 401 and reused after.
        assertEquals(2, tokens.get(), log.toString());
    }

    @Test
    void anExpiredTokenIsReplacedBeforeUse() throws Exception {
        expiresIn = 1;
        revokeT1 = false;
        Descriptor d = Descriptor.of(MediaTypes.OCI_LAYER_GZIP, blobDigest, blob.length);
        try (var c = client()) {
            c.downloadBlob("r", d, tmp.resolve("a"), n -> { });
            Thread.sleep(1200);
            c.downloadBlob("r", d, tmp.resolve("b"), n -> { });
        }
        assertEquals(2, tokens.get(), log.toString());
        // The second blob went straight out with the new token: no request with the expired one.
        assertEquals(1, log.stream().filter(l -> l.contains("/blobs/") && l.endsWith("Bearer t1")).count(), log.toString());
        assertTrue(log.getLast().endsWith("Bearer t2"), log.toString());
    }

    @Test
    void aManifestOverTheLimitIsRefused() {
        try (var c = client()) {
            var e = assertThrows(SkiffException.class, () -> c.getManifest("r", "huge"));
            assertEquals(ExitCode.REGISTRY, e.exitCode());
            assertTrue(e.getMessage().contains("limit"), e.getMessage());
        }
    }

    @Test
    void aBlobLongerThanItsDescriptorIsCutOffAndRefused() throws Exception {
        // The fake answers repository "long" with the blob plus 10 bytes.
        try (var c = client()) {
            Path p = tmp.resolve("p");
            Descriptor d = Descriptor.of(MediaTypes.OCI_LAYER_GZIP, blobDigest, blob.length);
            var e = assertThrows(SkiffException.class, () -> c.downloadBlob("long", d, p, n -> { }));
            assertEquals(ExitCode.REGISTRY, e.exitCode());
            assertTrue(e.getMessage().contains("bigger than"), e.getMessage());
            assertTrue(Files.size(p) <= blob.length, "never more than descriptor.size on disk");
        }
    }

    @Test
    void credentialsDoNotFollowARedirectToAnotherHost() throws Exception {
        try (var c = client()) {
            Path p = tmp.resolve("p");
            // The fake redirects repository "redir" to localhost (another host name than 127.0.0.1).
            c.downloadBlob("redir", Descriptor.of(MediaTypes.OCI_LAYER_GZIP, blobDigest, blob.length), p, n -> { });
        }
        assertTrue(log.stream().anyMatch(l -> l.startsWith("GET /v2/redir/") && l.endsWith("Bearer t1")), log.toString());
        assertTrue(log.stream().anyMatch(l -> l.equals("GET /other/blob null")), "no Authorization after the redirect: " + log);
    }
}
