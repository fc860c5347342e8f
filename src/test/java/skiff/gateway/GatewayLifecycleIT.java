package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tags resolved again after tag_max_age_s, the per-user limit (429), expiry and garbage collection. */
class GatewayLifecycleIT {
    @Test
    void tagsMoveAfterTheirAgeUsersAreLimitedAndExpiryAndGcCleanUp() throws Exception {
        Path work = Files.createTempDirectory("skiff-gatewaylife");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (RegistryFixture registry = RegistryFixture.plain(work.resolve("registry"))) {
            registry.push(GatewayIT.randomImage(work.resolve("x"), "latest", 1, 30_000, 31).skopeoRef(), "test/t:1");
            registry.push(GatewayIT.randomImage(work.resolve("big"), "latest", 2, 4 << 20, 32).skopeoRef(), "test/slow:1");
            registry.push(GatewayIT.randomImage(work.resolve("z"), "latest", 1, 30_000, 33).skopeoRef(), "test/other:1");
            String ref = registry.host() + "/test/t:1";
            Path config = work.resolve("gateway.toml");
            Files.writeString(config, "shared = \"" + work.resolve("shared") + "\"\ntag_max_age_s = 2\nmax_active_per_user = 1\nworkers = 1\n");
            try (GatewayFixture gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"), "--config", config.toString())) {
                String d1 = gw.await(gw.pull(ref).json().get("id").asText()).get("digest").asText();
                registry.push(GatewayIT.randomImage(work.resolve("y"), "latest", 1, 30_000, 34).skopeoRef(), "test/t:1");
                // Within its age the tag keeps its digest, with no pull...
                GatewayFixture.Reply again = gw.pull(ref);
                assertEquals(200, again.status(), again.body());
                assertEquals(d1, again.json().get("digest").asText());
                // ... after it, the registry is asked again and the tag moves.
                Thread.sleep(2200);
                String d2 = gw.await(gw.pull(ref).json().get("id").asText()).get("digest").asText();
                assertNotEquals(d1, d2);
                assertTrue(Files.readString(gw.shared.resolve("images/index.tsv")).contains(ref + "\tlinux/amd64\t" + d2));

                // One pull in progress per user here: a second distinct one is 429; joining the first is not.
                String slow = gw.pull(registry.host() + "/test/slow:1").json().get("id").asText();
                GatewayFixture.Reply limited = gw.pull(registry.host() + "/test/other:1");
                assertEquals(429, limited.status(), limited.body());
                assertEquals("too_many_requests", limited.json().get("code").asText());
                assertEquals(slow, gw.pull(registry.host() + "/test/slow:1").json().get("id").asText());
                gw.await(slow);

                // Expiry: everything unused for 0 s goes, files and names.
                JsonNode expired = gw.call("POST", "/api/v1/admin/expire", "{\"unused_for_s\":0}").json();
                assertTrue(expired.get("expired").toString().contains(d2), expired.toString());
                assertFalse(Files.exists(gw.shared.resolve("images/" + d2.replace(':', '-') + ".sqfs")));
                assertEquals("# skiff gateway index 1", Files.readString(gw.shared.resolve("images/index.tsv")).strip());
                assertEquals(404, gw.get("/api/v1/images/lookup?name=" + ref).status());

                // GC: a file no record names and an old temporary go; a fresh temporary (a conversion running) stays.
                Path images = gw.shared.resolve("images");
                Path stray = Files.writeString(images.resolve("sha256-" + "0".repeat(64) + ".sqfs"), "x");
                Path oldTmp = Files.writeString(images.resolve(".tmp-old"), "x");
                Files.setLastModifiedTime(oldTmp, FileTime.from(Instant.now().minusSeconds(7200)));
                Path newTmp = Files.writeString(images.resolve(".tmp-new"), "x");
                JsonNode gc = gw.call("POST", "/api/v1/admin/gc", null).json();
                assertFalse(Files.exists(stray), gc.toString());
                assertFalse(Files.exists(oldTmp), gc.toString());
                assertTrue(Files.exists(newTmp), gc.toString());
                assertTrue(Files.exists(images.resolve("index.tsv")));
            }
        }
    }
}
