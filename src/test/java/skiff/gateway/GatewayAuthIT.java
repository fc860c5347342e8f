package skiff.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import skiff.testing.Cmd;
import skiff.testing.RegistryFixture;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A gateway with auth = "munge" (Debian's munged, ci/munge.sh): missing, expired, replayed and forged credentials,
 * owners and admins, and a private image another user cannot read, on the file system and through the API.
 */
class GatewayAuthIT {
    static Path work;
    static RegistryFixture registry;
    static GatewayFixture gw;

    @BeforeAll
    static void start() throws Exception {
        Cmd.of("bash", Cmd.skiffBin().getParent().getParent().resolve("ci/munge.sh").toString()).run().ok();
        work = Files.createTempDirectory(Path.of("/tmp"), "skiff-gatewayauth");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        registry = RegistryFixture.plain(work.resolve("registry"));
        int i = 0;
        for (String repo : new String[] {"test/pub:1", "test/priv:1", "test/mine:1", "test/grp:1"})
            registry.push(GatewayIT.randomImage(work.resolve("img" + i), "latest", 1, 40_000, 20 + i++).skopeoRef(), repo);
        Path config = work.resolve("gateway.toml");
        Files.writeString(config, "shared = \"" + work.resolve("shared") + "\"\nauth = \"munge\"\nadmins = [\"root\"]\n");
        gw = GatewayFixture.start(work.resolve("shared"), work.resolve("home"), "--config", config.toString());
    }

    @AfterAll
    static void stop() throws Exception {
        if (gw != null) gw.close();
        if (registry != null) registry.close();
    }

    static String cred(String user, String... mungeArgs) {
        java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("runuser", "-u", user, "--", "munge", "-n"));
        a.addAll(java.util.List.of(mungeArgs));
        return Cmd.of(a).run().ok().out().strip();
    }

    static String ref(String repoTag) {
        return registry.host() + "/" + repoTag;
    }

    static String body(String ref) {
        return "{\"reference\":\"" + ref + "\"}";
    }

    static void assertError(GatewayFixture.Reply r, int status, String code, String says) {
        assertEquals(status, r.status(), r.toString());
        assertEquals(code, r.json().get("code").asText(), r.toString());
        assertTrue(r.json().get("message").asText().contains(says), r.toString());
    }

    @Test
    void missingExpiredReplayedAndForgedCredentialsAre401AndSaySo() throws Exception {
        assertError(gw.call("POST", "/api/v1/pulls", body(ref("test/pub:1")), null), 401, "credential_missing", "munge credential");
        assertError(gw.call("POST", "/api/v1/pulls", body(ref("test/pub:1")), "MUNGE:forged"), 401, "credential_invalid", "refused");
        String once = cred(Cmd.TEST_USER);
        assertNotEquals(401, gw.call("POST", "/api/v1/pulls", body(ref("test/pub:1")), once).status());
        assertError(gw.call("POST", "/api/v1/pulls", body(ref("test/pub:1")), once), 401, "credential_replayed", "already used");
        String shortLived = cred(Cmd.TEST_USER, "-t", "1");
        Thread.sleep(2500);
        assertError(gw.call("POST", "/api/v1/pulls", body(ref("test/pub:1")), shortLived), 401, "credential_expired", "expired");
        // Once public, it cannot be made private by another request: one file, one set of permissions.
        gw.await(gw.call("POST", "/api/v1/pulls", body(ref("test/pub:1")), cred(Cmd.TEST_USER)).json().get("id").asText());
        GatewayFixture.Reply conflict = gw.call("POST", "/api/v1/pulls", "{\"reference\":\"" + ref("test/pub:1")
                + "\",\"allowed_users\":[\"nobody\"]}", cred(Cmd.TEST_USER));
        assertError(conflict, 409, "access_conflict", "already published for everyone");
        // Read-only routes answer without a credential (public images only).
        assertEquals(200, gw.call("GET", "/api/v1/images", null, null).status());
    }

    @Test
    void aGroupLimitedImageIsReadableByTheGroupOnly() throws Exception {
        // root (an admin) publishes for the group nogroup: nobody is in it, daemon is not.
        JsonNode r = gw.await(gw.call("POST", "/api/v1/pulls", "{\"reference\":\"" + ref("test/grp:1")
                + "\",\"allowed_groups\":[\"nogroup\"]}", cred("root")).json().get("id").asText());
        assertEquals("READY", r.get("state").asText(), r.toString());
        String digest = r.get("digest").asText();
        Path sqfs = gw.shared.resolve("images/" + digest.replace(':', '-') + ".sqfs");
        assertTrue(Cmd.of("getfacl", "-p", sqfs.toString()).run().ok().out().contains("group:nogroup:r--"));
        assertEquals(0, Cmd.of("runuser", "-u", "nobody", "--", "head", "-c", "4", sqfs.toString()).run().exit());
        assertNotEquals(0, Cmd.of("runuser", "-u", "daemon", "--", "head", "-c", "4", sqfs.toString()).run().exit());
        assertEquals(200, gw.call("GET", "/api/v1/images/" + digest, null, cred("nobody")).status());
        assertEquals(404, gw.call("GET", "/api/v1/images/" + digest, null, cred("daemon")).status());
    }

    @Test
    void theOwnerOrAnAdminDeletesOthersAreRefused() throws Exception {
        JsonNode r = gw.await(gw.call("POST", "/api/v1/pulls", body(ref("test/mine:1")), cred(Cmd.TEST_USER)).json().get("id").asText());
        assertEquals("READY", r.get("state").asText(), r.toString());
        assertEquals(Cmd.TEST_USER, r.get("owner").asText());
        String digest = r.get("digest").asText();
        assertError(gw.call("DELETE", "/api/v1/images/" + digest, null, cred("nobody")), 403, "forbidden", "only its owner");
        assertError(gw.call("POST", "/api/v1/admin/gc", null, cred(Cmd.TEST_USER)), 403, "forbidden", "not an administrator");
        assertEquals(200, gw.call("POST", "/api/v1/admin/gc", null, cred("root")).status());
        JsonNode mine = gw.call("GET", "/api/v1/images?mine=true", null, cred(Cmd.TEST_USER)).json();
        assertTrue(mine.toString().contains(digest));
        assertFalse(gw.call("GET", "/api/v1/images?mine=true", null, cred("nobody")).json().toString().contains(digest));
        assertEquals(200, gw.call("DELETE", "/api/v1/images/" + digest, null, cred(Cmd.TEST_USER)).status());
    }

    @Test
    void aPrivateImageIsUnreadableByOtherUsersOnTheFileSystemAndThroughTheApi() throws Exception {
        // skiff pull --allow-user as the test user: the client makes the munge credential itself.
        Path cfg = Files.createDirectories(work.resolve("cfg"));
        Cmd.Result pulled = Cmd.skiff(work.resolve("storage"), "pull", "-q", "--gateway", gw.url(), "--allow-user", "root",
                ref("test/priv:1")).env("XDG_CONFIG_HOME", cfg.toString()).asTestUser().dir(Path.of("/")).run().ok();
        String digest = pulled.out().strip();
        Path sqfs = gw.shared.resolve("images/" + digest.replace(':', '-') + ".sqfs");
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sqfs)), "ACL mask r, others nothing");
        String acl = Cmd.of("getfacl", "-p", sqfs.toString()).run().ok().out();
        assertTrue(acl.contains("user:" + Cmd.TEST_USER + ":r--") && acl.contains("other::---"), acl);
        assertEquals(0, Cmd.of("runuser", "-u", Cmd.TEST_USER, "--", "head", "-c", "4", sqfs.toString()).run().exit());
        Cmd.Result denied = Cmd.of("runuser", "-u", "nobody", "--", "head", "-c", "4", sqfs.toString()).run();
        assertNotEquals(0, denied.exit());
        assertTrue(denied.err().contains("Permission denied"), denied.err());
        assertNotEquals(0, Cmd.of("runuser", "-u", "nobody", "--", "test", "-r",
                sqfs.resolveSibling(digest.replace(':', '-') + ".config.json").toString()).run().exit(), "the config is private too");

        assertEquals(200, gw.call("GET", "/api/v1/images/" + digest, null, cred(Cmd.TEST_USER)).status());
        assertEquals(404, gw.call("GET", "/api/v1/images/" + digest, null, cred("nobody")).status());
        assertEquals(404, gw.call("GET", "/api/v1/images/" + digest, null, null).status());
        assertEquals(404, gw.call("GET", "/api/v1/images/lookup?name=" + ref("test/priv:1"), null, cred("nobody")).status());
        assertFalse(gw.call("GET", "/api/v1/images", null, cred("nobody")).body().contains(digest));
        assertTrue(gw.call("GET", "/api/v1/images", null, cred("root")).body().contains(digest), "admins see everything");
        // skiff run of it as another user, whose node finds the name in the index: one clear line, exit 3.
        Path nobody = Files.createDirectories(work.resolve("nobody/config/skiff"));
        Files.writeString(nobody.resolve("config.toml"), "[gateway]\nshared = \"" + gw.shared + "\"\n");
        Cmd.of("chown", "-R", "nobody:", work.resolve("nobody").toString()).run().ok();
        Cmd.Result run = Cmd.of("runuser", "-u", "nobody", "--", "env", "HOME=" + work.resolve("nobody"),
                "XDG_CONFIG_HOME=" + work.resolve("nobody/config"), Cmd.skiffBin().toString(), "--storage",
                work.resolve("nobody/storage").toString(), "run", "--rm", ref("test/priv:1"), "true").dir(Path.of("/")).run();
        assertEquals(3, run.exit(), run.toString());
        assertTrue(run.err().strip().lines().count() == 1 && run.err().contains("published by the gateway, but you may not read it"), run.err());
        // Another user asking for the same image is told it is private, not given a file they cannot read.
        GatewayFixture.Reply other = gw.call("POST", "/api/v1/pulls", body(ref("test/priv:1")), cred("nobody"));
        assertError(other, 403, "forbidden", "published privately by another user");
    }
}
