package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The gateway on a real PostgreSQL: the same migrations, and 503 while the database is down, recovering after. */
class GatewayPostgresIT {
    @Test
    void postgresStateAnd503WhileTheDatabaseIsDown() throws Exception {
        Path work = Files.createTempDirectory("skiff-gatewaypg");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (RegistryFixture registry = RegistryFixture.plain(work.resolve("registry"));
             PostgresFixture pg = PostgresFixture.start(work)) {
            ImageBuilder a = GatewayIT.randomImage(work.resolve("a"), "latest", 1, 50_000, 3);
            registry.push(a.skopeoRef(), "test/pg:1");
            String ref = registry.host() + "/test/pg:1";
            Path config = work.resolve("gateway.toml");
            Files.writeString(config, "shared = \"" + work.resolve("shared") + "\"\ndatabase = \"" + pg.url()
                    + "\"\ndatabase_user = \"skiff\"\n");
            try (GatewayFixture gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"), "--config", config.toString())) {
                JsonNode r = gw.await(gw.pull(ref).json().get("id").asText());
                assertEquals("READY", r.get("state").asText(), r.toString());
                assertEquals(200, gw.get("/api/v1/images/lookup?name=" + ref).status());

                pg.stopServer();
                Thread.sleep(GatewayService.LOOKUP_TTL_MS + 200); // past the lookup cache, which answers for a second
                GatewayFixture.Reply down = gw.get("/api/v1/images/lookup?name=" + ref);
                assertEquals(503, down.status(), down.body());
                assertEquals("database_unavailable", down.json().get("code").asText());
                assertTrue(down.json().get("message").asText().contains("retry later"), down.body());
                assertEquals(503, gw.get("/api/v1/health").status());
                assertEquals(503, gw.pull(ref).status());

                pg.startServer();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (gw.get("/api/v1/health").status() != 200 && System.nanoTime() < end) Thread.sleep(200);
                assertEquals(200, gw.get("/api/v1/health").status());
                assertEquals(r.get("digest"), gw.get("/api/v1/images/lookup?name=" + ref).json().get("digest"));
            }
        }
    }
}
