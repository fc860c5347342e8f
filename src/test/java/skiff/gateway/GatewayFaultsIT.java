package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The gateway killed mid-conversion, a full shared directory, an image over the size limit. */
class GatewayFaultsIT {
    static Path work;
    static RegistryFixture registry;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("skiff-gatewayfaults");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry = RegistryFixture.plain(work.resolve("registry"));
        // Incompressible: converting 48 MB takes long enough to be killed in the middle.
        ImageBuilder big = GatewayIT.randomImage(work.resolve("big"), "latest", 3, 16 << 20, 7);
        registry.push(big.skopeoRef(), "test/big:1");
        ImageBuilder mid = GatewayIT.randomImage(work.resolve("mid"), "latest", 2, 3 << 20, 8);
        registry.push(mid.skopeoRef(), "test/mid:1");
    }

    @AfterAll
    static void stop() {
        if (registry != null) registry.close();
    }

    static String ref(String repoTag) {
        return registry.host() + "/" + repoTag;
    }

    @Test
    void killedMidConversionTheGatewayPublishesNoHalfFileAndResumesAfterARestart() throws Exception {
        Path shared = work.resolve("shared-kill");
        Path images = shared.resolve("images");
        String id;
        GatewayFixture gw = GatewayFixture.start(shared, work.resolve("home-kill"));
        try {
            id = gw.pull(ref("test/big:1")).json().get("id").asText();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            String state = "";
            while (!state.equals("CONVERTING") && System.nanoTime() < end) {
                state = gw.get("/api/v1/pulls/" + id).json().get("state").asText();
                assertFalse(state.equals("READY") || state.equals("FAILED") || state.equals("PUBLISHING"), "too late to kill: " + state);
                Thread.sleep(5);
            }
            assertEquals("CONVERTING", state);
        } finally {
            gw.kill();
        }
        try (var s = Files.list(images)) {
            assertEquals(0, s.filter(p -> p.toString().endsWith(".sqfs") && !p.getFileName().toString().startsWith(".tmp-")).count(),
                    "a killed conversion published a file");
        }
        assertEquals("# skiff gateway index 1", Files.readString(images.resolve("index.tsv")).strip());

        try (GatewayFixture again = GatewayFixture.start(shared, work.resolve("home-kill"))) {
            JsonNode r = again.await(id);
            assertEquals("READY", r.get("state").asText(), r.toString());
            String log = again.get("/api/v1/pulls/" + id + "/log").body();
            assertTrue(log.contains("gateway restarted while the request was CONVERTING: queued again"), log);
            assertEquals(0, GatewayIT.temporaries(images).size(), "temporaries of the killed gateway are removed");
            Path sqfs = images.resolve(r.get("digest").asText().replace(':', '-') + ".sqfs");
            assertTrue(Cmd.of("unsquashfs", "-l", sqfs.toString()).run().ok().out().contains("file2"));
        }
    }

    @Test
    void aFullSharedDirectoryFailsTheRequestPublishesNothingAndAnswers507() throws Exception {
        Path shared = work.resolve("shared-full");
        Path images = Files.createDirectories(shared.resolve("images"));
        Cmd.of("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", images.toString()).run().ok();
        Path config = work.resolve("full.toml");
        Files.writeString(config, "shared = \"" + shared + "\"\nmin_free_bytes = 1048576\nmax_image_bytes = 20000000\n");
        try (GatewayFixture gw = GatewayFixture.start(shared, work.resolve("home-full"), "--config", config.toString())) {
            // 6 MB of incompressible layers into a 3 MB file system: the conversion runs out of space.
            JsonNode r = gw.await(gw.pull(ref("test/mid:1")).json().get("id").asText());
            assertEquals("FAILED", r.get("state").asText(), r.toString());
            assertEquals("insufficient_storage", r.get("reason").get("code").asText(), r.toString());
            assertTrue(r.get("reason").get("message").asText().contains("nothing was published"), r.toString());
            try (var s = Files.list(images)) {
                assertEquals(java.util.List.of("index.tsv"), s.map(p -> p.getFileName().toString()).toList());
            }
            // Over the size limit: refused before anything is downloaded.
            JsonNode big = gw.await(gw.pull(ref("test/big:1")).json().get("id").asText());
            assertEquals("image_too_large", big.get("reason").get("code").asText(), big.toString());
            assertTrue(big.get("progress").get("bytes_done").asLong() < 1 << 20, big.toString());
            // Below the free space the gateway keeps: 507 at once.
            Files.write(images.resolve("filler"), new byte[(int) (2.5 * (1 << 20))]);
            GatewayFixture.Reply full = gw.pull(ref("test/mid:1"));
            assertEquals(507, full.status(), full.body());
            assertEquals("insufficient_storage", full.json().get("code").asText());
        } finally {
            Cmd.of("umount", images.toString()).run();
        }
    }
}
