package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two gateway instances on one PostgreSQL database and one shared directory: duplicate requests sent to both make
 * one pull, and the requests of an instance killed mid-conversion are taken over by the other.
 */
class GatewayMultiIT {
    @Test
    void twoInstancesShareTheWorkAndTakeOverFromAStoppedOne() throws Exception {
        Path work = Files.createTempDirectory("skiff-gatewaymulti");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (RegistryFixture registry = RegistryFixture.plain(work.resolve("registry"));
             PostgresFixture pg = PostgresFixture.start(work)) {
            registry.push(GatewayIT.randomImage(work.resolve("s"), "latest", 1, 300_000, 71).skopeoRef(), "test/shared:1");
            registry.push(GatewayIT.randomImage(work.resolve("big"), "latest", 3, 16 << 20, 72).skopeoRef(), "test/big:1");
            Path config = work.resolve("gateway.toml");
            Files.writeString(config, "shared = \"" + work.resolve("shared") + "\"\ndatabase = \"" + pg.url()
                    + "\"\ndatabase_user = \"skiff\"\ninstance_timeout_s = 3\n");
            GatewayFixture a = GatewayFixture.start(work.resolve("shared"), work.resolve("home-a"), "--config", config.toString());
            try (GatewayFixture b = GatewayFixture.start(work.resolve("shared"), work.resolve("home-b"), "--config", config.toString())) {
                String ref = registry.host() + "/test/shared:1";
                List<Callable<JsonNode>> calls = new ArrayList<>();
                for (int i = 0; i < 40; i++) {
                    GatewayFixture g = i % 2 == 0 ? a : b;
                    calls.add(() -> {
                        String id = g.pull(ref).json().get("id").asText();
                        // A request another instance works on is polled from the shared database.
                        return g.await(id);
                    });
                }
                Set<String> digests = new HashSet<>();
                try (ExecutorService ex = Executors.newFixedThreadPool(40)) {
                    for (Future<JsonNode> f : ex.invokeAll(calls)) {
                        assertEquals("READY", f.get().get("state").asText(), f.get().toString());
                        digests.add(f.get().get("digest").asText());
                    }
                }
                assertEquals(1, digests.size());
                assertEquals(1, a.metric("skiff_gateway_pulls_total") + b.metric("skiff_gateway_pulls_total"), "one pull in all");

                // a is killed while converting; b takes its request over once a's heartbeat is 3 s old.
                String id = a.pull(registry.host() + "/test/big:1").json().get("id").asText();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                String state = "";
                while (!state.equals("CONVERTING") && System.nanoTime() < end) {
                    state = a.get("/api/v1/pulls/" + id).json().get("state").asText();
                    Thread.sleep(5);
                }
                assertEquals("CONVERTING", state);
                a.kill();
                JsonNode r = b.await(id);
                assertEquals("READY", r.get("state").asText(), r.toString());
                assertTrue(b.get("/api/v1/pulls/" + id + "/log").body().contains("taken over from a gateway instance that stopped"));
                assertTrue(Files.readString(work.resolve("shared/images/index.tsv")).contains(r.get("digest").asText()));
            } finally {
                a.close();
            }
        }
    }
}
