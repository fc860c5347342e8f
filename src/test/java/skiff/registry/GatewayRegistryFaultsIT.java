package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.gateway.GatewayFixture;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gateway in front of a registry that answers 429 and 5xx, stalls mid-blob, or is down (FaultProxy): retries
 * with backoff then READY, or FAILED with the registry's reason; never a request stuck forever.
 */
class GatewayRegistryFaultsIT {
    static Path work;
    static RegistryFixture registry;
    static FaultProxy proxy;
    static GatewayFixture gw;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("skiff-gatewayregfaults");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry = RegistryFixture.plain(work.resolve("registry"));
        proxy = new FaultProxy(registry.host());
        registry.push(RegistryTestSupport.randomImage(work.resolve("a"), "latest", 2, 400_000, 51).skopeoRef(), "test/flaky:1");
        registry.push(RegistryTestSupport.randomImage(work.resolve("b"), "latest", 1, 400_000, 52).skopeoRef(), "test/broken:1");
        gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) gw.close();
        if (proxy != null) proxy.close();
        if (registry != null) registry.close();
    }

    @Test
    void a429AFiveHundredAndAStalledBlobAreRetriedToReady() throws Exception {
        proxy.once("GET", "/manifests/", new FaultProxy.Status(429, Map.of("Retry-After", "1")));
        proxy.once("GET", "/blobs/", new FaultProxy.Status(500, Map.of()));
        proxy.once("GET", "/blobs/", new FaultProxy.Stall(100_000, 300));
        JsonNode r = gw.await(gw.pull(proxy.host() + "/test/flaky:1").json().get("id").asText());
        assertEquals("READY", r.get("state").asText(), r.toString());
        assertTrue(proxy.seen("GET", "/manifests/").size() >= 2, "the manifest was asked again after 429");
    }

    @Test
    void aRegistryThatKeepsFailingEndsFailedWithItsReason() throws Exception {
        proxy.always("GET", "/test/broken/manifests/", new FaultProxy.Status(503, Map.of()));
        long t0 = System.nanoTime();
        JsonNode r = gw.await(gw.pull(proxy.host() + "/test/broken:1").json().get("id").asText());
        assertEquals("FAILED", r.get("state").asText(), r.toString());
        assertEquals("registry_error", r.get("reason").get("code").asText(), r.toString());
        assertTrue(r.get("reason").get("message").asText().contains("503"), r.toString());
        assertTrue(proxy.seen("GET", "/test/broken/manifests/").size() >= 3, "retried: " + proxy.seen("GET", "/test/broken/manifests/"));
        assertTrue(System.nanoTime() - t0 > 1_000_000_000L, "with backoff between the tries");
    }

    @Test
    void aRegistryThatIsDownEndsFailedAndSaysSo() throws Exception {
        String down = "127.0.0.1:" + RegistryFixture.freePort();
        JsonNode r = gw.await(gw.pull(down + "/test/any:1").json().get("id").asText());
        assertEquals("FAILED", r.get("state").asText(), r.toString());
        assertEquals("registry_error", r.get("reason").get("code").asText(), r.toString());
        assertTrue(r.get("reason").get("message").asText().contains(down), r.toString());
    }
}
