package skiff.registry;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import skiff.store.Store;
import skiff.testing.Cmd;
import skiff.testing.ImageBuilder;
import skiff.testing.RegistryFixture;
import skiff.testing.RegistryTokenIssuer;
import skiff.util.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static skiff.registry.RegistryTestSupport.assertBlobsVerify;
import static skiff.registry.RegistryTestSupport.skopeoInspect;

/** login/logout and authenticated pulls against real registries: htpasswd Basic auth, and token auth. */
class AuthIT {
    static final String USER = "alice";
    static final String PASSWORD = "s3cret-pw";
    static Path work;
    static RegistryFixture basic;
    static RegistryTokenIssuer issuer;
    static RegistryFixture token;

    @TempDir
    Path tmp;
    Path storage;
    Path home;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("skiff-authit");
        ImageBuilder img = RegistryTestSupport.randomImage(work.resolve("img"), "latest", 3, 50_000, 7);
        basic = RegistryFixture.htpasswd(work.resolve("basic"), USER, PASSWORD);
        basic.push(img.skopeoRef(), "private/img:1");
        issuer = new RegistryTokenIssuer(work.resolve("issuer"), USER, PASSWORD);
        token = RegistryFixture.token(work.resolve("token"), issuer, USER, PASSWORD);
        token.push(img.skopeoRef(), "private/img:1");
    }

    @AfterAll
    static void stop() {
        if (basic != null) basic.close();
        if (token != null) token.close();
        if (issuer != null) issuer.close();
    }

    @BeforeEach
    void fresh() {
        storage = tmp.resolve("storage");
        home = tmp.resolve("home");
        issuer.requests().clear();
    }

    Cmd.Result skiff(String... args) {
        return RegistryTestSupport.skiff(storage, home, args).run();
    }

    Cmd.Result login(String registry, String password) {
        return RegistryTestSupport.skiff(storage, home, "login", "-u", USER, "--password-stdin", registry)
                .stdin((password + "\n").getBytes(StandardCharsets.UTF_8)).run();
    }

    Path authFile() {
        return home.resolve(".config/skiff/auth.json");
    }

    @Test
    void basicAuthLoginPullLogout() throws Exception {
        String name = basic.host() + "/private/img:1";
        var anon = skiff("pull", name);
        assertEquals(4, anon.exit(), anon.toString());
        assertTrue(anon.err().contains("skiff login " + basic.host()), anon.err());

        var wrong = login(basic.host(), "wrong");
        assertEquals(4, wrong.exit(), wrong.toString());
        assertTrue(wrong.err().contains("alice"), wrong.err());
        assertFalse(Files.exists(authFile()), "wrong credentials are not saved");

        login(basic.host(), PASSWORD).ok();
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(authFile())));
        JsonNode auths = Json.MAPPER.readTree(authFile().toFile()).get("auths");
        assertEquals(Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes()), auths.get(basic.host()).get("auth").asText());

        skiff("pull", name).ok();
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);

        var out = skiff("logout", basic.host()).ok();
        assertTrue(out.out().contains("Removed"), out.out());
        assertFalse(Json.MAPPER.readTree(authFile().toFile()).get("auths").has(basic.host()));
        Store.open(storage).untag(name);
        assertEquals(4, skiff("pull", name).exit());
    }

    @Test
    void credentialsFromDockerConfig() throws Exception {
        String name = basic.host() + "/private/img:1";
        Path docker = Files.createDirectories(home.resolve(".docker")).resolve("config.json");
        String auth = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes());
        Files.writeString(docker, "{\"auths\":{\"http://" + basic.host() + "\":{\"auth\":\"" + auth + "\"}},\"credsStore\":\"\"}");
        skiff("pull", name).ok();
        skopeoInspect(storage, name);

        String bad = Base64.getEncoder().encodeToString((USER + ":nope").getBytes());
        Files.writeString(docker, "{\"auths\":{\"" + basic.host() + "\":{\"auth\":\"" + bad + "\"}}}");
        Store.open(storage).untag(name);
        var r = skiff("pull", name);
        assertEquals(4, r.exit(), r.toString());
        assertTrue(r.err().contains("authentication"), r.err());
    }

    @Test
    void loginAsksForUserAndPasswordOnATerminal() throws Exception {
        // script(1) runs skiff on a pseudo-terminal and types what it reads from its own stdin. (Whether the
        // password is echoed cannot be checked this way: the terminal echoes type-ahead before skiff asks.)
        var r = Cmd.of("script", "-qec", Cmd.skiffBin() + " login " + basic.host(), "/dev/null")
                .env("SKIFF_STORAGE", storage.toString()).env("HOME", home.toString())
                .env("XDG_CONFIG_HOME", home.resolve(".config").toString())
                .stdin((USER + "\n" + PASSWORD + "\n").getBytes(StandardCharsets.UTF_8)).run();
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("Username:") && r.out().contains("Password:"), r.out());
        assertTrue(r.out().contains("Login Succeeded"), r.out());
        assertTrue(Json.MAPPER.readTree(authFile().toFile()).get("auths").has(basic.host()));
    }

    @Test
    void loginNeedsAPasswordSource() {
        var r = RegistryTestSupport.skiff(storage, home, "login", "-u", USER, basic.host()).run();
        assertEquals(2, r.exit(), r.toString());
        assertTrue(r.err().contains("--password-stdin"), r.err());
    }

    @Test
    void tokenAuthLoginAndPullCachesTheToken() throws Exception {
        String name = token.host() + "/private/img:1";
        var wrong = login(token.host(), "wrong");
        assertEquals(4, wrong.exit(), wrong.toString());
        assertFalse(Files.exists(authFile()));

        login(token.host(), PASSWORD).ok();
        issuer.requests().clear();
        skiff("pull", name).ok();
        assertBlobsVerify(storage);
        skopeoInspect(storage, name);
        var reqs = issuer.requests();
        assertTrue(reqs.stream().allMatch(q -> USER.equals(q.user()) && q.scopes().equals(java.util.List.of("repository:private/img:pull"))), reqs.toString());
        // One token for the repository, reused for the manifest and all four blobs (parallel threads may race once).
        assertTrue(reqs.size() >= 1 && reqs.size() <= 3, "token requests: " + reqs);
    }

    @Test
    void tokenAuthAnonymousIsDeniedWithAHint() {
        var r = skiff("pull", token.host() + "/private/img:1");
        assertEquals(3, r.exit(), r.toString());
        assertTrue(r.err().contains("skiff login " + token.host()), r.err());
    }
}
