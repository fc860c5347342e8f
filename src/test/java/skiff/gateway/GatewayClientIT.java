package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;
import skiff.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CLI side: 'skiff pull --gateway' (progress, the digest, fail-over, errors), 'skiff images --gateway', [gateway]
 * url in config.toml, and 'skiff run' of a published image by a user whose store never held it.
 */
class GatewayClientIT {
    static Path work;
    static RegistryFixture registry;
    static GatewayFixture gw;
    static String ref;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory(Path.of("/tmp"), "skiff-gatewayclient");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry = RegistryFixture.plain(work.resolve("registry"));
        Path tree = ImageBuilder.busyboxTree(work.resolve("tree"));
        Files.writeString(tree.resolve("hello"), "hello from the gateway\n");
        ImageBuilder b = ImageBuilder.create(work.resolve("img"), "latest").layerFromDir(tree).config("--config.cmd", "/bin/sh");
        registry.push(b.skopeoRef(), "test/busybox:1");
        ref = registry.host() + "/test/busybox:1";
        gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) gw.close();
        if (registry != null) registry.close();
    }

    /** bin/skiff as the test user, with an empty store and a config.toml of {@code config} (may be empty). */
    static Cmd skiff(String name, String config, String... args) throws Exception {
        Path base = Files.createDirectories(work.resolve("user-" + name));
        Path cfg = Files.createDirectories(base.resolve("config/skiff"));
        Files.writeString(cfg.resolve("config.toml"), config);
        Path xdg = Files.createDirectories(base.resolve("xdg"));
        Cmd.of("chown", "-R", Cmd.TEST_USER + ":", base.toString()).run().ok();
        Cmd.of("chmod", "700", xdg.toString()).run().ok();
        return Cmd.skiff(base.resolve("storage"), args).env("XDG_CONFIG_HOME", base.resolve("config").toString())
                .env("XDG_RUNTIME_DIR", xdg.toString()).env("SKIFF_MOUNT_IDLE", "1").asTestUser().dir(Path.of("/"));
    }

    @Test
    void pullThroughTheGatewayPrintsTheDigestThenRunsOnANodeThatNeverPulledIt() throws Exception {
        Cmd.Result quiet = skiff("q", "", "pull", "-q", "--gateway", gw.url(), ref).run().ok();
        String digest = quiet.out().strip();
        assertTrue(digest.matches("sha256:[0-9a-f]{64}"), quiet.toString());
        Cmd.Result loud = skiff("l", "", "pull", "--gateway", gw.url(), ref).run().ok();
        assertTrue(loud.out().startsWith("Published " + ref + " as " + digest), loud.out());
        assertTrue(loud.err().contains(ref + ": READY"), loud.err());

        // A compute node: an empty store, [gateway] shared in config.toml; the run reads the published file.
        Cmd.Result run = skiff("node", "[gateway]\nshared = \"" + gw.shared + "\"\n", "run", "--rm", ref, "cat", "/hello").run();
        assertEquals(0, run.exit(), run.toString());
        assertEquals("hello from the gateway", run.out().strip());
        Path storage = work.resolve("user-node/storage");
        try (Stream<Path> s = Files.exists(storage) ? Files.walk(storage) : Stream.empty()) {
            assertEquals(0, s.filter(p -> p.toString().endsWith(".sqfs") || p.toString().contains("/blobs/sha256/")).count(),
                    "nothing was pulled or converted on the node");
        }
        // No run record for a gateway image: bin/skiff's warm check cannot see the gateway move the tag, so
        // every run resolves the name in the shared index again.
        if (Files.exists(storage.resolve("run-records")))
            try (Stream<Path> records = Files.list(storage.resolve("run-records"))) {
                assertEquals(List.of(), records.toList(), "a run record was written for a gateway image");
            }
        Path node = work.resolve("user-node");
        Cmd.Result again = Cmd.skiff(storage, "run", "--rm", ref, "cat", "/hello").env("XDG_CONFIG_HOME", node.resolve("config").toString())
                .env("XDG_RUNTIME_DIR", node.resolve("xdg").toString()).env("SKIFF_MOUNT_IDLE", "1").asTestUser().dir(Path.of("/")).run();
        assertEquals(0, again.exit(), again.toString());
        // Without [gateway] shared the name is unknown, as before.
        Cmd.Result none = skiff("none", "", "run", "--rm", ref, "true").run();
        assertEquals(3, none.exit(), none.toString());
    }

    @Test
    void severalGatewaysFailOverInOrderAndConfigTomlNamesThem() throws Exception {
        String dead = "http://127.0.0.1:" + RegistryFixture.freePort();
        Cmd.Result r = skiff("fo", "", "pull", "-q", "--gateway", dead + "," + gw.url(), ref).run().ok();
        assertTrue(r.out().strip().startsWith("sha256:"), r.toString());
        Cmd.Result cfg = skiff("cfg", "[gateway]\nurl = \"" + dead + ", " + gw.url() + "\"\n", "pull", "-q", ref).run().ok();
        assertEquals(r.out(), cfg.out());
        Cmd.Result down = skiff("down", "", "pull", "--gateway", dead, ref).run();
        assertEquals(4, down.exit(), down.toString());
        assertTrue(down.err().startsWith("skiff: no gateway answered: " + dead) && down.err().strip().lines().count() == 1, down.err());
    }

    @Test
    void aFailedPullIsOneLineWithTheGatewaysReasonAndABadReferenceIsAUsageError() throws Exception {
        Cmd.Result missing = skiff("m", "", "pull", "--gateway", gw.url(), registry.host() + "/test/nothing:1").run();
        assertEquals(3, missing.exit(), missing.toString());
        String last = missing.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("skiff: gateway " + gw.url() + " (image_error): the pull of ") && last.contains("test/nothing"), missing.err());
    }

    @Test
    void imagesListsTheGatewaysImages() throws Exception {
        String digest = skiff("i", "", "pull", "-q", "--gateway", gw.url(), ref).run().ok().out().strip();
        Cmd.Result table = skiff("i", "", "images", "--gateway", gw.url()).run().ok();
        assertTrue(table.out().lines().findFirst().orElse("").matches("NAME +DIGEST +SIZE +STATUS +OWNER +LAST USED"), table.out());
        assertTrue(table.out().lines().anyMatch(l -> l.startsWith(registry.host() + "/test/busybox:1 ")
                && l.contains(digest.substring(7, 19)) && l.contains(" READY ") && l.contains(" root ")), table.out());
        JsonNode json = Json.MAPPER.readTree(skiff("i", "", "images", "--gateway", gw.url(), "--format", "json").run().ok().out());
        assertTrue(json.toString().contains(digest), json.toString());
        Cmd.Result viaConfig = skiff("ic", "[gateway]\nurl = \"" + gw.url() + "\"\n", "images", "--gateway", "-q").run().ok();
        assertTrue(viaConfig.out().contains(digest), viaConfig.out());
        // Without munge (auth = "none") every caller is the gateway's own user, root here, who requested it.
        assertTrue(skiff("ic", "", "images", "--gateway", gw.url(), "--mine", "-q").run().ok().out().contains(digest));
    }
}
