package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** skiff gateway serve against a real docker-registry on loopback: lifecycle, joining, sharing, publishing, errors. */
class GatewayIT {
    static Path work;
    static RegistryFixture registry;
    static GatewayFixture gw;

    /** An image of {@code layers} layers, each one file of {@code bytes} random bytes. */
    static ImageBuilder randomImage(Path dir, String tag, int layers, int bytes, long seed) throws IOException {
        ImageBuilder b = ImageBuilder.create(dir, tag);
        Random r = new Random(seed);
        for (int i = 0; i < layers; i++) {
            Path d = Files.createDirectories(dir.resolve("tree-" + tag + "-" + i));
            byte[] data = new byte[bytes];
            r.nextBytes(data);
            Files.write(d.resolve("file" + i), data);
            b.layerFromDir(d);
        }
        return b.config("--config.cmd", "/bin/sh");
    }

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("skiff-gatewayit");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry = RegistryFixture.plain(work.resolve("registry"));
        ImageBuilder a = randomImage(work.resolve("a"), "latest", 2, 100_000, 1);
        registry.push(a.skopeoRef(), "test/a:1");
        registry.push(a.skopeoRef(), "test/a:2");
        ImageBuilder b = randomImage(work.resolve("b"), "latest", 1, 50_000, 2);
        registry.push(b.skopeoRef(), "test/b:1");
        registry.push(b.skopeoRef(), "test/del:1");
        gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) gw.close();
        if (registry != null) registry.close();
    }

    String ref(String repoTag) {
        return registry.host() + "/" + repoTag;
    }

    static String index() throws IOException {
        return Files.readString(gw.shared.resolve("images/index.tsv"));
    }

    @Test
    void hundredConcurrentRequestsMakeOnePullOneConversionAndHundredReadyAnswers() throws Exception {
        long pulls = gw.metric("skiff_gateway_pulls_total"), conversions = gw.metric("skiff_gateway_conversions_total");
        List<Callable<JsonNode>> calls = new ArrayList<>();
        for (int i = 0; i < 100; i++) calls.add(() -> {
            GatewayFixture.Reply r = gw.pull(ref("test/b:1"));
            assertTrue(r.status() == 202 || r.status() == 200, r.toString());
            return gw.await(r.json().get("id").asText());
        });
        Set<String> digests = new HashSet<>();
        try (ExecutorService ex = Executors.newFixedThreadPool(100)) {
            for (Future<JsonNode> f : ex.invokeAll(calls)) {
                JsonNode r = f.get();
                assertEquals("READY", r.get("state").asText(), r.toString());
                digests.add(r.get("digest").asText());
            }
        }
        assertEquals(1, digests.size(), digests.toString());
        assertEquals(pulls + 1, gw.metric("skiff_gateway_pulls_total"), "one pull");
        assertEquals(conversions + 1, gw.metric("skiff_gateway_conversions_total"), "one conversion");

        // Published: the SquashFS (readable by everyone, a real SquashFS), its config, its metadata, the index line.
        String digest = digests.iterator().next();
        Path sqfs = gw.shared.resolve("images/" + digest.replace(':', '-') + ".sqfs");
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(sqfs)));
        assertTrue(Cmd.of("unsquashfs", "-l", sqfs.toString()).run().ok().out().contains("file0"));
        assertTrue(Files.readString(gw.shared.resolve("images/" + digest.replace(':', '-') + ".config.json")).contains("\"rootfs\""));
        assertTrue(index().lines().anyMatch(l -> l.equals(ref("test/b:1") + "\tlinux/amd64\t" + digest)), index());

        JsonNode found = gw.get("/api/v1/images/lookup?name=" + ref("test/b:1")).json();
        assertEquals(digest, found.get("digest").asText());
        assertEquals(sqfs.toString(), found.get("path").asText());
        assertTrue(gw.get("/api/v1/images").json().get("images").toString().contains(digest));
        String id = gw.pull(ref("test/b:1")).json().get("id").asText();
        assertTrue(gw.get("/api/v1/pulls/" + id + "/log").body().contains("already published"));
    }

    @Test
    void twoTagsOfOneImageShareOneFileAndTheLogTellsTheStates() throws Exception {
        JsonNode one = gw.await(gw.pull(ref("test/a:1")).json().get("id").asText());
        assertEquals("READY", one.get("state").asText(), one.toString());
        long conversions = gw.metric("skiff_gateway_conversions_total");
        JsonNode two = gw.await(gw.pull(ref("test/a:2")).json().get("id").asText());
        assertEquals("READY", two.get("state").asText());
        assertEquals(one.get("digest"), two.get("digest"));
        assertEquals(conversions, gw.metric("skiff_gateway_conversions_total"), "the second tag converts nothing");
        JsonNode img = gw.get("/api/v1/images/" + one.get("digest").asText()).json();
        assertEquals(2, img.get("names").size(), img.toString());
        String log = gw.get("/api/v1/pulls/" + one.get("id").asText() + "/log").body();
        int pulling = log.indexOf("pulling"), converting = log.indexOf("converting"), publishing = log.indexOf("publishing"),
                ready = log.indexOf("READY");
        assertTrue(0 <= pulling && pulling < converting && converting < publishing && publishing < ready, log);
        assertTrue(log.matches("(?s).*converted: [1-9]\\d* entries, \\d+ bytes.*"), log);
        assertTrue(gw.get("/api/v1/pulls/" + two.get("id").asText() + "/log").body().contains("already published by an earlier request"));
    }

    @Test
    void aPullByDigestSharesTheFileOfItsTagAndIsNeverResolvedAgain() throws Exception {
        JsonNode byTag = gw.await(gw.pull(ref("test/a:1")).json().get("id").asText());
        String digest = byTag.get("digest").asText();
        long conversions = gw.metric("skiff_gateway_conversions_total");
        String pinned = registry.host() + "/test/a@" + digest;
        JsonNode byDigest = gw.await(gw.pull(pinned).json().get("id").asText());
        assertEquals("READY", byDigest.get("state").asText(), byDigest.toString());
        assertEquals(digest, byDigest.get("digest").asText());
        assertEquals(conversions, gw.metric("skiff_gateway_conversions_total"));
        assertTrue(index().contains(pinned + "\tlinux/amd64\t" + digest), index());
        assertEquals(200, gw.pull(pinned).status(), "published: answered at once");
    }

    @Test
    void deletingRemovesTheFileAndTheName() throws Exception {
        JsonNode r = gw.await(gw.pull(ref("test/del:1")).json().get("id").asText());
        String digest = r.get("digest").asText();
        // test/del:1 is test/b:1's image: make sure it is published, then delete it by digest.
        GatewayFixture.Reply del = gw.call("DELETE", "/api/v1/images/" + digest, null);
        assertEquals(200, del.status(), del.body());
        assertFalse(Files.exists(gw.shared.resolve("images/" + digest.replace(':', '-') + ".sqfs")));
        assertFalse(index().contains(digest), index());
        GatewayFixture.Reply gone = gw.get("/api/v1/images/lookup?name=" + ref("test/del:1"));
        assertEquals(404, gone.status());
        assertEquals("not_found", gone.json().get("code").asText());
        assertEquals(404, gw.call("DELETE", "/api/v1/images/" + digest, null).status());
    }

    @Test
    void errorsAreJsonWithAStableCodeAndTheirOwnStatus() {
        record Case(String method, String path, String body, int status, String code) {}
        List<Case> cases = List.of(
                new Case("POST", "/api/v1/pulls", "{\"reference\":\"UPPER/Case:1\"}", 400, "bad_reference"),
                new Case("POST", "/api/v1/pulls", "{\"reference\":\"a b\"}", 400, "bad_reference"),
                new Case("POST", "/api/v1/pulls", "{\"reference\":\"../../etc/passwd\"}", 400, "bad_reference"),
                new Case("POST", "/api/v1/pulls", "{\"reference\":\"" + "x".repeat(600) + "\"}", 400, "bad_reference"),
                new Case("POST", "/api/v1/pulls", "{}", 400, "bad_reference"),
                new Case("POST", "/api/v1/pulls", "not json", 400, "bad_request"),
                new Case("POST", "/api/v1/pulls", "{\"reference\":\"alpine\",\"platform\":\"nope\"}", 400, "bad_platform"),
                new Case("GET", "/api/v1/pulls/nosuchid", null, 404, "not_found"),
                new Case("GET", "/api/v1/images/sha256:" + "0".repeat(64), null, 404, "not_found"),
                new Case("DELETE", "/api/v1/images/notadigest", null, 400, "bad_digest"),
                new Case("GET", "/api/v1/images/lookup?name=never/pulled:1", null, 404, "not_found"),
                new Case("PUT", "/api/v1/pulls", "{}", 405, "method_not_allowed"),
                new Case("GET", "/api/v1/nothing", null, 404, "not_found"));
        for (Case c : cases) {
            GatewayFixture.Reply r = gw.call(c.method(), c.path(), c.body());
            assertEquals(c.status(), r.status(), c + " → " + r);
            JsonNode j = r.json();
            assertEquals(c.code(), j.get("code").asText(), c + " → " + r);
            assertFalse(j.get("message").asText().isBlank());
            assertEquals(2, j.size(), "only code and message: " + r);
        }
    }

    @Test
    void anImageTheRegistryDoesNotHaveFailsWithTheRegistrysReason() throws Exception {
        JsonNode r = gw.await(gw.pull(ref("test/missing:1")).json().get("id").asText());
        assertEquals("FAILED", r.get("state").asText());
        assertEquals("image_error", r.get("reason").get("code").asText(), r.toString());
        assertTrue(r.get("reason").get("message").asText().contains("test/missing"), r.toString());
    }

    @Test
    void healthMetricsAndTheOpenApiDocumentAreServed() {
        assertEquals("ok", gw.get("/api/v1/health").json().get("status").asText());
        String m = gw.get("/api/v1/metrics").body();
        assertTrue(m.contains("# TYPE skiff_gateway_requests_total counter"), m);
        assertTrue(gw.get("/api/v1/openapi.json").json().get("paths").has("/api/v1/pulls"));
    }

    static List<Path> temporaries(Path images) {
        try (Stream<Path> s = Files.list(images)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
